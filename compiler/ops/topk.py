"""TopK: https://onnx.ai/onnx/operators/onnx__TopK.html

K is a constant: an input since opset 10, the `k` attribute before. Each slice is scanned once, keeping the best K so far in the outputs
in order (insertion: O(L * K) at worst, O(L) typically). Equal values keep the lower
index first, as ONNX Runtime orders them. With sorted=0 the order is unspecified; the
result is given sorted.
"""
import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _reduce, _strided


def lower(ctx, node, ins, outs):
    x, kv = ins[0], ins[1] if len(ins) > 1 else None
    values, indices = outs[0], outs[1] if len(outs) > 1 else None
    if kv is not None and kv.value is None:
        raise UnsupportedError(f"TopK node {node.name!r}: K must be a constant")
    kk = int(np.asarray(kv.value).reshape(-1)[0]) if kv is not None else int(node.attrs["k"])
    axis = _reduce.row_axes(node, x, [node.attrs.get("axis", -1)], "TopK")[0]
    largest = bool(int(node.attrs.get("largest", 1)))
    n = x.shape[axis]
    if not 0 <= kk <= n:
        raise UnsupportedError(f"TopK node {node.name!r}: K = {kk} is out of range for axis size {n}")
    if kk == 0:
        return []
    if values is None:
        raise UnsupportedError(f"TopK node {node.name!r}: the Values output is required")
    kept, _ = _strided.split_axes(x.shape, [axis])
    ost = _strided.strides_of(values.shape)
    # Kept dims walk the input and the outputs (identical shapes but for the axis).
    dims = [(d, (s[0], ost[a if a < axis else a + 1])) for a, (d, s) in enumerate(kept)]
    in_stride, out_stride = _strided.strides_of(x.shape)[axis], ost[axis]

    def better(a, b):
        return a > b if largest else a < b

    def per_slice(r, ib, ob):
        filled, pos, v = ctx.var("filled", "idx"), ctx.var("pos", "idx"), ctx.var("v", x.dtype)

        def at(j):
            return _strided.offset(ob, j, out_stride)

        def prev(j):
            return _strided.offset(ob, j - 1, out_stride)

        shift = [k.If(k.land(pos > 0, better(v, values.at(r, prev(pos)))), [
            values.put(r, at(pos), values.at(r, prev(pos))),
            *([indices.put(r, at(pos), indices.at(r, prev(pos)))] if indices is not None else []),
            k.Assign(pos, pos - 1)])]
        last = k.Const(kk - 1, "idx")
        return [
            k.Let(filled, k.Const(0, "idx")),
            ctx.loop(n, lambda j: [
                k.Let(v, x.at(r, _strided.offset(ib, j, in_stride))),
                k.If(k.lor(filled < kk, better(v, values.at(r, at(last)))), [
                    # Insert v: shift worse entries one place down, strictly better only,
                    # so that equal values stay in index order.
                    k.Let(pos, k.Select(filled < kk, filled, last)),
                    k.If(filled < kk, [k.Assign(filled, filled + 1)]),
                    ctx.loop(kk, lambda t: shift, "t"),
                    values.put(r, at(pos), v),
                    *([indices.put(r, at(pos), k.Cast(j, indices.dtype))] if indices is not None else []),
                ])], "l"),
        ]

    return [ctx.rows(lambda r: _strided.nest(ctx, dims, lambda offs: per_slice(r, *offs), (0, 0)))]
