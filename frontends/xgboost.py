"""XGBoost frontend: Booster objects, model files (.json, .ubj, legacy binary), and the
scikit-learn wrappers with categorical features, to SourceModel.

A file saved from a scikit-learn wrapper (XGBClassifier.save_model, ...) loads as that wrapper.
A wrapper compiles to what its predict / predict_proba return (label and probabilities, like
any classifier; `prediction` for regressors): through the scikit-learn frontend and its
converters (frontends/sklearn_xgboost.py, which also serve pipelines) when its features are
numbers, here when some are categorical. A Booster from `xgb.train` compiles to what
`Booster.predict` returns (`prediction`) and, where the objective transforms them, the
margins (`output_margin=True`) as `margin`. A Booster uses all its trees, as Booster.predict
does by default: slice it (`booster[: best_iteration + 1]`) to compile fewer rounds.

Categorical features (pandas category columns of strings, `enable_categorical=True`) are
string columns of the compiled model: it takes the category names (xgboost_categories.py);
features trained from codes (feature_types "c" without names) take the codes.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from modelport.errors import UnsupportedError, UsageError
from modelport.passes.ml_to_tensor._builder import Builder
from modelport.schema import Column, Schema
from modelport.source_model import SourceModel

from . import boosting_source, xgboost_categories, xgboost_graph, xgboost_model

OPSETS = {"": 18, "ai.onnx.ml": 3}
PRECISION_REASON = "XGBoost stores its input as float32 and compares and sums in float32"
# The scikit-learn wrapper a model file names in its "scikit_learn" attribute.
WRAPPERS = {"classifier": "XGBClassifier", "regressor": "XGBRegressor"}
# Kinds of a Booster's `prediction` output, per transform.
KINDS = {"identity": "value", "sigmoid": "probability", "softmax": "probability", "exp": "value",
         "hinge": "value", "argmax": "label"}


def is_model(obj) -> bool:
    return type(obj).__module__.startswith("xgboost") and type(obj).__name__ == "Booster"


def has_categorical_features(wrapper) -> bool:
    return "c" in (wrapper.get_booster().feature_types or [])


def load(path: Path, trust_pickle: bool = False):
    """A Booster, or the scikit-learn wrapper a file was saved from."""
    try:
        import xgboost
    except ImportError:
        raise UsageError(f"{path} needs the xgboost package to read it: pip install xgboost") from None
    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except Exception as exc:
        msg = str(exc).splitlines()[0][:200]
        raise UsageError(f"cannot read {path} as an XGBoost model file (.json or .ubj from save_model): "
                         f"{msg}") from None
    kind = _wrapper_kind(booster)
    if kind is None:
        return booster
    if kind not in WRAPPERS:
        raise UnsupportedError(f"{path} was saved from an XGBoost scikit-learn wrapper of kind {kind!r}; supported: "
                               f"{', '.join(sorted(WRAPPERS))}")
    wrapper = getattr(xgboost, WRAPPERS[kind])()
    wrapper.load_model(str(path))
    return wrapper


def _wrapper_kind(booster) -> str | None:
    text = booster.attr("scikit_learn")
    if not text:
        return None
    try:
        return json.loads(text).get("_estimator_type")
    except ValueError:
        return None


def to_source(model, name: str = "model", source_file: Path | None = None, precision: str | None = None
              ) -> SourceModel:
    from . import frontend
    if not is_model(model) and not has_categorical_features(model):
        return frontend("sklearn").to_source(model, name, source_file=source_file, precision=precision)
    import xgboost
    booster = model if is_model(model) else model.get_booster()
    tables = xgboost_model.read(booster)
    n = int(booster.num_features())
    names = [str(c) for c in (booster.feature_names or [f"f{i}" for i in range(n)])]
    cats = set(tables.categories)  # categorical features taking names (string columns)
    b = Builder(set(), OPSETS[""])
    rounds = None
    if not is_model(model):
        from .sklearn_xgboost import rounds as wrapper_rounds
        rounds = wrapper_rounds(model)
    trees = tables.first_rounds(rounds)
    lay = xgboost_categories.layout(tables, trees)
    if cats:
        tensors = {f: f"in{f}" for f in range(n)}
        graph_inputs = [helper.make_tensor_value_info(tensors[f], TensorProto.STRING if f in cats else
                                                      TensorProto.FLOAT, [None, 1]) for f in range(n)]
        # closed: XGBoost refuses a category it was not trained on ("Found a category not in the
        # training set"), so do the programs; the empty string is a missing value
        inputs = [Column(c, tensors[f], 0, "string" if f in cats else "number",
                         levels=list(tables.categories[f]) if f in cats else [], closed=f in cats)
                  for f, c in enumerate(names)]
        missing = None if is_model(model) else getattr(model, "missing", None)
        x = xgboost_categories.features(b, tables, lay, {
            f: t if f in cats else xgboost_graph.with_missing(b, t, missing) for f, t in tensors.items()})
    else:
        graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n])]
        inputs = [Column(c, "X", i, "number") for i, c in enumerate(names)]
        x = "X" if is_model(model) else xgboost_graph.with_missing(b, "X", getattr(model, "missing", None))
        if tables.coded_features:
            x = xgboost_categories.features(b, tables, lay, {f: b.column(x, f) for f in range(n)})
    m = xgboost_graph.margin(b, tables, x, rounds, lay)
    if is_model(model):
        outputs, graph_outputs, task, classes = _booster_outputs(b, tables, m)
        reference = _booster_reference(booster, tables, names, cats)
        estimator = f"Booster({tables.booster}, {tables.objective}, {len(trees)} trees)"
    else:
        outputs, graph_outputs, task, classes = _wrapper_outputs(b, tables, m, model)
        reference = _wrapper_reference(model, names, cats, task, tables.integer_categories)
        estimator = type(model).__name__
    proto = boosting_source.model(b, name, graph_inputs, graph_outputs, OPSETS, "modelport-xgboost")
    thresholds = tables.thresholds(names)
    for f in tables.coded_features:  # the codes the splits test, and their neighbours
        codes = sorted({c for s in lay.sets[f] for c in s})
        thresholds[names[f]] = [float(v) for c in codes for v in (c, c + 1)] + [0.0, -1.0]
    hints = {"thresholds": thresholds,
             "levels": {names[f]: list(tables.categories[f]) for f in cats}}
    reason = PRECISION_REASON if precision is None else "float32 asked for; " + PRECISION_REASON
    return SourceModel(proto, Schema(inputs, outputs, task, classes), reference,
                       boosting_source.provenance("xgboost", xgboost.__version__, estimator, source_file), name, hints,
                       precision="float32", precision_reason=reason, reference_float64=True)


def _booster_outputs(b, tables, m) -> tuple:
    pred = xgboost_graph.predict(b, tables, m)
    kind, k = KINDS[tables.transform], tables.n_outputs
    if kind == "label":
        b.op("Reshape", pred, b.const(np.asarray([-1], np.int64)), out="label")
        outputs = [Column("label", "label", 0, "label")]
        graph_outputs = [helper.make_tensor_value_info("label", TensorProto.INT64, [None])]
    else:
        outputs, graph_outputs = boosting_source.tensor_output(b, pred, "prediction", k, kind, TensorProto.FLOAT)
    if tables.transform != "identity":
        more = boosting_source.tensor_output(b, m, "margin", k, "value", TensorProto.FLOAT)
        outputs, graph_outputs = outputs + more[0], graph_outputs + more[1]
    task = "classifier" if kind == "label" else "regressor"
    return outputs, graph_outputs, task, list(range(k)) if kind == "label" else []


def _wrapper_outputs(b, tables, m, wrapper) -> tuple:
    from .sklearn_double_builder import label_table
    from .sklearn_xgboost import CLASSIFIER_OBJECTIVES
    if hasattr(wrapper, "classes_"):
        if tables.objective not in CLASSIFIER_OBJECTIVES:
            raise UnsupportedError(f"{type(wrapper).__name__} with the objective {tables.objective!r} is not "
                                   f"supported; supported: {', '.join(CLASSIFIER_OBJECTIVES)}")
        labels = label_table(wrapper)
        label, probabilities = xgboost_graph.classifier(b, tables, m, labels)
        return boosting_source.classifier_outputs(b, label, probabilities, wrapper, labels, TensorProto.FLOAT)
    y = xgboost_graph.predict(b, tables, m)
    if tables.transform == "argmax":
        y = b.cast(y, TensorProto.FLOAT)
    return (*boosting_source.tensor_output(b, y, "prediction", tables.n_outputs, "value", TensorProto.FLOAT),
            "regressor", [])


def _booster_reference(booster, tables, names, cats):
    import xgboost
    k, kind = tables.n_outputs, KINDS[tables.transform]

    def reference(feed):
        frame = boosting_source.frame(feed, names, cats, tables.integer_categories)
        dm = xgboost.DMatrix(frame, missing=np.nan, enable_categorical=bool(cats),
                             feature_names=booster.feature_names)
        rows = dm.num_row()
        y = np.asarray(booster.predict(dm))
        out = {"label": y.reshape(rows).astype(np.int64)} if kind == "label" else {"prediction": y.reshape(rows, k)}
        if tables.transform != "identity":
            out["margin"] = np.asarray(booster.predict(dm, output_margin=True)).reshape(rows, k)
        return out
    return reference


def _wrapper_reference(wrapper, names, cats, task, integers=()):
    def reference(feed):
        frame = boosting_source.frame(feed, names, cats, integers)
        if task == "classifier":
            return {"label": wrapper.predict(frame), "probabilities": wrapper.predict_proba(frame)}
        y = np.asarray(wrapper.predict(frame))
        return {"prediction": y.reshape(len(frame), -1)}
    return reference

