"""HistGradientBoostingClassifier / Regressor in double, as scikit-learn computes them.

scikit-learn keeps X in float64 and compares it with float64 bin edges that are often values
of the training data itself, so a float32 input can take the other branch. `install()` puts
converters in front of ours (frontends/sklearn_hist_gradient_boosting.py, whose
TreeEnsembleRegressor/Classifier sum in float32): for a double input, bare or inside a
pipeline, one TreeEnsemble (ai.onnx.ml 5, double thresholds and sums; NaN follows the learned
direction) gives the raw scores, plus the baseline, then the link (Exp) or the loss's
probabilities (Sigmoid, Softmax) in double. Categorical features: see
sklearn_hist_gradient_boosting_categories.py. Any other input goes to the float converter.

Outputs: `label` (the first class of highest probability, as scikit-learn's argmax) and
`probabilities` (predict_proba; with raw_scores, the decision function: [-raw, raw] for two
classes) for classifiers; `variable` [N, 1] for regressors.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import sklearn_hist_gradient_boosting, sklearn_hist_gradient_boosting_categories, tree_ensemble_v5
from .sklearn_double_builder import all_double, converter, install_in_front, is_double, is_string, label_table
from .sklearn_hist_gradient_boosting import _check_supported, _collect_trees

ALIASES = {"HistGradientBoostingClassifier": "SklearnHistGradientBoostingClassifier",
           "HistGradientBoostingRegressor": "SklearnHistGradientBoostingRegressor"}
LINKS = {"IdentityLink": "Identity", "LogLink": "Exp"}


def install() -> None:
    """Put the double converters in front of the float ones (safe to call repeatedly)."""
    import sklearn.ensemble
    sklearn_hist_gradient_boosting.install()
    install_in_front({getattr(sklearn.ensemble, cls): alias for cls, alias in ALIASES.items()},
                     converter("hgb", _build, _ours), shape=_shape)


def _shape(original):
    """skl2onnx's calculator takes one input: a model with categorical features may have one
    per column (strings among them); its (double) outputs are declared here."""
    def calculate(operator):
        from skl2onnx.common.data_types import DoubleTensorType, Int64TensorType, StringTensorType
        model = operator.raw_operator
        if not sklearn_hist_gradient_boosting_categories.has_categories(model) or not _ours(operator):
            return original(operator)
        n = operator.inputs[0].get_first_dimension()
        if hasattr(model, "classes_"):
            labels = label_table(model)
            operator.outputs[0].type = (StringTensorType if labels.dtype == object else Int64TensorType)([n])
            operator.outputs[1].type = DoubleTensorType([n, len(model.classes_)])
        else:
            operator.outputs[0].type = DoubleTensorType([n, 1])
    return calculate


def _ours(operator, container=None) -> bool:
    """Double inputs; with categorical features, string columns too (their categories)."""
    if all_double(operator):
        return True
    return sklearn_hist_gradient_boosting_categories.has_categories(operator.raw_operator) and all(
        is_double(v) or is_string(v) for v in operator.inputs)


def _build(b, model, operator, container):
    categorical = sklearn_hist_gradient_boosting_categories.has_categories(model)
    try:
        if not categorical:  # (categorical features are built here: the float converter refuses them)
            _check_supported(model)
    except NotImplementedError as exc:
        raise UnsupportedError(f"{exc} Supported: numeric features only (one-hot encode categories "
                               "before the model in a pipeline).") from None
    defaults = dict(raw_scores=False, nocl=False) if hasattr(model, "classes_") else dict(raw_scores=False)
    options = container.get_options(model, defaults)
    if options.get("nocl"):
        raise UnsupportedError(f"{type(model).__name__}: skl2onnx's option nocl is not supported in double")
    if categorical:
        lay = sklearn_hist_gradient_boosting_categories.Layout(model)
        t = _collect_trees(model, lay.split)
        cols = sklearn_hist_gradient_boosting_categories.columns(b, operator, int(model.n_features_in_))
        raw = _raw(b, model, lay.inputs(b, cols), t)
    else:
        raw = _raw(b, model, b.input(operator))
    outs = [o.full_name for o in operator.outputs]
    if hasattr(model, "classes_"):
        _classifier(b, model, raw, outs, bool(options.get("raw_scores")))
    else:
        link = type(model._loss.link).__name__
        if link not in LINKS:
            raise UnsupportedError(f"{type(model).__name__} with the link {link} is not supported; supported "
                                   f"losses: those with the links {', '.join(LINKS)}")
        b.op("Identity" if options.get("raw_scores") else LINKS[link], raw, out=outs[0])


def _raw(b, model, x: str, t=None) -> str:
    """[N, k] double: the trees' sums plus the baseline (scikit-learn's raw predictions); `t`:
    the trees' tables when categorical splits read other columns."""
    k = int(model.n_trees_per_iteration_)
    t = t or _collect_trees(model)
    internal = np.asarray(t["nodes_modes"]) != "LEAF"
    attrs = tree_ensemble_v5.attributes(
        t["nodes_treeids"], t["nodes_nodeids"], internal, t["nodes_featureids"], t["thresholds"],
        t["nodes_truenodeids"], t["nodes_falsenodeids"], np.asarray(t["nodes_missing_value_tracks_true"], bool),
        False, t["leaf_treeids"], t["leaf_nodeids"], t["leaf_ids"], t["leaf_values"], k)
    trees = b.op("TreeEnsemble", x, domain="ai.onnx.ml", **attrs)
    baseline = np.asarray(model._baseline_prediction, np.float64).reshape(1, k)
    return b.op("Add", trees, b.const(baseline, hint="baseline"))


def _classifier(b, model, raw: str, outs: list, raw_scores: bool) -> None:
    if int(model.n_trees_per_iteration_) == 1:  # binary: [1 - expit(raw), expit(raw)]
        p1 = b.op("Sigmoid", raw)
        probabilities = b.op("Concat", b.op("Sub", b.const(np.ones((1, 1))), p1), p1, axis=1)
        scores = b.op("Concat", b.op("Neg", raw), raw, axis=1) if raw_scores else probabilities
    else:
        probabilities = b.op("Softmax", raw, axis=1)
        scores = raw if raw_scores else probabilities
    best = b.op("ArgMax", probabilities, axis=1, keepdims=0)
    b.op("Gather", b.const(label_table(model), hint="classes"), best, axis=0, out=outs[0])
    b.op("Identity", scores, out=outs[1])
