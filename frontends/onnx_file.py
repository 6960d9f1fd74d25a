"""ONNX frontend: an .onnx file or ModelProto, compiled as it is (ONNX Runtime is the reference)."""
from __future__ import annotations

import hashlib
from pathlib import Path

import onnx

from modelport import ir
from modelport.schema import Schema, default_columns
from modelport.source_model import SourceModel


def to_source(model, name: str) -> SourceModel:
    proto = ir.load(model)
    digest = None
    if isinstance(model, (str, Path)):
        digest = hashlib.sha256(Path(model).read_bytes()).hexdigest()
    inits = {i.name for i in proto.graph.initializer}

    def width(vi):
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in vi.type.tensor_type.shape.dim[1:]]
        n = 1
        for d in dims:
            n *= d
        return n

    def elem(vi):
        return vi.type.tensor_type.elem_type

    # Strings are categories going in; strings and integers coming out compare exactly.
    exact = (onnx.TensorProto.STRING, onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.BOOL)
    inputs, outputs = [], []
    for i in proto.graph.input:
        if i.name not in inits:
            kind = "string" if elem(i) == onnx.TensorProto.STRING else "number"
            inputs += default_columns([(i.name, width(i))], kind)
    for o in proto.graph.output:
        outputs += default_columns([(o.name, width(o))], "label" if elem(o) in exact else "value")
    schema = Schema(inputs, outputs, "tensor")
    provenance = {"framework": "onnx", "framework_version": onnx.__version__, "converter": None,
                  "source_file": str(model) if isinstance(model, (str, Path)) else None,
                  "source_sha256": digest}
    return SourceModel(proto, schema, None, provenance, name)
