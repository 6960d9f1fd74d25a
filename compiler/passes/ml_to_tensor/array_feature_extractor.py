"""ArrayFeatureExtractor: https://onnx.ai/onnx/operators/onnx_aionnxml_ArrayFeatureExtractor.html

Selects elements of the last axis: Gather on it with the indices flattened (a 1-D input gives
shape [1, number of indices], as ONNX Runtime does). A constant string table (class labels
looked up by predicted index) becomes the indices themselves, recorded as standing for it.
"""
from __future__ import annotations

import numpy as np

from ._builder import I64, Builder
from ...errors import UnsupportedError

OP = "ArrayFeatureExtractor"


def lower(b: Builder, node, ins, strategy: str) -> None:
    x, idx = ins[0], ins[1]
    if idx is None or idx.dtype.kind not in "iu":
        raise UnsupportedError(f"{OP} needs integer indices")
    flat = b.op("Reshape", idx.name if idx.dtype == np.int64 else b.cast(idx.name, I64),
                b.const([-1], np.int64))
    out = node.output[0]
    if x.dtype == np.object_ and x.classes is None:
        if x.const is None or x.const.ndim != 1:
            raise UnsupportedError(f"{OP} on the string value {x.name!r} is not supported by the TVM targets "
                                   "(only a constant table of class labels is); use the cpp, java or onnx targets")
        b.unsqueeze(flat, [0], out=out)  # the table's own positions stand for its strings
        b.label_strings(out, [str(s) for s in x.const])
        return
    picked = b.op("Gather", x.name, flat, axis=len(x.shape) - 1)
    if len(x.shape) == 1:
        b.unsqueeze(picked, [0], out=out)
    else:
        b.op("Identity", picked, out=out)
    if x.classes is not None:
        b.label_strings(out, x.classes)
