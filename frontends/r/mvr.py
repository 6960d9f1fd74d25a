"""pls::mvr (plsr, pcr, cppls, mvr: every method), as predict.mvr at one number of components.

The number of components is the fit's (`ncomp`: all fitted components, predict.mvr's
default), unless the fit carries another: `attr(fit, "modelport.ncomp") <- 2` before saveRDS
(a whole number from 1 to the fit's ncomp). predict.mvr divides the model-matrix columns by
`scale` (when the fit was scaled) and computes x %*% B + B0 with B = coefficients[, , ncomp]
and B0 = Ymeans - Xmeans %*% B (coef(fit, ncomp, intercept = TRUE), read from R). Formula
interface (factors, interactions, transforms: terms.Frame); a matrix variable inside the
formula (`y ~ NIR`) is refused, naming the columns it would need. Outputs: `prediction`, or
`prediction_<response>` per column of a multi-response fit.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError, UsageError

from . import bridge
from .converted import Converted, value_output
from .terms import Frame

R_OPTION = "function(f) { k <- attr(f, 'modelport.ncomp'); if (is.null(k)) NULL else k }"

# R: the coefficients at ncomp with the intercept row first, as predict.mvr takes them.
R_MODEL = r"""
function(f, k) {
  if (is.null(f$terms)) stop("an mvr fit without terms")
  if (!is.data.frame(f$model)) stop("the fit keeps no model frame (fitted with model = FALSE)")
  tt <- delete.response(f$terms)
  vars <- as.list(attr(tt, "variables"))[-1]
  mats <- Filter(function(v) is.name(v) && is.matrix(f$model[[as.character(v)]]), vars)
  if (length(mats)) stop("the formula reads the matrix variable ", as.character(mats[[1]]),
                         " (one input column per matrix column is not supported)")
  B <- coef(f, ncomp = k, intercept = TRUE)
  list(coef = unname(matrix(B[, , 1], nrow = dim(B)[1])), rows = dimnames(B)[[1]],
       responses = dimnames(B)[[2]], scale = if (is.null(f$scale)) NULL else unname(as.numeric(f$scale)),
       method = f$method, xlevels = .getXlevels(tt, f$model),
       contrasts = attr(model.matrix(tt, f$model), "contrasts"))
}
"""

R_PREDICT = r"""
function(f, d, k) {
  p <- predict(f, newdata = d, ncomp = k)
  unname(matrix(p[, , 1], nrow = dim(p)[1]))
}
"""

R_NCOMP = "function(f) f$ncomp"


def ncomp_option(fit, fitted: int) -> int:
    """attr(fit, "modelport.ncomp") if set (a whole number in 1..fitted), else `fitted`."""
    v = bridge.py(bridge.call(R_OPTION, fit))
    if v is None:
        return fitted
    arr = np.asarray(v if not isinstance(v, list) else [np.nan], dtype=np.float64).reshape(-1)
    if arr.size != 1 or not np.isfinite(arr[0]) or arr[0] != np.round(arr[0]) or not 1 <= arr[0] <= fitted:
        raise UsageError(f"attr(fit, 'modelport.ncomp') must be one whole number from 1 to {fitted} "
                         f"(the fit's ncomp), not {v}")
    return int(arr[0])


def convert(fit, g) -> Converted:
    fitted = int(bridge.scalar(bridge.py(bridge.call(R_NCOMP, fit))))
    k = ncomp_option(fit, fitted)
    try:
        info = bridge.call(R_MODEL, fit, k)
    except bridge.RError as exc:
        raise UnsupportedError(f"this mvr fit is not supported: {exc}; supported are formulas of "
                               "data-frame columns (numbers, factors, transforms, interactions) on fits "
                               "that keep their model frame (model = TRUE, the default)") from None
    m = bridge.py(info)
    coef = np.asarray(m["coef"], dtype=np.float64)
    rows, responses = list(m["rows"]), list(m["responses"] or [])
    if rows[0] != "(Intercept)":
        raise UnsupportedError("an mvr fit without an intercept row in coef(fit, intercept = TRUE)")
    get = bridge.function("function(f, n) f[[n]]")
    frame = Frame.from_terms(g, get(fit, "terms"), get(info, "xlevels"), get(info, "contrasts"))
    x = frame.matrix(rows[1:])
    if m["scale"] is not None:
        scale = np.asarray(m["scale"], dtype=np.float64).reshape(1, -1)
        x = g.div(x, g.const(scale))
    y = g.linear(x, coef[1:], coef[0])
    width = coef.shape[1]
    outputs = value_output(g, y, "prediction", width, names=responses if width > 1 else None)
    method = str(bridge.scalar(m["method"]))

    def reference(df):
        p = bridge.py(bridge.call(R_PREDICT, fit, df, k))
        return {"prediction": np.asarray(p, dtype=np.float64).reshape(-1, width)}
    return Converted(frame, outputs, "regressor", reference,
                     description=f"mvr ({method}, {k} of {fitted} components)")
