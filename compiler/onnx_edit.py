"""Small, safe edits of ONNX graphs that frontends need."""
from __future__ import annotations

import onnx


def rename_values(model: onnx.ModelProto, mapping: dict) -> onnx.ModelProto:
    """Rename graph values (inputs, outputs, intermediates) everywhere they occur."""
    g = model.graph
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        vi.name = mapping.get(vi.name, vi.name)
    for init in g.initializer:
        init.name = mapping.get(init.name, init.name)
    for node in g.node:
        node.input[:] = [mapping.get(n, n) for n in node.input]
        node.output[:] = [mapping.get(n, n) for n in node.output]
    return model
