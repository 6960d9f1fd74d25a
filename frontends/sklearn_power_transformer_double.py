"""PowerTransformer in double, as scikit-learn (through scipy) computes it.

skl2onnx declares its output float and mixes float constants into a double graph (ONNX
Runtime refuses it).
`install()` puts a converter in front of it: for a double input, per column with its
lambdas_ (scipy's formulas):

- yeo-johnson: x >= 0: expm1(l * log1p(x)) / l (log1p(x) where l is 0);
  x < 0: -expm1((2 - l) * log1p(-x)) / (2 - l) (-log1p(-x) where l is 2);
- box-cox: expm1(l * log(x)) / l (log(x) where |l| < 1e-19);

then, with standardize, (y - mean_) / scale_ of the fitted scaler. ONNX has no log1p or
expm1: they are built from Log and Exp with the classic corrections (log1p(a) =
log(u) * a / (u - 1) for u = 1 + a; expm1(y) = (u - 1) * y / log(u) for u = exp(y), |y| < 1/2),
which keep them within a few ulps where the plain forms lose digits near 0.
Other inputs go to skl2onnx's converter.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from .sklearn_double_builder import converter, double_outputs, install_in_front

EPS = float(np.finfo(np.float64).eps)  # scipy's test for l == 0 and l == 2 (yeo-johnson)
BOXCOX_ZERO = 1e-19  # scipy.special.boxcox's test for l == 0


def install() -> None:
    """Put the converter in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.preprocessing import PowerTransformer
    install_in_front({PowerTransformer: "SklearnPowerTransformer"}, converter("power", _build), shape=double_outputs)


def _build(b, model, operator, container):
    x = b.input(operator)
    lam = np.asarray(model.lambdas_, np.float64).reshape(1, -1)
    if model.method == "yeo-johnson":
        y = _yeo_johnson(b, x, lam)
    elif model.method == "box-cox":
        y = _power(b, b.op("Log", x), lam, np.abs(lam) < BOXCOX_ZERO)
    else:
        raise UnsupportedError(f"PowerTransformer(method={model.method!r}) is not supported: supported are "
                               "yeo-johnson and box-cox")
    if model.standardize:
        scaler = model._scaler
        if getattr(scaler, "mean_", None) is not None and scaler.with_mean:
            y = b.op("Sub", y, b.const(np.asarray(scaler.mean_, np.float64).reshape(1, -1), hint="mean"))
        if getattr(scaler, "scale_", None) is not None and scaler.with_std:
            y = b.op("Div", y, b.const(np.asarray(scaler.scale_, np.float64).reshape(1, -1), hint="scale"))
    b.op("Identity", y, out=operator.outputs[0].full_name)


def _yeo_johnson(b, x: str, lam: np.ndarray) -> str:
    """scipy's _yeojohnson_transform: both signs at once, through |x| and a per-element power."""
    negative = b.op("Less", x, b.const(np.float64(0.0)))  # NaN stays NaN either way
    power = b.op("Where", negative, b.const(2.0 - lam, hint="lambda"), b.const(lam, hint="lambda"))
    plain = b.op("Less", b.op("Abs", power), b.const(np.float64(EPS)))
    y = _power(b, _log1p(b, b.op("Abs", x)), power, plain)
    return b.op("Where", negative, b.op("Neg", y), y)


def _power(b, log_x: str, power, plain) -> str:
    """expm1(power * log_x) / power, or log_x where `plain` (a bool value or constant)."""
    if isinstance(plain, np.ndarray):
        plain = b.const(plain, hint="plain")
    if isinstance(power, np.ndarray):
        power = b.const(power, hint="lambda")
    return b.op("Where", plain, log_x, b.op("Div", _expm1(b, b.op("Mul", power, log_x)), power))


def _log1p(b, a: str) -> str:
    """log(1 + a) to a few ulps: log(u) * (a / (u - 1)) for u = 1 + a (a where u is 1)."""
    u = b.op("Add", b.const(np.float64(1.0)), a)
    corrected = b.op("Mul", b.op("Log", u), b.op("Div", a, b.op("Sub", u, b.const(np.float64(1.0)))))
    return b.op("Where", b.op("Equal", u, b.const(np.float64(1.0))), a, corrected)


def _expm1(b, y: str) -> str:
    """exp(y) - 1 to a few ulps: for |y| < 1/2, (u - 1) * y / log(u) for u = exp(y) (y where u is
    1); elsewhere u - 1, which loses nothing there."""
    one = b.const(np.float64(1.0))
    u = b.op("Exp", y)
    u1 = b.op("Sub", u, one)
    corrected = b.op("Div", b.op("Mul", u1, y), b.op("Log", u))
    small = b.op("Where", b.op("Equal", u, one), y, corrected)
    return b.op("Where", b.op("Less", b.op("Abs", y), b.const(np.float64(0.5))), small, u1)
