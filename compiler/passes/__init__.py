"""ONNX-to-ONNX rewrites run on a checked model before the IR is built, in this order.

Each pass takes and returns an onnx.ModelProto (a new one when it changes anything) and
keeps the model's meaning; ONNX Runtime runs the result as the parity reference.
"""
from __future__ import annotations

import onnx

from . import array_feature_lookup, knn_scan

PASSES = [
    knn_scan.run,
    array_feature_lookup.run,
]


def run_passes(proto: onnx.ModelProto) -> onnx.ModelProto:
    for p in PASSES:
        proto = p(proto)
    return proto
