"""Imputer: https://onnx.ai/onnx/operators/onnx_aionnxml_Imputer.html

Values equal to the replaced value (or NaN, when the replaced value is NaN) become the imputed
value of their feature (or the single imputed value), as ONNX Runtime's imputer.cc.
"""
import math

import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    a = node.attrs
    floats = a.get("imputed_value_floats") or []
    ints = a.get("imputed_value_int64s") or []
    if bool(floats) == bool(ints):
        raise UnsupportedError("Imputer needs exactly one of imputed_value_floats and imputed_value_int64s")
    if x.dtype in k.FLOATS and floats:
        values = ctx.table("imputed", np.asarray(floats, np.float32), "f32")
        replaced = float(np.float32(a.get("replaced_value_float", 0.0)))
    elif x.dtype == "i64" and ints:
        values = ctx.table("imputed", np.asarray(ints, np.int64), "i64")
        replaced = int(a.get("replaced_value_int64", 0))
    else:
        raise UnsupportedError(f"Imputer on {x.dtype} input with "
                               f"{'imputed_value_floats' if floats else 'imputed_value_int64s'} is not supported")
    n = len(floats or ints)
    stride = x.shape[0] if x.shape else None
    per = n == stride and n > 1

    def value(r, i):
        v = x.at(r, i)
        if isinstance(replaced, float) and math.isnan(replaced):
            hit = k.call("isnan", v)
        else:
            hit = k.eq(v, k.Const(replaced, v.dtype))
        j = (i if x.size == stride else k.Bin("%", i, k.Const(stride, "idx"))) if per else k.Const(0, "idx")
        fill = values[j] if values.dtype == v.dtype else k.Cast(values[j], v.dtype)
        return k.Select(hit, fill, v)
    return [ctx.elementwise(out, value)]
