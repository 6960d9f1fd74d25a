"""Matrix products for MatMul and Gemm.

Per row of the batch, for each broadcast matrix pair: out[p, :] accumulates
A[p, k] * B[k, :] over k, so the inner loop walks a row of B (the constant weight,
usually) and of the output contiguously. Sums accumulate in the output's type.
"""
from __future__ import annotations

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _strided


def _shape(v, is_a, node, shape=None):
    """The operand's full shape with None for the batch; vectors promoted to matrices."""
    shape = tuple(shape) if shape is not None else ((None,) + tuple(v.shape)) if v.batched else tuple(v.shape)
    if v.batched and (len(shape) == 1 or (len(shape) == 2 and not is_a)):
        raise UnsupportedError(f"{node.op_type} node {node.name!r} contracts over the batch axis: "
                               "generated code computes each row of a batch on its own")
    if len(shape) == 1:
        return ((1,) + shape) if is_a else (shape + (1,))
    if v.batched and len(shape) == 2:
        return (None, 1, shape[1])  # each row of the batch is one row of the product
    return shape


def _strides(shape):
    """Element strides within one row (the batch dim, and broadcast dims of size 1, get 0)."""
    st = _strided.strides_of([1 if d is None else d for d in shape])
    return [0 if d is None or d == 1 else s for d, s in zip(shape, st)]


def matmul(ctx, node, a, b, out, load_b=None, init=None, b_shape=None):
    """out = a @ b (numpy semantics); `init(r, o) -> expr` starts each sum (default 0).

    load_b(r, index) -> expr with b_shape replaces reading b (e.g. from a transposed table).
    """
    sa, sb = _shape(a, True, node), _shape(b, False, node, b_shape)
    (P, K), (K2, M) = sa[-2:], sb[-2:]
    if K != K2:
        raise UnsupportedError(f"{node.op_type} node {node.name!r}: inner dimensions {K} and {K2} differ")
    load_a = a.at
    load_b = load_b or b.at
    ba, bb = sa[:-2], sb[:-2]
    rank = max(len(ba), len(bb))
    ba, bb = (1,) * (rank - len(ba)) + ba, (1,) * (rank - len(bb)) + bb
    bc = tuple(None if None in (x, y) else max(x, y) for x, y in zip(ba, bb))
    if not bc or bc[0] is not None or None in bc[1:]:
        raise UnsupportedError(f"{node.op_type} node {node.name!r}: the batch must be the first axis of "
                               "the product")
    st_a, st_b = _strides(ba + (P, K))[:rank], _strides(bb + (K, M))[:rank]
    st_o = _strided.strides_of(tuple(1 if d is None else d for d in bc) + (P, M))[:rank]
    dims = [(bc[d], (st_a[d], st_b[d], st_o[d])) for d in range(1, rank)]
    acc_type = out.dtype

    def product(r, ao, bo, oo):
        def row_p(p):
            a_row = _strided.offset(ao, p, K)
            o_row = _strided.offset(oo, p, M)
            if M == 1:  # a dot product: keep the sum in a local
                s = ctx.var("s", acc_type)
                return [k.Let(s, init(r, o_row) if init else k.Const(0, acc_type)),
                        ctx.loop(K, lambda kk: k.Assign(s, s + load_a(r, _strided.offset(a_row, kk, 1))
                                                        * load_b(r, _strided.offset(bo, kk, 1))), "k"),
                        out.put(r, o_row, s)]
            av = ctx.var("a", acc_type)

            def o_at(m):
                return _strided.offset(o_row, m, 1)
            return [
                ctx.loop(M, lambda m: out.put(r, o_at(m), init(r, o_at(m)) if init else k.Const(0, acc_type)), "m"),
                ctx.loop(K, lambda kk: [
                    k.Let(av, load_a(r, _strided.offset(a_row, kk, 1))),
                    ctx.loop(M, lambda m: out.put(r, o_at(m), out.at(r, o_at(m)) + av * load_b(
                        r, _strided.offset(_strided.offset(bo, kk, M), m, 1))), "m")], "k"),
            ]
        return [ctx.loop(P, row_p, "p")] if P != 1 else row_p(k.Const(0, "idx"))

    return [ctx.rows(lambda r: _strided.nest(ctx, dims, lambda offs: product(r, *offs), (0, 0, 0)))]
