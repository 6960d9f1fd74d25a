"""Shared by SVMClassifier and SVMRegressor (and scikit-learn's double SVMs,
frontends/sklearn_svm_double.py): the kernel between each row and each support vector.

As ONNX Runtime's SVMCommon (svmclassifier.h): LINEAR x.v, POLY (gamma x.v + coef0)^degree,
RBF exp(-gamma |x - v|^2), SIGMOID tanh(gamma x.v + coef0). ONNX Runtime converts the input to
float32 and evaluates in float32; this evaluates in float64 from the same float32 input, which
stays within float32 rounding of it (the double SVMs pass their double input, as libsvm).
|x - v|^2 is expanded to |x|^2 - 2 x.v + |v|^2 to keep memory at [N, vectors] (in float64 the
cancellation costs ~1e-16 gamma (|x|^2 + |v|^2) relative in K(x, v), far below float32's).
"""
from __future__ import annotations

import numpy as np

from ...errors import UnsupportedError
# The kernel type and parameters are read as the C++/Java kernels read them.
from ...ops._svm import params  # noqa: F401  (the svm op modules take it from here)
from ._builder import F32, F64, Builder, Value


def input64(b: Builder, x: Value) -> str:
    """[N, F] float64 holding the float32 values ONNX Runtime computes with."""
    if x.dtype == np.object_ or x.classes is not None:
        raise UnsupportedError(f"SVMs over the string value {x.name!r} are not supported")
    name = b.rows(x)
    if x.dtype != np.float32:
        name = b.cast(name, F32)
    return b.cast(name, F64)


def kernel(b: Builder, x64: str, vectors: np.ndarray, kind: str, gamma: float, coef0: float, degree: float) -> str:
    """[N, V] float64: K(x, v) for every row and support vector (vectors: [V, F], float32 or float64)."""
    v64 = vectors.astype(np.float64)
    dot = b.op("MatMul", x64, b.const(v64.T, hint="support_vectors"))
    f = lambda v: b.const(np.float64(v))  # noqa: E731
    if kind == "LINEAR":
        return dot
    if kind == "RBF":
        xx = b.reduce("ReduceSumSquare", x64, [1], keepdims=1)
        d = b.op("Add", b.op("Sub", xx, b.op("Mul", dot, f(2.0))), b.const((v64 * v64).sum(axis=1), hint="sv_norms"))
        d = b.op("Max", d, f(0.0))
        # An infinite input: |x - v|^2 is +inf (the expansion would give inf - inf = NaN).
        infinite = b.op("Equal", b.reduce("ReduceMax", b.op("Abs", x64), [1], keepdims=1), f(np.inf))
        d = b.where(infinite, f(np.inf), d)
        return b.op("Exp", b.op("Mul", d, f(-gamma)))
    t = b.op("Add", b.op("Mul", dot, f(gamma)), f(coef0))
    if kind == "SIGMOID":
        return b.op("Tanh", t)
    return b.op("Pow", t, f(degree))
