"""skl2onnx converters for scikit-learn's HistGradientBoosting models.

skl2onnx 1.20 cannot convert ``HistGradientBoostingClassifier`` /
``HistGradientBoostingRegressor`` trained with recent scikit-learn: the tree
records it reads (``node["left"]``, ``node["missing_go_to_left"]``, ...) are
numpy scalars (``np.uint32``, ``np.uint8``) and ``onnx.helper.make_node``
rejects them.  Besides that, its converter rounds split thresholds to the
nearest float32, which can send a float32 input to the wrong child, and it
ignores the log link of the Poisson / Gamma regressors.

:func:`install` replaces skl2onnx's converters for both estimators with the
ones below.  They read the fitted predictors directly and emit plain Python
ints/floats:

* ``TreeEnsembleRegressor`` / ``TreeEnsembleClassifier`` (``ai.onnx.ml``), one
  ONNX tree per scikit-learn predictor, ``BRANCH_LEQ`` nodes, ``SUM``
  aggregation, ``base_values`` = ``_baseline_prediction``;
* ``nodes_missing_value_tracks_true`` = ``missing_go_to_left``, so NaN follows
  the branch learned during training;
* float32 inputs: each threshold ``t`` (a float64) is stored as the largest
  float32 ``<= t``, which makes ``x <= t32`` equal to scikit-learn's
  ``float64(x) <= t`` for every float32 ``x``;
* float64 inputs (with ``ai.onnx.ml`` >= 3): thresholds, leaf values and base
  values are stored exactly in the ``*_as_tensor`` double attributes;
* binary classifier: one score per tree (class id 0), ``LOGISTIC``
  post-transform; multiclass: one tree per class and iteration, ``SOFTMAX``;
* regressor with a log link (``poisson``, ``gamma``): an ``Exp`` node follows
  the ensemble.

Binary classifiers whose leaf values are all >= 0 are emitted as a
``TreeEnsembleRegressor`` followed by ``Sigmoid``/``Concat``/``Gather``
nodes: onnxruntime's ``TreeEnsembleClassifier`` treats that case as
"probability-like weights" and thresholds the raw score at 0.5 to pick the
label, which is not what scikit-learn does.

Categorical splits (``categorical_features``) are converted by the double converters only
(sklearn_hist_gradient_boosting_categories.py).
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = [
    "install",
    "convert_hist_gradient_boosting_classifier",
    "convert_hist_gradient_boosting_regressor",
]

_CLASSIFIER_ALIAS = "SklearnHistGradientBoostingClassifier"
_REGRESSOR_ALIAS = "SklearnHistGradientBoostingRegressor"
_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "raw_scores": [True, False],
    "output_class_labels": [False, True],
    "nocl": [True, False],
}
_REGRESSOR_OPTIONS = {"raw_scores": [True, False]}

_installed = False


def install() -> None:
    """Register the converters with skl2onnx (safe to call repeatedly)."""
    global _installed
    if _installed:
        return
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    update_registered_converter(
        HistGradientBoostingClassifier,
        _CLASSIFIER_ALIAS,
        calculate_linear_classifier_output_shapes,
        convert_hist_gradient_boosting_classifier,
        options=dict(_CLASSIFIER_OPTIONS),
    )
    update_registered_converter(
        HistGradientBoostingRegressor,
        _REGRESSOR_ALIAS,
        calculate_linear_regressor_output_shapes,
        convert_hist_gradient_boosting_regressor,
        options=dict(_REGRESSOR_OPTIONS),
    )
    _installed = True


# --------------------------------------------------------------------------
# attribute construction
# --------------------------------------------------------------------------


def _float32_floor(values) -> np.ndarray:
    """Largest float32 value <= each float64 value (inf and -inf kept)."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        f = v.astype(np.float32)
    above = f.astype(np.float64) > v
    if np.any(above):
        f[above] = np.nextafter(f[above], np.float32(-np.inf))
    return f


def _check_supported(model) -> None:
    is_cat = getattr(model, "is_categorical_", None)
    if is_cat is not None and np.any(is_cat):
        raise NotImplementedError(
            f"{type(model).__name__} with categorical features cannot be "
            "converted (categorical splits have no TreeEnsemble equivalent)."
        )
    if getattr(model, "_preprocessor", None) is not None:
        raise NotImplementedError(
            f"{type(model).__name__} fitted with an internal preprocessor "
            "(categorical_features from a dataframe) cannot be converted."
        )


def _collect_trees(model, split=None):
    """Flattened TreeEnsemble node/leaf tables for every predictor; `split(predictor, node)`
    gives an internal node's (input column, threshold) (default: its feature and threshold;
    categorical nodes then refused).

    Returns a dict of Python lists (ints, strings) plus float64 numpy arrays
    ``thresholds``, ``leaf_values`` (converted by the caller to the attribute
    dtype).
    """
    k_per_iter = int(model.n_trees_per_iteration_)
    out = {
        "nodes_treeids": [],
        "nodes_nodeids": [],
        "nodes_featureids": [],
        "nodes_modes": [],
        "nodes_truenodeids": [],
        "nodes_falsenodeids": [],
        "nodes_missing_value_tracks_true": [],
        "leaf_treeids": [],
        "leaf_nodeids": [],
        "leaf_ids": [],
    }
    thresholds = []
    leaf_values = []
    tree_id = 0
    for iteration in model._predictors:
        if len(iteration) != k_per_iter:
            raise RuntimeError(
                f"expected {k_per_iter} trees per iteration, got {len(iteration)}"
            )
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            if split is None and np.any(nodes["is_categorical"]):
                raise NotImplementedError(
                    "categorical splits cannot be converted to TreeEnsemble nodes"
                )
            n = len(nodes)
            is_leaf = nodes["is_leaf"].astype(bool)
            out["nodes_treeids"].extend([tree_id] * n)
            out["nodes_nodeids"].extend(range(n))
            feat = np.where(is_leaf, 0, nodes["feature_idx"]).astype(np.int64)
            cut = np.where(is_leaf, 0.0, nodes["num_threshold"])
            if split is not None:
                for i in np.flatnonzero(~is_leaf):
                    feat[i], cut[i] = split(predictor, nodes[i])
            out["nodes_featureids"].extend(int(f) for f in feat)
            out["nodes_modes"].extend(
                "LEAF" if leaf else "BRANCH_LEQ" for leaf in is_leaf
            )
            left = np.where(is_leaf, 0, nodes["left"]).astype(np.int64)
            right = np.where(is_leaf, 0, nodes["right"]).astype(np.int64)
            out["nodes_truenodeids"].extend(int(i) for i in left)
            out["nodes_falsenodeids"].extend(int(i) for i in right)
            missing = np.where(is_leaf, 0, nodes["missing_go_to_left"] != 0)
            out["nodes_missing_value_tracks_true"].extend(
                int(m) for m in missing.astype(np.int64)
            )
            thresholds.append(cut)
            leaf_idx = np.flatnonzero(is_leaf)
            out["leaf_treeids"].extend([tree_id] * len(leaf_idx))
            out["leaf_nodeids"].extend(int(i) for i in leaf_idx)
            out["leaf_ids"].extend([k] * len(leaf_idx))
            leaf_values.append(nodes["value"][leaf_idx].astype(np.float64))
            tree_id += 1
    out["thresholds"] = (
        np.concatenate(thresholds) if thresholds else np.zeros(0, np.float64)
    )
    out["leaf_values"] = (
        np.concatenate(leaf_values) if leaf_values else np.zeros(0, np.float64)
    )
    return out


def _ensemble_attributes(model, regressor: bool, double: bool, base_values):
    """Attributes of a TreeEnsembleRegressor / TreeEnsembleClassifier node."""
    t = _collect_trees(model)
    prefix = "target" if regressor else "class"
    attrs = {
        "nodes_treeids": t["nodes_treeids"],
        "nodes_nodeids": t["nodes_nodeids"],
        "nodes_featureids": t["nodes_featureids"],
        "nodes_modes": t["nodes_modes"],
        "nodes_truenodeids": t["nodes_truenodeids"],
        "nodes_falsenodeids": t["nodes_falsenodeids"],
        "nodes_missing_value_tracks_true": t["nodes_missing_value_tracks_true"],
        f"{prefix}_treeids": t["leaf_treeids"],
        f"{prefix}_nodeids": t["leaf_nodeids"],
        f"{prefix}_ids": t["leaf_ids"],
    }
    base = np.asarray(base_values, dtype=np.float64).ravel()
    if double:
        from onnx import numpy_helper

        def tensor(name, values):
            return numpy_helper.from_array(np.asarray(values, np.float64), name)

        attrs["nodes_values_as_tensor"] = tensor(
            "nodes_values", t["thresholds"]
        )
        attrs[f"{prefix}_weights_as_tensor"] = tensor(
            f"{prefix}_weights", t["leaf_values"]
        )
        attrs["base_values_as_tensor"] = tensor("base_values", base)
    else:
        attrs["nodes_values"] = [float(v) for v in _float32_floor(t["thresholds"])]
        attrs[f"{prefix}_weights"] = [
            float(v) for v in t["leaf_values"].astype(np.float32)
        ]
        attrs["base_values"] = [float(v) for v in base.astype(np.float32)]
    return attrs, t["leaf_values"]


# --------------------------------------------------------------------------
# converter helpers
# --------------------------------------------------------------------------


def _prepare_input(scope, operator, container):
    """Input name and whether the double-precision path is used."""
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    input_name = operator.inputs[0].full_name
    in_type = operator.inputs[0].type
    if isinstance(in_type, DoubleTensorType):
        if container.target_opset_any_domain("ai.onnx.ml") >= 3:
            return input_name, True
        target = TensorProto.FLOAT
    elif type(in_type).__name__ == "FloatTensorType":
        return input_name, False
    else:
        target = TensorProto.FLOAT
    cast_name = scope.get_unique_variable_name("cast_input")
    container.add_node(
        "Cast",
        [input_name],
        [cast_name],
        name=scope.get_unique_operator_name("Cast"),
        to=target,
    )
    return cast_name, False


def _ml_version(container) -> int:
    return 3 if container.target_opset_any_domain("ai.onnx.ml") >= 3 else 1


def _float_output(scope, container, output_variable):
    """Name a float-producing node should write to for ``output_variable``.

    Returns ``(name, finish)``: ``finish()`` must be called once the node
    producing ``name`` is added; it inserts a Cast when the declared output
    is double (TreeEnsemble* always produce float scores).
    """
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType

    if not isinstance(output_variable.type, DoubleTensorType):
        return output_variable.full_name, lambda: None
    name = scope.get_unique_variable_name("float_output")

    def finish():
        container.add_node(
            "Cast",
            [name],
            [output_variable.full_name],
            name=scope.get_unique_operator_name("Cast"),
            to=TensorProto.DOUBLE,
        )

    return name, finish


def _class_labels(scope, model):
    from skl2onnx.common.utils_classifier import get_label_classes

    classes = get_label_classes(scope, model)
    classes = np.asarray(classes)
    if classes.dtype == np.bool_ or np.issubdtype(classes.dtype, np.integer):
        return "int64", [int(c) for c in classes]
    if np.issubdtype(classes.dtype, np.floating):
        if not np.all(np.mod(classes, 1) == 0):
            raise NotImplementedError(
                "non-integer float class labels cannot be represented in ONNX"
            )
        return "int64", [int(c) for c in classes]
    if all(isinstance(c, str) for c in classes.tolist()):
        return "string", [str(c) for c in classes]
    if all(isinstance(c, numbers.Integral) for c in classes.tolist()):
        return "int64", [int(c) for c in classes]
    raise NotImplementedError("class labels must be all integers or all strings")


# --------------------------------------------------------------------------
# regressor
# --------------------------------------------------------------------------


def convert_hist_gradient_boosting_regressor(scope, operator, container):
    model = operator.raw_operator
    _check_supported(model)
    if int(model.n_trees_per_iteration_) != 1:
        raise NotImplementedError("only single-output regressors are supported")
    options = container.get_options(model, dict(raw_scores=False))
    link = type(model._loss.link).__name__
    if link not in ("IdentityLink", "LogLink"):
        raise NotImplementedError(f"unsupported link function {link!r}")

    input_name, double = _prepare_input(scope, operator, container)
    attrs, _ = _ensemble_attributes(
        model, regressor=True, double=double, base_values=model._baseline_prediction
    )
    attrs["n_targets"] = 1
    attrs["post_transform"] = "NONE"
    attrs["aggregate_function"] = "SUM"

    result, finish = _float_output(scope, container, operator.outputs[0])
    apply_exp = link == "LogLink" and not options["raw_scores"]
    raw = scope.get_unique_variable_name("raw_prediction") if apply_exp else result
    container.add_node(
        "TreeEnsembleRegressor",
        [input_name],
        [raw],
        op_domain="ai.onnx.ml",
        op_version=_ml_version(container),
        name=scope.get_unique_operator_name("TreeEnsembleRegressor"),
        **attrs,
    )
    if apply_exp:
        container.add_node(
            "Exp", [raw], [result], name=scope.get_unique_operator_name("Exp")
        )
    finish()


# --------------------------------------------------------------------------
# classifier
# --------------------------------------------------------------------------


def convert_hist_gradient_boosting_classifier(scope, operator, container):
    model = operator.raw_operator
    _check_supported(model)
    options = container.get_options(model, dict(raw_scores=False))
    raw_scores = bool(options["raw_scores"])
    loss = type(model._loss).__name__
    n_classes = len(model.classes_)
    if loss == "HalfBinomialLoss" and n_classes == 2:
        binary = True
    elif loss == "HalfMultinomialLoss" and n_classes > 2:
        binary = False
    else:
        raise NotImplementedError(
            f"unsupported loss {loss!r} with {n_classes} classes"
        )
    label_kind, labels = _class_labels(scope, model)

    input_name, double = _prepare_input(scope, operator, container)
    attrs, leaf_values = _ensemble_attributes(
        model, regressor=False, double=double, base_values=model._baseline_prediction
    )

    if binary and not np.any(leaf_values < 0):
        _binary_via_regressor(
            scope, operator, container, model, input_name, double, label_kind,
            labels, raw_scores,
        )
        return

    if label_kind == "int64":
        attrs["classlabels_int64s"] = labels
    else:
        attrs["classlabels_strings"] = labels
    if raw_scores:
        attrs["post_transform"] = "NONE"
    else:
        attrs["post_transform"] = "LOGISTIC" if binary else "SOFTMAX"

    probabilities, finish = _float_output(scope, container, operator.outputs[1])
    container.add_node(
        "TreeEnsembleClassifier",
        [input_name],
        [operator.outputs[0].full_name, probabilities],
        op_domain="ai.onnx.ml",
        op_version=_ml_version(container),
        name=scope.get_unique_operator_name("TreeEnsembleClassifier"),
        **attrs,
    )
    finish()


def _binary_via_regressor(
    scope, operator, container, model, input_name, double, label_kind, labels,
    raw_scores,
):
    """Binary classifier built from the raw score z.

    probabilities = [1 - sigmoid(z), sigmoid(z)] (or [-z, z] for raw scores),
    label = labels[z > 0].
    """
    from onnx import TensorProto

    attrs, _ = _ensemble_attributes(
        model, regressor=True, double=double, base_values=model._baseline_prediction
    )
    attrs["n_targets"] = 1
    attrs["post_transform"] = "NONE"
    attrs["aggregate_function"] = "SUM"

    def name(prefix):
        return scope.get_unique_variable_name(prefix)

    def node(op_type, inputs, outputs, **kwargs):
        container.add_node(
            op_type, inputs, outputs,
            name=scope.get_unique_operator_name(op_type), **kwargs,
        )

    z = name("raw_score")
    container.add_node(
        "TreeEnsembleRegressor",
        [input_name],
        [z],
        op_domain="ai.onnx.ml",
        op_version=_ml_version(container),
        name=scope.get_unique_operator_name("TreeEnsembleRegressor"),
        **attrs,
    )
    if raw_scores:
        first, second = name("neg_score"), z
        node("Neg", [z], [first])
    else:
        one = name("one")
        container.add_initializer(one, TensorProto.FLOAT, [], [1.0])
        first, second = name("proba_0"), name("proba_1")
        node("Sigmoid", [z], [second])
        node("Sub", [one, second], [first])
    probabilities, finish = _float_output(scope, container, operator.outputs[1])
    node("Concat", [first, second], [probabilities], axis=1)
    finish()

    zero = name("zero")
    container.add_initializer(zero, TensorProto.FLOAT, [], [0.0])
    positive = name("positive")
    node("Greater", [z, zero], [positive])
    index = name("label_index")
    node("Cast", [positive], [index], to=TensorProto.INT64)
    flat_shape = name("flat_shape")
    container.add_initializer(flat_shape, TensorProto.INT64, [1], [-1])
    flat_index = name("flat_label_index")
    node("Reshape", [index, flat_shape], [flat_index])
    classes = name("classes")
    if label_kind == "int64":
        container.add_initializer(classes, TensorProto.INT64, [2], labels)
    else:
        container.add_initializer(
            classes, TensorProto.STRING, [2], [s.encode("utf-8") for s in labels]
        )
    node("Gather", [classes, flat_index], [operator.outputs[0].full_name], axis=0)
