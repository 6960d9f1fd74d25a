"""SVC, NuSVC, SVR, NuSVR and OneClassSVM in double, as libsvm computes them.

skl2onnx converts them to ai.onnx.ml SVMClassifier / SVMRegressor, whose attributes are
float32 and which ONNX Runtime runs in float32 only. `install()` puts converters in front of
skl2onnx's: for a double input they build the same outputs (names, shapes, meaning) from the
fitted support_vectors_, dual_coef_, intercept_, probA_/probB_ and kernel (linear, poly, rbf,
sigmoid; gamma from `_gamma`) with standard ONNX ops in double, so pipelines get them too;
any other input goes to skl2onnx's own converter.

- decision values: libsvm's one-vs-one values, pair (i, j) summing class i's vectors weighed
  by dual_coef_ row j - 1 and class j's by row i, plus intercept_ (scikit-learn flips the
  signs of both for two classes; libsvm's own are used here);
- `label`: libsvm's vote (a pair's vote to i when its value is above 0; the first class with
  the most votes), or with break_ties the first maximum of the ovr decision function;
- probability=True: `probabilities` are predict_proba, each pair's Platt sigmoid coupled by
  libsvm's multiclass_probability (for two classes too, as scikit-learn's libsvm does), one
  modelport.libsvm:MulticlassProbability node (see passes/ml_to_tensor/_svm_probability.py;
  `sklearn_double_builder.finish` adds its ONNX function to the converted model);
- otherwise the scores as skl2onnx lays them out: more than two classes, ovr: scikit-learn's
  _ovr_decision_function; ovo: the pair values; two classes: [-d, d] for libsvm's value d
  (scikit-learn's decision_function is -d);
- SVR, NuSVR: `variable`; OneClassSVM: `label` (1 where the value is above 0, else -1) and
  `scores` (decision_function).
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError
from modelport.passes.ml_to_tensor import _svm, _svm_probability
from modelport.passes.ml_to_tensor._builder import F64

from .sklearn_double_builder import all_double, converter, install_in_front, label_table

KERNELS = ("linear", "poly", "rbf", "sigmoid")
ALIASES = {"SVC": "SklearnSVC", "NuSVC": "SklearnSVC", "SVR": "SklearnSVR", "NuSVR": "SklearnSVR",
           "OneClassSVM": "SklearnOneClassSVM"}


def install() -> None:
    """Put the double converters in front of skl2onnx's (safe to call repeatedly)."""
    import sklearn.svm
    install_in_front({getattr(sklearn.svm, cls): alias for cls, alias in ALIASES.items()},
                     converter("svm", _build, _ours))


def _ours(operator, container) -> bool:
    """A double input; a kernel neither form supports is refused whatever the input."""
    model = operator.raw_operator
    if model.kernel not in KERNELS:
        raise UnsupportedError(f"{type(model).__name__} with kernel={model.kernel!r} is not supported; "
                               f"supported kernels: {', '.join(KERNELS)}")
    return all_double(operator)


def _build(b, model, operator, container):
    kern = _kernel(b, model, b.input(operator))
    outs = [o.full_name for o in operator.outputs]
    if hasattr(model, "classes_"):
        _classifier(b, model, kern, outs, container.get_options(model, dict(raw_scores=False, nocl=False)))
    else:
        _regressor(b, model, kern, outs)


def _dense(a) -> np.ndarray:
    return np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64)


def _kernel(b, model, x: str) -> str:
    """[N, V] double: K(x, v) for every support vector."""
    sv = _dense(model.support_vectors_)
    return _svm.kernel(b, x, sv, model.kernel.upper(), float(model._gamma), float(model.coef0),
                       float(model.degree))


def _regressor(b, model, kern: str, outs: list) -> None:
    """SVR, NuSVR: `variable`; OneClassSVM: `label`, `scores`. libsvm's sum - rho is
    dual_coef_ . K + intercept_."""
    value = b.op("Add", b.op("MatMul", kern, b.const(_dense(model.dual_coef_).T, hint="dual_coef")),
                 b.const(np.asarray(model.intercept_, np.float64).reshape(1, 1), hint="intercept"))
    if len(outs) == 2:  # OneClassSVM: libsvm's (value > 0) ? 1 : -1
        b.op("Where", b.op("Greater", value, b.const(np.float64(0.0))), b.const(np.int64(1)),
             b.const(np.int64(-1)), out=outs[0])
    b.op("Identity", value, out=outs[-1])


def _classifier(b, model, kern: str, outs: list, options: dict) -> None:
    classes, n_sv = model.classes_, [int(v) for v in model.n_support_]
    C = len(classes)
    if options.get("nocl") or options.get("raw_scores"):
        raise UnsupportedError(f"{type(model).__name__}: skl2onnx's options nocl and raw_scores are not supported "
                               "in double")
    coef, intercept = _dense(model.dual_coef_), np.asarray(model.intercept_, np.float64)
    if C == 2:  # scikit-learn stores libsvm's signs flipped for two classes
        coef, intercept = -coef, -intercept
    pairs = _svm_probability.class_pairs(C)
    starts = np.concatenate([[0], np.cumsum(n_sv)[:-1]]).astype(int)
    weights = np.zeros((coef.shape[1], len(pairs)))
    for p, (i, j) in enumerate(pairs):
        weights[starts[i]:starts[i] + n_sv[i], p] = coef[j - 1, starts[i]:starts[i] + n_sv[i]]
        weights[starts[j]:starts[j] + n_sv[j], p] = coef[i, starts[j]:starts[j] + n_sv[j]]
    dec = b.op("Add", b.op("MatMul", kern, b.const(weights, hint="pair_coef")),
               b.const(intercept.reshape(1, -1), hint="intercept"))
    probability = len(getattr(model, "probA_", [])) > 0
    ovr = None  # the ovr decision function, where the label or the scores need it
    if getattr(model, "decision_function_shape", "ovr") == "ovr" and C > 2 and (model.break_ties or not probability):
        ovr = _ovr(b, dec, pairs, C)
    best = b.op("ArgMax", ovr if ovr and model.break_ties else _votes(b, dec, pairs, C, strict=True), axis=1,
                keepdims=0, select_last_index=0)
    b.op("Gather", b.const(label_table(model)), best, axis=0, out=outs[0])
    if probability:
        r_pairs = _svm_probability.pair_probability(b, dec, np.asarray(model.probA_, np.float64),
                                                    np.asarray(model.probB_, np.float64), np.float64)
        scores = _svm_probability.function_node(b, r_pairs, C)
    elif ovr:
        scores = ovr
    elif C > 2:
        scores = dec
    else:
        scores = b.op("Concat", b.op("Neg", dec), dec, axis=1)
    b.op("Identity", scores, out=outs[1])


def _votes(b, dec: str, pairs: list, C: int, strict: bool) -> str:
    """[N, C] double vote counts: pair (i, j) votes for i when its value is above 0 (`strict`,
    libsvm) or not below 0 (scikit-learn's ovr), else for j."""
    first, second = np.zeros((len(pairs), C)), np.zeros((len(pairs), C))
    for p, (i, j) in enumerate(pairs):
        first[p, i], second[p, j] = 1.0, 1.0
    zero = b.const(np.float64(0.0))
    if strict:  # count the votes for j, moved to i where the value is above 0
        flag, base, moved = b.op("Greater", dec, zero), second, first - second
    else:  # count the votes for i, moved to j where the value is below 0
        flag, base, moved = b.op("Less", dec, zero), first, second - first
    return b.op("Add", b.op("MatMul", b.cast(flag, F64), b.const(moved, hint="votes")),
                b.const(base.sum(axis=0, keepdims=True), hint="votes"))


def _ovr(b, dec: str, pairs: list, C: int) -> str:
    """scikit-learn's _ovr_decision_function(dec < 0, -dec, C): votes plus the summed
    confidences squashed into (-1/3, 1/3)."""
    signs = np.zeros((len(pairs), C))
    for p, (i, j) in enumerate(pairs):
        signs[p, i], signs[p, j] = -1.0, 1.0
    total = b.op("MatMul", b.op("Neg", dec), b.const(signs, hint="confidence_signs"))
    squashed = b.op("Div", total, b.op("Mul", b.const(np.float64(3.0)),
                                       b.op("Add", b.op("Abs", total), b.const(np.float64(1.0)))))
    return b.op("Add", _votes(b, dec, pairs, C, strict=False), squashed)
