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
