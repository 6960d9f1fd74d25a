"""What a frontend hands the compiler: the ONNX graph, the schema, the original model's own
prediction function, and where it all came from."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import onnx

from .schema import Schema


@dataclass
class SourceModel:
    onnx: onnx.ModelProto
    schema: Schema
    # reference(inputs by ONNX input name) -> outputs by ONNX output name, computed by the
    # original model in its own framework. None when the source is an ONNX file.
    reference: Callable | None
    provenance: dict
    name: str
    # Values worth testing per input column (thresholds, category levels, statistics).
    hints: dict = field(default_factory=dict)
    # The precision the original model computes in ("float64" or "float32") and why; the
    # artifacts read, compare and answer in it (docs/parity.md).
    precision: str = "float32"
    precision_reason: str = ""
    # True when `reference` takes numbers as the user has them (float64, never rounded):
    # the original then sees exactly the values the artifacts see. False for frameworks
    # whose models take float32 tensors (a user casts first).
    reference_float64: bool = False
