"""FeatureVectorizer: https://onnx.ai/onnx/operators/onnx_aionnxml_FeatureVectorizer.html

The inputs' rows, each flattened, converted to float32 and cut or zero-padded to its
inputdimensions entry, side by side (ONNX Runtime's feature_vectorizer.cc).
"""
from __future__ import annotations

import numpy as np

from ._builder import F32, Builder, attributes
from ...errors import UnsupportedError

OP = "FeatureVectorizer"


def lower(b: Builder, node, ins, strategy: str) -> None:
    dims = [int(d) for d in attributes(node).get("inputdimensions") or []]
    if len(dims) != len(ins):
        raise UnsupportedError(f"{OP}: {len(ins)} inputs but {len(dims)} inputdimensions")
    parts = []
    for x, want in zip(ins, dims):
        if x.dtype == np.object_ or x.classes is not None:
            raise UnsupportedError(f"{OP} over the string value {x.name!r} is not supported")
        # A 1-D input is one row (ONNX Runtime's reading); others are [N, ...] rows.
        rows = b.op("Reshape", x.name, b.const([1, -1] if len(x.shape) == 1 else [-1, x.width], np.int64))
        width = x.shape[0] if len(x.shape) == 1 else x.width
        rows = rows if x.dtype == np.float32 else b.cast(rows, F32)
        if width > want:
            rows = b.columns(rows, 0, want)
        elif width < want:
            rows = b.op("Concat", rows, b.zeros_rows(rows, want - width), axis=1)
        parts.append(rows)
    if len(parts) == 1:
        b.op("Identity", parts[0], out=node.output[0])
    else:
        b.op("Concat", *parts, axis=1, out=node.output[0])
