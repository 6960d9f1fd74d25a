"""LinearSVC, RidgeClassifier and RidgeClassifierCV in double, as scikit-learn computes them.

skl2onnx converts these classifiers (a decision function, no probabilities) to ai.onnx.ml
LinearClassifier with post_transform NONE, which it cannot write in double and ONNX Runtime
runs in float32 only. `install()` puts a converter in front of skl2onnx's: for a double
input, bare or inside a pipeline or an ensemble, scikit-learn's decision function
X @ coef_.T + intercept_ (MatMul, Add) and its label, in double:

- `label`: two classes: classes_[1] where the decision value is above 0, else classes_[0];
  more: the class of the first highest value (scikit-learn's argmax);
- `probabilities`, the scores as skl2onnx lays them out (its declared width): two classes:
  the decision value d ([N, 1]), or [-d, d] where skl2onnx declares two columns
  (RidgeClassifier); more: the decision function [N, C].

Every other classifier skl2onnx converts with LinearClassifier (LogisticRegression,
SGDClassifier, ...: it writes those in double itself), the raw_scores option, multilabel
fits and float inputs go to skl2onnx's converter.
"""
from __future__ import annotations

import numpy as np

from modelport.passes.ml_to_tensor._builder import I64

from .sklearn_double_builder import all_double, converter, install_in_front, label_table


def install() -> None:
    """Put the converters in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.linear_model import RidgeClassifier, RidgeClassifierCV
    from sklearn.svm import LinearSVC
    install_in_front({LinearSVC: "SklearnLinearSVC", RidgeClassifier: "SklearnLinearClassifier",
                      RidgeClassifierCV: "SklearnLinearClassifier"}, converter("linear", _build, _ours))


def _ours(operator, container) -> bool:
    from sklearn.linear_model import RidgeClassifier, RidgeClassifierCV
    from sklearn.svm import LinearSVC
    model = operator.raw_operator
    if not isinstance(model, (LinearSVC, RidgeClassifier, RidgeClassifierCV)) or not all_double(operator):
        return False
    binarizer = getattr(model, "_label_binarizer", None)
    if binarizer is not None and binarizer.y_type_ == "multilabel-indicator":
        return False
    return not container.get_options(model, dict(raw_scores=False))["raw_scores"]


def _build(b, model, operator, container):
    coef = np.atleast_2d(np.asarray(model.coef_, np.float64))  # RidgeClassifierCV's is 1-D for two classes
    k = coef.shape[0]
    intercept = np.broadcast_to(np.asarray(model.intercept_, np.float64).reshape(-1), (k,))
    d = b.op("Add", b.op("MatMul", b.input(operator), b.const(coef.T, hint="coef")),
             b.const(intercept.reshape(1, k), hint="intercept"))
    label, scores = (o.full_name for o in operator.outputs)
    table = b.const(label_table(model), hint="classes")
    if k == 1:
        positive = b.cast(b.op("Greater", d, b.const(np.float64(0.0))), I64)
        b.op("Gather", table, b.op("Reshape", positive, b.const([-1], np.int64)), axis=0, out=label)
        two = operator.outputs[1].type.shape[-1] == 2
        b.op("Concat", b.op("Neg", d), d, axis=1, out=scores) if two else b.op("Identity", d, out=scores)
    else:
        b.op("Gather", table, b.op("ArgMax", d, axis=1, keepdims=0), axis=0, out=label)
        b.op("Identity", d, out=scores)
