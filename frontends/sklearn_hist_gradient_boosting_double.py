"""HistGradientBoostingClassifier / Regressor in double, as scikit-learn computes them.

scikit-learn keeps X in float64 and compares it with float64 bin edges that are often values
of the training data itself, so a float32 input can take the other branch. This builds the
ONNX graph directly: one TreeEnsemble (ai.onnx.ml 5, double thresholds and sums; NaN
follows the learned direction) for the raw scores, plus the baseline, then the link (Exp)
or the loss's probabilities (Sigmoid, Softmax) in double.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import tree_ensemble_v5
from .sklearn_hist_gradient_boosting import _check_supported, _collect_trees

OPSETS = [helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 5)]


def applies(est) -> bool:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    return isinstance(est, (HistGradientBoostingClassifier, HistGradientBoostingRegressor))


def _tree_ensemble(t: dict, n_targets: int) -> helper.NodeProto:
    """The tables of _collect_trees as one TreeEnsemble (v5) node."""
    internal = np.asarray(t["nodes_modes"]) != "LEAF"
    attrs = tree_ensemble_v5.attributes(
        t["nodes_treeids"], t["nodes_nodeids"], internal, t["nodes_featureids"], t["thresholds"],
        t["nodes_truenodeids"], t["nodes_falsenodeids"], np.asarray(t["nodes_missing_value_tracks_true"], bool),
        False, t["leaf_treeids"], t["leaf_nodeids"], t["leaf_ids"], t["leaf_values"], n_targets)
    return helper.make_node("TreeEnsemble", ["X"], ["raw_trees"], domain="ai.onnx.ml", name="trees", **attrs)


def convert(model, n_features: int) -> onnx.ModelProto:
    """The graph: input X (double [N, n_features]); outputs `label` and `probabilities`
    (classifier) or `variable` (regressor), double."""
    from sklearn.base import is_classifier
    _check_supported(model)
    k = int(model.n_trees_per_iteration_)
    nodes = [_tree_ensemble(_collect_trees(model), k)]
    baseline = np.asarray(model._baseline_prediction, np.float64).reshape(1, k)
    inits = [numpy_helper.from_array(baseline, "baseline")]
    nodes.append(helper.make_node("Add", ["raw_trees", "baseline"], ["raw"]))
    x = helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, n_features])
    if not is_classifier(model):
        link = type(model._loss.link).__name__
        if link not in ("IdentityLink", "LogLink"):
            raise NotImplementedError(f"unsupported link function {link!r}")
        nodes.append(helper.make_node("Exp" if link == "LogLink" else "Identity", ["raw"], ["variable"]))
        outputs = [helper.make_tensor_value_info("variable", TensorProto.DOUBLE, [None, 1])]
    else:
        classes = model.classes_
        if k == 1:  # binary: [1 - expit(raw), expit(raw)]
            inits.append(numpy_helper.from_array(np.ones((1, 1)), "one"))
            nodes += [helper.make_node("Sigmoid", ["raw"], ["p1"]), helper.make_node("Sub", ["one", "p1"], ["p0"]),
                      helper.make_node("Concat", ["p0", "p1"], ["probabilities"], axis=1)]
        else:
            nodes.append(helper.make_node("Softmax", ["raw"], ["probabilities"], axis=1))
        strings = classes.dtype.kind in "OUS"
        table = np.array([str(c) for c in classes], dtype=object) if strings else classes.astype(np.int64)
        inits.append(numpy_helper.from_array(table, "classes"))
        nodes += [helper.make_node("ArgMax", ["probabilities"], ["index"], axis=1, keepdims=0),
                  helper.make_node("Gather", ["classes", "index"], ["label"], axis=0)]
        outputs = [helper.make_tensor_value_info("label", TensorProto.STRING if strings else TensorProto.INT64,
                                                 [None]),
                   helper.make_tensor_value_info("probabilities", TensorProto.DOUBLE, [None, len(classes)])]
    graph = helper.make_graph(nodes, "hist_gradient_boosting", [x], outputs, initializer=inits)
    proto = helper.make_model(graph, opset_imports=OPSETS, producer_name="modelport")
    proto.ir_version = 10
    onnx.checker.check_model(proto)
    return proto
