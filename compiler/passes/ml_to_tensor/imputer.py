"""Imputer: https://onnx.ai/onnx/operators/onnx_aionnxml_Imputer.html

Values equal to the replaced value (or NaN, when the replaced value is NaN) become the imputed
value of their feature (or the single imputed value), as ONNX Runtime's imputer.cc.
"""
from __future__ import annotations

import math

import numpy as np

from ._builder import Builder, attributes
from ...errors import UnsupportedError

OP = "Imputer"


def lower(b: Builder, node, ins, strategy: str) -> None:
    x = ins[0]
    a = attributes(node)
    floats = list(a.get("imputed_value_floats") or [])
    ints = list(a.get("imputed_value_int64s") or [])
    if x.dtype == np.float32 and floats:
        values, replaced = np.asarray(floats, np.float32), np.float32(a.get("replaced_value_float", 0.0))
    elif x.dtype == np.int64 and ints:
        values, replaced = np.asarray(ints, np.int64), np.int64(a.get("replaced_value_int64", 0))
    else:
        raise UnsupportedError(f"{OP} on {x.dtype} input with "
                               f"{'imputed_value_floats' if floats else 'imputed_value_int64s'} is not supported")
    stride = x.shape[-1] if len(x.shape) > 1 else 1
    if values.size not in (1, stride):
        raise UnsupportedError(f"{OP}: {values.size} imputed values for {stride} features")
    if x.dtype == np.float32 and math.isnan(replaced):
        hit = b.op("IsNaN", x.name)
    else:
        hit = b.op("Equal", x.name, b.const(replaced))
    b.op("Where", hit, b.const(values, hint="imputed"), x.name, out=node.output[0])
