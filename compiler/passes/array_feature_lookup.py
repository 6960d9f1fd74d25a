"""ArrayFeatureExtractor over a constant vector with batched indices, as Gather.

skl2onnx maps predicted positions to labels (and k-NN neighbour indices to their
targets) with `ArrayFeatureExtractor(table, indices)` followed by a Reshape. On a 1-D
table the op returns shape [1, number of indices]: every row of the batch in one, which
generated code, working row by row, cannot hold. `Gather(table, indices, axis=0)` gives
the same values in the same order with the indices' own shape, batch first; the Reshape
after it then yields the same result. Rewritten only where every consumer is such a
Reshape (with no 0 in its target shape, which would copy the differing leading dim),
possibly through elementwise Cast or Identity nodes.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

ML = "ai.onnx.ml"


def _consts(g):
    out = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            out[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return out


def _reshaped(g, name, consts, outputs) -> bool:
    """Whether every use of `name` ends, through Cast/Identity only, in a safe Reshape."""
    users = [u for u in g.node if name in u.input]
    if not users or name in outputs:
        return False
    for u in users:
        if u.op_type in ("Cast", "Identity") and u.domain in ("", "ai.onnx"):
            if not _reshaped(g, u.output[0], consts, outputs):
                return False
        elif not (u.op_type == "Reshape" and u.domain in ("", "ai.onnx") and u.input[0] == name
                  and u.input[1] in consts and (np.all(consts[u.input[1]] != 0) or any(
                      a.name == "allowzero" and a.i == 1 for a in u.attribute))):
            return False
    return True


def run(proto: onnx.ModelProto) -> onnx.ModelProto:
    g = proto.graph
    if not any(n.op_type == "ArrayFeatureExtractor" and n.domain == ML for n in g.node):
        return proto
    consts = _consts(g)
    outputs = {o.name for o in g.output}
    targets = []
    for i, n in enumerate(g.node):
        if n.op_type != "ArrayFeatureExtractor" or n.domain != ML:
            continue
        table = consts.get(n.input[0])
        if table is None or table.ndim != 1 or n.input[1] in consts or n.output[0] in outputs:
            continue
        if _reshaped(g, n.output[0], consts, outputs):
            targets.append(i)
    if not targets:
        return proto
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    for i in targets:
        old = out.graph.node[i]
        new = helper.make_node("Gather", list(old.input), list(old.output), name=old.name, axis=0)
        out.graph.node[i].CopyFrom(new)
    if not any(o.domain in ("", "ai.onnx") and o.version >= 13 for o in out.opset_import):
        return proto  # Gather's negative indices need opset 11+; skl2onnx writes 13+
    return out
