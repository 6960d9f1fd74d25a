"""Softmax: https://onnx.ai/onnx/operators/onnx__Softmax.html

Since opset 13 it normalizes along one axis (default -1); before, over the input
flattened to 2-D at `axis` (default 1), i.e. over every axis from `axis` on.
Computed stably: exp(x - max) / sum, the sum accumulated in the input's type.
"""
from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _reduce, _strided


def _axes_v1(node, x):
    first = _reduce.row_axes(node, x, [node.attrs.get("axis", 1)], "Softmax")[0]
    return list(range(first, len(x.shape)))


def _axes_v13(node, x):
    return _reduce.row_axes(node, x, [node.attrs.get("axis", -1)], "Softmax")


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    if x.dtype not in k.FLOATS:
        raise UnsupportedError(f"Softmax node {node.name!r}: input type {x.dtype} is not supported")
    axes = (_axes_v13 if ctx.opset("") >= 13 else _axes_v1)(node, x)
    kept, reduced = _strided.split_axes(x.shape, axes)
    reduced = _strided.merge(reduced)  # the softmax axes are adjacent: one loop
    (n, (stride,)), = reduced or [(1, (1,))]

    def per_slice(r, ib):
        m, s = ctx.var("m", x.dtype), ctx.var("s", x.dtype)

        def at(j):
            return _strided.offset(ib, j, stride)
        return [
            k.Let(m, x.at(r, ib)),
            ctx.loop(n, lambda j: k.Assign(m, k.maximum(m, x.at(r, at(j)))), "k"),
            k.Let(s, k.Const(0, x.dtype)),
            ctx.loop(n, lambda j: [out.put(r, at(j), k.call("exp", x.at(r, at(j)) - m)),
                                   k.Assign(s, s + out.at(r, at(j)))], "k"),
            ctx.loop(n, lambda j: out.put(r, at(j), out.at(r, at(j)) / s), "k"),
        ]

    # Softmax keeps the shape: input and output offsets coincide.
    return [ctx.rows(lambda r: _strided.nest(ctx, kept, lambda offs: per_slice(r, offs[0]), (0, 0)))]
