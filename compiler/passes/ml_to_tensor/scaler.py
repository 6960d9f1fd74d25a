"""Scaler: https://onnx.ai/onnx/operators/onnx_aionnxml_Scaler.html

y = (x - offset) * scale per feature (one value per column, or one for all), output float32.
As ONNX Runtime (scaler.cc): a double input is computed in double, integers in float.
"""
from __future__ import annotations

import numpy as np

from ._builder import F32, Builder, attributes
from ...errors import UnsupportedError

OP = "Scaler"


def lower(b: Builder, node, ins, strategy: str) -> None:
    x = ins[0]
    a = attributes(node)
    scale = np.asarray(a.get("scale") or [], np.float32)
    offset = np.asarray(a.get("offset") or [], np.float32)
    # ONNX Runtime's stride: the second dimension (the first of a 1-D input)
    stride = x.shape[1] if len(x.shape) > 1 else x.shape[0]
    if scale.size == 0 or scale.size != offset.size or scale.size not in (1, stride):
        raise UnsupportedError(f"{OP}: scale and offset need 1 value or one per feature ({stride}), "
                               f"got {scale.size} and {offset.size}")
    if len(x.shape) > 2 and scale.size > 1:
        raise UnsupportedError(f"{OP} with per-feature values on a value of rank {len(x.shape)} is not supported")
    if x.dtype == np.float64:
        xs, dtype = x.name, np.float64
    else:
        xs, dtype = (x.name if x.dtype == np.float32 else b.cast(x.name, F32)), np.float32
    y = b.op("Mul", b.op("Sub", xs, b.const(offset.astype(dtype), hint="offset")),
             b.const(scale.astype(dtype), hint="scale"))
    if dtype == np.float64:
        b.cast(y, F32, out=node.output[0])
    else:
        b.op("Identity", y, out=node.output[0])
