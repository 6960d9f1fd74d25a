"""XGBoost's prediction as ONNX nodes, on a graph Builder (passes/ml_to_tensor/_builder.py):
the margins (one TreeEnsembleRegressor, float32) and what the objective makes of them. Used by
the Booster frontend (frontends/xgboost.py) and by the scikit-learn wrappers' converters
(frontends/sklearn_xgboost.py), so both compute the same thing.
"""
from __future__ import annotations

import numpy as np

from modelport.passes.ml_to_tensor._builder import F32

from .xgboost_categories import Layout, layout
from .xgboost_model import Model, regressor_attributes


def as_float32(b, x: str, dtype: str) -> str:
    """XGBoost stores its input as float32 (a DMatrix): a double input is rounded first."""
    return x if dtype == "float32" else b.cast(x, F32)


def with_missing(b, x: str, missing: float | None) -> str:
    """Cells equal to the model's `missing` value become NaN (XGBoost treats them as missing;
    None or NaN: only NaN is)."""
    if missing is None or np.isnan(missing):
        return x
    is_missing = b.op("Equal", x, b.const(np.float32(missing), hint="missing"))
    return b.op("Where", is_missing, b.const(np.float32(np.nan), hint="nan"), x)


def margin(b, model: Model, x: str, rounds: int | None = None, lay: Layout | None = None) -> str:
    """[N, n_outputs] float32: the base margin plus the trees of the first `rounds` rounds,
    reading `x` as `lay` says (xgboost_categories.py; default: the features in order)."""
    trees = model.first_rounds(rounds)
    attrs = regressor_attributes(trees, model.n_outputs, model.base_margin, (lay or layout(model, trees)).split)
    return b.op("TreeEnsembleRegressor", x, domain="ai.onnx.ml", **attrs)


def predict(b, model: Model, m: str) -> str:
    """What Booster.predict returns, from the margins: [N, n_outputs] (float32; int64 class
    indices for multi:softmax)."""
    kind = model.transform
    if kind == "identity":
        return m
    if kind == "sigmoid":
        return b.op("Sigmoid", m)
    if kind == "exp":
        return b.op("Exp", m)
    if kind == "softmax":
        return b.op("Softmax", m, axis=1)
    if kind == "argmax":
        return b.op("ArgMax", m, axis=1, keepdims=1)
    if kind == "hinge":
        return b.cast(b.op("Greater", m, b.const(np.float32(0.0), hint="zero")), F32)
    raise AssertionError(kind)


def classifier(b, model: Model, m: str, classes) -> tuple:
    """(label [N] int64 or strings, probabilities [N, classes] float32) as XGBClassifier's
    predict / predict_proba: binary [1 - p, p] and the second class where p > 0.5; otherwise
    the first class of highest probability."""
    if model.transform == "sigmoid":
        p = b.op("Sigmoid", m)
        probabilities = b.op("Concat", b.op("Sub", b.const(np.ones((1, 1), np.float32), hint="one"), p), p, axis=1)
    else:
        probabilities = b.op("Softmax", m, axis=1)
    best = b.op("ArgMax", probabilities, axis=1, keepdims=0)
    label = b.op("Gather", b.const(classes, hint="classes"), best, axis=0)
    return label, probabilities

