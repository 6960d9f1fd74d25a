"""Small, safe edits of ONNX graphs that frontends need."""
from __future__ import annotations

import onnx
from onnx import helper


def default_opset(model: onnx.ModelProto) -> int:
    """The model's default-domain opset version."""
    return max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), default=1)


def attr(node: onnx.NodeProto, name: str, default=None):
    """One attribute's raw value (bytes for strings), or `default`."""
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def reads(nodes) -> set:
    """Every name the nodes read, their subgraphs' (outer-scope) reads included."""
    out = set()
    for n in nodes:
        out.update(n.input)
        for a in n.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                out |= reads(sub.node)
    return out


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
