"""Normalizer: https://onnx.ai/onnx/operators/onnx_aionnxml_Normalizer.html

As ONNX Runtime (normalizer.cc), per row in float32: MAX divides by the largest value (not the
largest magnitude; NaN left out), L1 by the sum of magnitudes, L2 gives sign(x) sqrt(x^2 / sum of squares);
a row whose divisor is 0 is copied unchanged.
"""
from __future__ import annotations

import numpy as np

from ._builder import F32, Builder, attributes
from ...errors import UnsupportedError

OP = "Normalizer"
NORMS = ("MAX", "L1", "L2")


def lower(b: Builder, node, ins, strategy: str) -> None:
    x = ins[0]
    norm = attributes(node).get("norm", "MAX")
    if norm not in NORMS:
        raise UnsupportedError(f"{OP} norm {norm} is not supported ({', '.join(NORMS)})")
    if len(x.shape) != 2:
        raise UnsupportedError(f"{OP} on a value of rank {len(x.shape)} is not supported (rank 2: rows of features)")
    xf = x.name if x.dtype == np.float32 else b.cast(x.name, F32)
    zero = b.const(np.float32(0.0))
    if norm == "MAX":
        # std::max(m, NaN) keeps m: NaN never becomes the row's maximum (ReduceMax would take it)
        lowest = b.const(np.float32(np.finfo(np.float32).min))
        d = b.reduce("ReduceMax", b.where(b.op("IsNaN", xf), lowest, xf), [1], keepdims=1)
        y = b.op("Div", xf, d)
    elif norm == "L1":
        d = b.reduce("ReduceSum", b.op("Abs", xf), [1], keepdims=1)
        y = b.op("Div", xf, d)
    else:
        # x * x is taken in the input's type, then converted (as ONNX Runtime does)
        sq = b.op("Mul", xf, xf) if x.dtype == np.float32 else b.cast(b.op("Mul", x.name, x.name), F32)
        d = b.reduce("ReduceSum", sq, [1], keepdims=1)
        mag = b.op("Sqrt", b.op("Div", sq, d))
        y = b.where(b.op("Less", xf, zero), b.op("Neg", mag), mag)
    b.op("Where", b.op("Equal", d, zero), xf, y, out=node.output[0])
