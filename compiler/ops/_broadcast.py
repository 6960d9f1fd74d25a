"""Numpy-style broadcasting of an op input against its output, for elementwise ops."""
from __future__ import annotations

from ..kernel import ast as k


def _full(v, rank):
    shape = ((None,) + tuple(v.shape)) if v.batched else tuple(v.shape)
    return (1,) * (rank - len(shape)) + shape


def loader(inp, out):
    """fn(r, i) -> the element of `inp` that broadcasts to element i of row r of `out`."""
    if inp.size == 1 and not inp.batched:
        return lambda r, i: inp.at(r, 0)
    if inp.batched and inp.size == out.size:
        return lambda r, i: inp.at(r, i)
    rank = 1 + len(out.shape)
    full = _full(inp, rank)
    if not inp.batched and full[0] not in (1,):
        raise ValueError("constant operand spans the batch dimension")
    row = full[1:]
    if not inp.batched and tuple(row) == tuple(out.shape):
        return lambda r, i: inp.at(r, i)
    if inp.size == 1:
        return lambda r, i: inp.at(r, 0)
    # General case: recover coordinates of i in out's row shape, restride for inp.
    ostr, acc = [], 1
    for d in reversed(out.shape):
        ostr.append(acc)
        acc *= d
    ostr.reverse()
    istr, acc = [], 1
    for d in reversed(row):
        istr.append(acc)
        acc *= d
    istr.reverse()

    def fn(r, i):
        idx = k.Const(0, "idx")
        for d, (od, idim) in enumerate(zip(out.shape, row)):
            if idim == 1:
                continue
            coord = i if ostr[d] == 1 else k.Bin("/", i, k.Const(ostr[d], "idx"))
            if d > 0:
                coord = k.Bin("%", coord, k.Const(od, "idx"))
            term = coord if istr[d] == 1 else k.Bin("*", coord, k.Const(istr[d], "idx"))
            idx = term if isinstance(idx, k.Const) else k.Bin("+", idx, term)
        return inp.at(r, idx)
    return fn


def binary(ctx, ins, outs, fn):
    """out = fn(a, b) elementwise with broadcasting; fn works on kernel expressions."""
    a, b = ins
    out = outs[0]
    la, lb = loader(a, out), loader(b, out)
    return [ctx.elementwise(out, lambda r, i: fn(la(r, i), lb(r, i)))]


def unary(ctx, ins, outs, fn):
    x, out = ins[0], outs[0]
    return [ctx.elementwise(out, lambda r, i: fn(x.at(r, i)))]


def fold(ctx, ins, outs, combine):
    """out = combine(...combine(x0, x1)..., xn) elementwise over any number of broadcasting inputs."""
    out = outs[0]
    loads = [loader(v, out) for v in ins if v is not None]

    def value(r, i):
        acc = loads[0](r, i)
        for load in loads[1:]:
            acc = combine(acc, load(r, i))
        return acc
    return [ctx.elementwise(out, value)]
