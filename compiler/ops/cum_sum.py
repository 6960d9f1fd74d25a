"""CumSum: https://onnx.ai/onnx/operators/onnx__CumSum.html

Running sums along one row axis (a constant `axis` input), in element order (from the end with
reverse=1); with exclusive=1 each element gets the sum of those before it. The additions are
done one after the other, as ONNX Runtime does them.
"""
import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _reduce, _strided


def lower(ctx, node, ins, outs):
    x, axis_in = ins[0], ins[1]
    out = outs[0]
    if axis_in.value is None:
        raise UnsupportedError(f"CumSum node {node.name!r}: the axis must be a constant")
    axis = _reduce.row_axes(node, x, [int(np.asarray(axis_in.value).reshape(-1)[0])], "CumSum")[0]
    exclusive = bool(int(node.attrs.get("exclusive", 0)))
    reverse = bool(int(node.attrs.get("reverse", 0)))
    n = x.shape[axis]
    kept, _ = _strided.split_axes(x.shape, [axis])
    stride = _strided.strides_of(x.shape)[axis]
    # the output has the input's shape: both walk the same offsets
    dims = [(d, (s[0], s[0])) for d, s in kept]

    def per_slice(r, base, _):
        acc = ctx.var("acc", out.dtype)

        def step(j):
            at = _strided.offset(base, k.Const(n - 1, "idx") - j if reverse else j, stride)
            add = k.Assign(acc, acc + x.at(r, at))
            put = out.put(r, at, acc)
            return [put, add] if exclusive else [add, put]
        return [k.Let(acc, k.Const(0, out.dtype)), ctx.loop(n, step, "c")]

    return [ctx.rows(lambda r: _strided.nest(ctx, dims, lambda offs: per_slice(r, *offs), (0, 0)))]
