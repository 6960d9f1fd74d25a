"""Scaler: https://onnx.ai/onnx/operators/onnx_aionnxml_Scaler.html

y = (x - offset) * scale, per feature (offset and scale as long as a row) or one pair for all.
"""
import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    a = node.attrs
    scale = np.asarray(a.get("scale") or [], np.float32)
    offset = np.asarray(a.get("offset") or [], np.float32)
    # ONNX Runtime's stride is the second dimension of the input.
    stride = x.shape[0] if x.shape else None
    if scale.size == 0 or scale.size != offset.size or scale.size not in (1, stride):
        raise UnsupportedError(f"Scaler: scale and offset need 1 value or one per feature ({stride}), "
                               f"got {scale.size} and {offset.size}")
    sc = ctx.table("scale", scale, "f32")
    off = ctx.table("offset", offset, "f32")
    per = scale.size > 1
    f64 = lambda e: k.Cast(e, "f64")  # noqa: E731

    def value(r, i):
        j = k.Bin("%", i, k.Const(stride, "idx")) if per else k.Const(0, "idx")
        if per and x.size == stride:
            j = i
        return k.Cast((f64(x.at(r, i)) - f64(off[j])) * f64(sc[j]), out.dtype)
    return [ctx.elementwise(out, value)]
