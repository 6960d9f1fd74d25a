"""Reductions over non-batch axes: https://onnx.ai/onnx/operators/onnx__ReduceSum.html

Axes come from the `axes` attribute (ReduceSum before opset 13, the others before 18) or
from a constant second input (since then); both forms are accepted whatever the opset.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _strided


def row_axes(node, x, axes, what=None) -> list:
    """ONNX axes of a batched value -> sorted row-shape axes; the batch axis is refused."""
    rank = 1 + len(x.shape)
    out = set()
    for a in axes:
        a = int(a)
        if not -rank <= a < rank:
            raise UnsupportedError(f"{node.op_type} node {node.name!r}: axis {a} is out of range for rank {rank}")
        a %= rank
        if a == 0:
            raise UnsupportedError(
                f"{what or node.op_type} over the batch axis (axis 0) in node {node.name!r} is not supported: "
                "generated code computes each row of a batch on its own")
        out.add(a - 1)
    return sorted(out)


def reduce_axes(node, ins, x):
    """Row axes to reduce, or None for 'no reduction' (noop_with_empty_axes)."""
    axes = None
    if len(ins) > 1 and ins[1] is not None:
        if ins[1].value is None:
            raise UnsupportedError(f"{node.op_type} node {node.name!r}: axes must be a constant")
        axes = [int(a) for a in np.asarray(ins[1].value).reshape(-1)]
    elif "axes" in node.attrs:
        axes = [int(a) for a in node.attrs["axes"]]
    if not axes:
        if int(node.attrs.get("noop_with_empty_axes", 0)):
            return None
        axes = list(range(1 + len(x.shape)))  # every axis, the batch one included: refused below
    return row_axes(node, x, axes)


def lower(ctx, node, ins, outs, passes, finish):
    """Reduce ins[0] into outs[0].

    passes: [(init(dtype, first) -> expr, step(acc, x, earlier_accs) -> expr)], each a walk
    over the reduced elements (`first` is the first of them); finish(accs, count) -> the
    output value.
    """
    x, out = ins[0], outs[0]
    axes = reduce_axes(node, ins, x)
    if axes is None:
        return [ctx.elementwise(out, lambda r, i: x.at(r, i))]
    kept, reduced = _strided.split_axes(x.shape, axes)
    count = _strided.size([x.shape[a] for a in axes])
    if count == 0:
        raise UnsupportedError(f"{node.op_type} node {node.name!r} reduces an empty set: not supported")
    acc_type = out.dtype

    def per_output(r, ib, ob):
        stmts, accs = [], []
        for init, step in passes:
            acc = ctx.var("acc", acc_type)
            stmts.append(k.Let(acc, init(acc_type, x.at(r, ib))))
            done = tuple(accs)
            stmts += _strided.nest(ctx, reduced, lambda offs, acc=acc, step=step, done=done: [
                k.Assign(acc, step(acc, x.at(r, offs[0]), done))], (ib,), "k")
            accs.append(acc)
        stmts.append(out.put(r, ob, finish(tuple(accs), count)))
        return stmts

    return [ctx.rows(lambda r: _strided.nest(ctx, kept, lambda offs: per_output(r, *offs), (0, 0)))]


def zero(dtype, first=None):
    return k.Const(0, dtype)


def one(dtype, first=None):
    return k.Const(1, dtype)


def first(dtype, first):
    """The first reduced element (for idempotent steps: the walk visits it again)."""
    return first


def arg(ctx, node, ins, outs, better):
    """ArgMax/ArgMin: index of the first (or, with select_last_index, last) extreme value.

    better(v, best) -> a strict comparison; the last index needs the non-strict one,
    which `better` is asked for with `or_equal=True`.
    """
    x, out = ins[0], outs[0]
    axis = row_axes(node, x, [node.attrs.get("axis", 0)])[0]
    last = bool(int(node.attrs.get("select_last_index", 0)))
    kept, _ = _strided.split_axes(x.shape, [axis])
    n, stride = x.shape[axis], _strided.strides_of(x.shape)[axis]
    if n == 0:
        raise UnsupportedError(f"{node.op_type} node {node.name!r} over an empty axis is not supported")

    def per_output(r, ib, ob):
        best, at = ctx.var("best", x.dtype), ctx.var("at", "idx")
        return [k.Let(best, x.at(r, ib)), k.Let(at, k.Const(0, "idx")),
                ctx.loop(n, lambda j: [
                    k.If(better(x.at(r, _strided.offset(ib, j, stride)), best, last),
                         [k.Assign(best, x.at(r, _strided.offset(ib, j, stride))), k.Assign(at, j)])], "k"),
                out.put(r, ob, k.Cast(at, out.dtype))]

    return [ctx.rows(lambda r: _strided.nest(ctx, kept, lambda offs: per_output(r, *offs), (0, 0)))]
