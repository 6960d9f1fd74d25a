"""A correction to skl2onnx's k-NN conversion with ``weights="distance"``.

For opset 11 and later, skl2onnx 1.20 takes the neighbours' distances from
``TopK(largest=0)`` (distances, not negated) but still multiplies them by -1, as it did
when TopK ran on negated distances. The weights ``1 / max(-d, 1e-6)`` then all equal
1e6 and the model predicts as with uniform weights, unlike scikit-learn. This module
turns that -1 into 1, which gives scikit-learn's ``1 / d`` (with distances below 1e-6,
exact matches, dominating as scikit-learn's rule for zero distances does).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def fix_distance_weights(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Replace the -1 factor on TopK(largest=0) distances feeding Max -> Reciprocal by 1."""
    g = proto.graph
    inits = {i.name: i for i in g.initializer}
    producer = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    fixes = []
    for n in g.node:
        if n.op_type != "Mul" or len(n.input) != 2:
            continue
        top, factor = producer.get(n.input[0]), inits.get(n.input[1])
        if top is None or factor is None or top.op_type != "TopK" or top.output[0] != n.input[0]:
            continue
        if _attr(top, "largest", 1) != 0 or not np.array_equal(numpy_helper.to_array(factor), [-1]):
            continue
        after = users.get(n.output[0], [])
        if after and all(u.op_type == "Max" and any(r.op_type == "Reciprocal" for r in users.get(u.output[0], []))
                         for u in after):
            fixes.append((n, factor))
    if not fixes:
        return proto
    for node, factor in fixes:
        value = numpy_helper.to_array(factor)
        name = node.input[1] + "_positive"
        g.initializer.append(numpy_helper.from_array(np.ones_like(value), name))
        node.input[1] = name
        if not any(factor.name in n.input for n in g.node):
            g.initializer.remove(factor)
    return proto
