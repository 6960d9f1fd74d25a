"""Binarizer: https://onnx.ai/onnx/operators/onnx_aionnxml_Binarizer.html

1 where x > threshold, else 0, in the input's type (ONNX Runtime's binarizer.cc).
"""
from __future__ import annotations

import numpy as np

from ._builder import Builder, attributes
from ...errors import UnsupportedError

OP = "Binarizer"


def lower(b: Builder, node, ins, strategy: str) -> None:
    x = ins[0]
    if x.dtype not in (np.float32, np.float64):
        raise UnsupportedError(f"{OP} on {x.dtype} input is not supported (float, double)")
    t = b.const(np.asarray(np.float32(attributes(node).get("threshold", 0.0)), x.dtype))
    one, zero = b.const(np.asarray(1, x.dtype)), b.const(np.asarray(0, x.dtype))
    b.op("Where", b.op("Greater", x.name, t), one, zero, out=node.output[0])
