"""stats::smooth.spline: predict(fit, x)$y (deriv = 0), as stats:::predict.smooth.spline.fit.

x is scaled, xs = (x - min) / range. Inside [0, 1] the value is the cubic B-spline of the fit
(fit$fit: knot, coef) at xs, evaluated as R's Fortran bvalue does for order 4: the knot
interval i (t[i] <= xs < t[i + 1]; i = nk at xs = 1), its four coefficients, dm_j = xs -
t[i + 1 - j] and dp_j = t[i + j] - xs, and de Boor's recursion a_jj <- (a_jj+1 dm + a_jj dp) /
(dm + dp), three levels, every row gathering its own interval's knots and coefficients.
Outside, the line R extrapolates with: the end value plus the end slope times xs (left) or
xs - 1 (right), both computed by R's own predict() at the ends. The input column is the
name of x in the call (`smooth.spline(speed, dist)` reads `speed`), else `x`; the output is
`prediction`. Parity rows take the knots (in x units). R refuses NA x; the compiled model
gives NaN.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, value_output
from .graph import INT64
from .terms import Frame

ORDER = 4  # cubic: the only order smooth.spline fits and bvalus evaluates

# R: the B-spline of the fit, and its end values and slopes as predict.smooth.spline.fit
# computes them for the linear extrapolation.
R_MODEL = r"""
function(f) {
  s <- f$fit
  if (is.null(s) || is.null(s$knot) || is.null(s$coef)) stop("the fit has no B-spline (fit$fit)")
  xr <- c(s$min, s$min + s$range)
  x <- f$call$x
  list(knot = as.numeric(s$knot), coef = as.numeric(s$coef), nk = as.integer(s$nk),
       min = as.numeric(s$min), range = as.numeric(s$range),
       end = predict(s, xr)$y, slope = predict(s, xr, 1)$y * s$range,
       name = if (is.name(x) && !is.null(f$call$y)) as.character(x) else "x")
}
"""

R_PREDICT = "function(f, d, n) predict(f, d[[n]])$y"


def intervals(knot: np.ndarray, coef: np.ndarray, nk: int) -> np.ndarray:
    """Per knot interval i = 4..nk (1-based, as bvalue), the row t[i-2..i+3], a[i-3..i]."""
    rows = []
    for i in range(ORDER, nk + 1):
        rows.append(np.concatenate([knot[i - 3:i + 3], coef[i - 4:i]]))
    return np.asarray(rows, dtype=np.float64)


def bvalue(g, xs: str, knot: np.ndarray, coef: np.ndarray, nk: int) -> str:
    """bvalue(knot, coef, nk, 4, xs, 0) per row (xs [N, 1] double), for 0 <= xs <= 1."""
    def c(v):
        return g.const(np.asarray(v, dtype=np.float64))
    # i = the number of knots <= xs (the last knot interval starting at or before xs),
    # kept to 4..nk: nk at xs = 1 (bvalue's right end), and a valid row elsewhere (rows
    # outside [0, 1] and NaN are replaced afterwards, or stay NaN).
    count = g.matmul(g.to_double(g.op("LessOrEqual", c(knot.reshape(1, -1)), xs)), c(np.ones((len(knot), 1))))
    i = g.op("Min", g.op("Max", count, c([[ORDER]])), c([[nk]]))
    idx = g.op("Cast", g.op("Reshape", g.sub(i, c([[ORDER]])), g.const(np.array([-1], np.int64), np.int64)), to=INT64)
    row = g.op("Gather", g.const(intervals(knot, coef, nk)), idx, axis=0)  # [N, 10]
    dm_rev = g.sub(xs, g.columns(row, [0, 1, 2]))  # dm_3, dm_2, dm_1: xs - t[i-2], t[i-1], t[i]
    dp = g.sub(g.columns(row, [3, 4, 5]), xs)  # dp_1..dp_3: t[i+1..i+3] - xs
    a = g.columns(row, [6, 7, 8, 9])
    for j in range(1, ORDER):
        kmj = ORDER - j
        dm = g.columns(dm_rev, list(range(ORDER - 1 - kmj, ORDER - 1)))  # dm_kmj .. dm_1
        dpj = g.columns(dp, list(range(kmj)))
        num = g.add(g.mul(g.columns(a, list(range(1, kmj + 1))), dm), g.mul(g.columns(a, list(range(kmj))), dpj))
        a = g.div(num, g.add(dm, dpj))
    return a


def convert(fit, g) -> Converted:
    try:
        m = bridge.py(bridge.call(R_MODEL, fit))
    except bridge.RError as exc:
        raise UnsupportedError(f"cannot read the smooth.spline fit: {exc}") from None
    knot = np.asarray(m["knot"], dtype=np.float64).reshape(-1)
    coef = np.asarray(m["coef"], dtype=np.float64).reshape(-1)
    nk = int(bridge.scalar(m["nk"]))
    if len(coef) != nk or len(knot) != nk + ORDER:
        raise UnsupportedError(f"a smooth.spline fit with {len(knot)} knots and {len(coef)} coefficients "
                               f"(nk = {nk}): supported are cubic fits with nk + 4 knots")
    lo, span = float(bridge.scalar(m["min"])), float(bridge.scalar(m["range"]))
    end = np.asarray(m["end"], dtype=np.float64).reshape(-1)
    slope = np.asarray(m["slope"], dtype=np.float64).reshape(-1)
    name = str(bridge.scalar(m["name"]))
    frame = Frame.from_columns(g, [name])

    def c(v):
        return g.const(np.array([[v]], dtype=np.float64))
    xs = g.div(g.sub(frame.numeric_column(name), c(lo)), c(span))
    inside = bvalue(g, xs, knot, coef, nk)
    left = g.add(c(end[0]), g.mul(c(slope[0]), xs))
    right = g.add(c(end[1]), g.mul(c(slope[1]), g.sub(xs, c(1.0))))
    y = g.op("Where", g.op("Less", xs, c(0.0)), left, g.op("Where", g.op("Greater", xs, c(1.0)), right, inside))
    outputs = value_output(g, y, "prediction")
    name_r = bridge.robjects().StrVector([name])

    def reference(df):
        y = bridge.py(bridge.call(R_PREDICT, fit, df, name_r))
        return {"prediction": np.asarray(y, dtype=np.float64).reshape(-1, 1)}
    thresholds = {name: sorted({lo + k * span for k in knot})}
    return Converted(frame, outputs, "regressor", reference, description=f"smooth.spline ({nk} B-splines)",
                     thresholds=thresholds)
