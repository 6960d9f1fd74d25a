"""TreeEnsemble (ai.onnx.ml 5): https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsemble.html

The same forest as TreeEnsembleRegressor, whose lowering it reuses, but its output has the
input's type: a double model's sums stay double (TreeEnsembleRegressor always outputs float).
"""
import numpy as np

from . import tree_ensemble_regressor
from ..errors import UnsupportedError
# The operator's enumerations, as the TVM lowering reads them.
from ..passes.ml_to_tensor._forest import MODE_NUMBERS as MODES
from ..passes.ml_to_tensor.tree_ensemble import AGGREGATES


def as_regressor_attrs(a: dict) -> dict:
    """TreeEnsembleRegressor-style attributes: every tree's nodes found from its root; internal
    node j keeps the id j, leaf i becomes the node n + i (leaves are numbered apart in v5)."""
    modes = [MODES.get(int(m), str(m)) for m in np.asarray(a["nodes_modes"]).reshape(-1)]
    n = len(modes)
    splits = np.asarray(a["nodes_splits"], np.float64).reshape(-1)
    true_ids, false_ids = list(a["nodes_truenodeids"]), list(a["nodes_falsenodeids"])
    true_leaf = list(a.get("nodes_trueleafs") or [0] * n)
    false_leaf = list(a.get("nodes_falseleafs") or [0] * n)
    mtt = list(a.get("nodes_missing_value_tracks_true") or [0] * n)
    leaf_targets = [int(t) for t in a["leaf_targetids"]]
    leaf_weights = np.asarray(a["leaf_weights"], np.float64).reshape(-1)
    out = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_modes", "nodes_featureids", "values",
                           "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                           "target_treeids", "target_nodeids", "target_ids", "weights")}
    owner = {}
    for tree, root in enumerate(int(r) for r in a["tree_roots"]):
        stack = [("node", root)]
        while stack:
            kind, i = stack.pop()
            if owner.setdefault((kind, i), tree) != tree:
                raise UnsupportedError("TreeEnsemble: trees that share nodes are not supported")
            ident = i if kind == "node" else n + i
            out["nodes_treeids"].append(tree)
            out["nodes_nodeids"].append(ident)
            if kind == "leaf":
                out["nodes_modes"].append("LEAF")
                for col in ("nodes_featureids", "values", "nodes_truenodeids", "nodes_falsenodeids",
                            "nodes_missing_value_tracks_true"):
                    out[col].append(0)
                out["target_treeids"].append(tree)
                out["target_nodeids"].append(ident)
                out["target_ids"].append(leaf_targets[i])
                out["weights"].append(leaf_weights[i])
                continue
            if modes[i] not in ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"):
                raise UnsupportedError(f"TreeEnsemble node mode {modes[i]} is not supported (supported: "
                                       "BRANCH_LEQ, BRANCH_LT, BRANCH_GTE, BRANCH_GT)")
            t = ("leaf", int(true_ids[i])) if true_leaf[i] else ("node", int(true_ids[i]))
            f = ("leaf", int(false_ids[i])) if false_leaf[i] else ("node", int(false_ids[i]))
            out["nodes_modes"].append(modes[i])
            out["nodes_featureids"].append(int(a["nodes_featureids"][i]))
            out["values"].append(splits[i])
            out["nodes_truenodeids"].append(t[1] if t[0] == "node" else n + t[1])
            out["nodes_falsenodeids"].append(f[1] if f[0] == "node" else n + f[1])
            out["nodes_missing_value_tracks_true"].append(int(mtt[i]))
            stack += [f, t]
    attrs = {k: v for k, v in out.items() if k not in ("values", "weights")}
    attrs["nodes_values_as_tensor"] = np.asarray(out["values"], np.float64)
    attrs["target_weights_as_tensor"] = np.asarray(out["weights"], np.float64)
    attrs["n_targets"] = int(a.get("n_targets", 1) or 1)
    agg = AGGREGATES.get(int(a.get("aggregate_function", 1)), str(a.get("aggregate_function")))
    attrs["aggregate_function"] = agg
    if int(a.get("post_transform", 0)) != 0:
        raise UnsupportedError(f"TreeEnsemble post_transform {a['post_transform']} is not supported (NONE)")
    return attrs


def lower(ctx, node, ins, outs):
    return tree_ensemble_regressor.lower_attrs(ctx, as_regressor_attrs(node.attrs), ins, outs)
