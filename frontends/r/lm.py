"""stats::lm: the linear predictor X b (+ offsets), as predict.lm computes it.

Aliased coefficients (NA in a rank-deficient fit) count as zero, which is what
predict.lm does. NA in any column the model reads gives NA (na.pass)."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, value_output
from .terms import Frame

R_COEF = "function(f) { b <- coef(f); if (is.matrix(b)) stop('multi-response lm'); list(coef = unname(b), names = names(b)) }"


def linear_predictor(fit, g, label: str):
    """(frame, eta [N, 1] double) of an lm/glm fit."""
    try:
        c = bridge.py(bridge.call(R_COEF, fit))
    except bridge.RError:
        raise UnsupportedError(f"{label} with several response columns (mlm) is not supported") from None
    beta = np.nan_to_num(np.asarray(c["coef"], dtype=np.float64), nan=0.0)
    names = list(c["names"] or [])  # none: a model of offsets only
    get = bridge.function("function(f, n) f[[n]]")
    offset_call = bridge.call("function(f) if (is.null(f$call$offset)) list() else list(f$call$offset)", fit)
    frame = Frame.from_terms(g, get(fit, "terms"), get(fit, "xlevels"), get(fit, "contrasts"), offset_call)
    b0 = 0.0
    if "(Intercept)" in names:
        i = names.index("(Intercept)")
        b0 = beta[i]
        beta = np.delete(beta, i)
        names = names[:i] + names[i + 1:]
    off = frame.offset()
    if not names and "(Intercept)" not in (c["names"] or []):
        if off is None:
            raise UnsupportedError(f"{label} without coefficients or offsets (a constant 0) is not supported")
        return frame, off
    x = frame.matrix(names)
    eta = g.linear(x, beta, [b0])
    if off is not None:
        eta = g.add(eta, off)
    return frame, eta


def convert(fit, g) -> Converted:
    frame, eta = linear_predictor(fit, g, "lm")
    outputs = value_output(g, eta, "prediction")

    def reference(df):
        y = bridge.py(bridge.call("function(f, d) unname(predict(f, newdata = d))", fit, df))
        return {"prediction": np.asarray(y, dtype=np.float64).reshape(-1, 1)}
    return Converted(frame, outputs, "regressor", reference, description="lm")
