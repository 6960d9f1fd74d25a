"""Concat: https://onnx.ai/onnx/operators/onnx__Concat.html"""
import numpy as np

from ..errors import UnsupportedError


def lower(ctx, node, ins, outs):
    out = outs[0]
    rank = len(out.shape) + 1
    axis = node.attrs["axis"] % rank
    if axis == 0:
        raise UnsupportedError("Concat along the batch dimension is not supported")
    if not all(v.batched for v in ins):
        raise UnsupportedError("Concat of constant and batched values is not supported")
    # Split rows into (outer, axis, inner) blocks; each input fills its slice of the axis.
    outer = int(np.prod(out.shape[:axis - 1], dtype=np.int64))
    inner = int(np.prod(out.shape[axis:], dtype=np.int64))
    stmts, offset = [], 0
    for v in ins:
        width = v.shape[axis - 1] * inner
        def body(r, v=v, width=width, offset=offset):
            return [ctx.loop(outer, lambda o: [ctx.loop(width, lambda j: out.put(
                r, o * (out.shape[axis - 1] * inner) + offset + j, v.at(r, o * width + j)))])]
        stmts.append(ctx.rows(body))
        offset += width
    return stmts
