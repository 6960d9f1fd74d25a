"""Carry scikit-learn trees' learned missing-value directions into the ONNX graph.

scikit-learn trees send a NaN down `tree_.missing_go_to_left` at every split (learned
from training data with NaNs, else towards the child with more samples); skl2onnx leaves
`nodes_missing_value_tracks_true` unset, so ONNX Runtime and the generated code would send
NaNs right. The left child is the true branch of `x <= threshold`, so the flag is the
direction itself. Each node is checked against the tree (feature and threshold) before it
is changed; on any doubt the graph is left as it was.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper


def _trees(est) -> list | None:
    """The fitted trees in the order of the ONNX tree ids, or None for other estimators."""
    if hasattr(est, "tree_"):
        return [est.tree_]
    ests = getattr(est, "estimators_", None)
    if ests is None or type(est).__name__.startswith("HistGradient"):
        return None
    arr = np.asarray(ests, dtype=object)
    flat = arr.reshape(-1)  # GradientBoosting: [i, k] -> tree id i * K + k
    if not all(hasattr(e, "tree_") for e in flat):
        return None
    return [e.tree_ for e in flat]


def apply(final_estimator, proto: onnx.ModelProto) -> bool:
    trees = _trees(final_estimator)
    if trees is None or not all(hasattr(t, "missing_go_to_left") for t in trees):
        return False
    nodes = [n for n in proto.graph.node if n.op_type.startswith("TreeEnsemble")]
    if len(nodes) != 1:
        return False
    node = nodes[0]
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    tids, nids, feats = attrs["nodes_treeids"], attrs["nodes_nodeids"], attrs["nodes_featureids"]
    modes = [m.decode() if isinstance(m, bytes) else m for m in attrs["nodes_modes"]]
    flags = []
    for t, n, f, m in zip(tids, nids, feats, modes):
        if t >= len(trees) or n >= trees[t].node_count:
            return False
        tree = trees[t]
        if m == "LEAF":
            flags.append(0)
            continue
        if m != "BRANCH_LEQ" or tree.feature[n] != f:
            return False
        flags.append(int(tree.missing_go_to_left[n]))
    kept = [a for a in node.attribute if a.name != "nodes_missing_value_tracks_true"]
    del node.attribute[:]
    node.attribute.extend(kept)
    node.attribute.append(helper.make_attribute("nodes_missing_value_tracks_true", flags))
    return True
