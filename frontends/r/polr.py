"""MASS::polr: ordinal regression, as predict.polr computes type = "probs" and "class".

eta = X b (no intercept: the cut points zeta hold it; + offsets); the cumulative probabilities
P(Y <= k) = F(zeta_k - eta) for the q = K - 1 cut points, and the class probabilities their
differences, diff(c(0, cum, 1)). F, by method: logistic 1 / (1 + exp(-x)) (R's plogis),
probit R's pnorm (pnorm.py), loglog exp(-exp(-x)), cloglog 1 - exp(-exp(x)) (R: -expm1(-exp(x)),
which differs by less than 1e-16 absolute). `label` is the first most probable level
(predict.polr's max.col breaks exact ties at random). The cauchit method is refused.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, classifier_outputs
from .lm import linear_predictor
from .pnorm import pnorm

METHODS = ("logistic", "probit", "loglog", "cloglog")
R_MODEL = "function(f) list(zeta = unname(f$zeta), lev = f$lev, method = f$method)"
R_PREDICT = ("function(f, d) list(as.character(predict(f, newdata = d, type = 'class')), "
             "unname(as.matrix(predict(f, newdata = d, type = 'probs'))))")


def cdf(g, method: str, x: str) -> str:
    def c(v):
        return g.const(np.array([[v]], dtype=np.float64))
    if method == "logistic":
        return g.div(c(1.0), g.add(c(1.0), g.op("Exp", g.op("Neg", x))))
    if method == "probit":
        return pnorm(g, x)
    if method == "loglog":
        return g.op("Exp", g.op("Neg", g.op("Exp", g.op("Neg", x))))
    if method == "cloglog":
        return g.sub(c(1.0), g.op("Exp", g.op("Neg", g.op("Exp", x))))
    raise UnsupportedError(f"polr with method {method!r} is not supported; supported methods: {', '.join(METHODS)}")


def convert(fit, g) -> Converted:
    m = bridge.py(bridge.call(R_MODEL, fit))
    zeta = np.asarray(m["zeta"], dtype=np.float64).reshape(1, -1)
    levels = [str(v) for v in m["lev"]]
    method = str(m["method"][0])
    if method not in METHODS:
        cdf(g, method, "")  # refuses, naming the supported methods
    frame, eta = linear_predictor(fit, g, "polr")
    cum = cdf(g, method, g.sub(g.const(zeta), eta))  # [N, K - 1]
    q = zeta.shape[1]
    first = g.op("Slice", cum, g.const(np.array([0], np.int64), np.int64), g.const(np.array([1], np.int64), np.int64),
                 g.const(np.array([1], np.int64), np.int64))
    parts = [first]
    if q > 1:
        upper = g.op("Slice", cum, g.const(np.array([1], np.int64), np.int64), g.const(np.array([q], np.int64), np.int64),
                     g.const(np.array([1], np.int64), np.int64))
        lower = g.op("Slice", cum, g.const(np.array([0], np.int64), np.int64),
                     g.const(np.array([q - 1], np.int64), np.int64), g.const(np.array([1], np.int64), np.int64))
        parts.append(g.sub(upper, lower))
    last = g.op("Slice", cum, g.const(np.array([q - 1], np.int64), np.int64), g.const(np.array([q], np.int64), np.int64),
                g.const(np.array([1], np.int64), np.int64))
    parts.append(g.sub(g.const(np.array([[1.0]])), last))
    probs = g.concat(parts)
    outputs = classifier_outputs(g, probs, levels)

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df))
        return {"label": np.array(r[0], dtype=object).reshape(-1, 1),
                "probabilities": np.asarray(r[1], dtype=np.float64).reshape(-1, len(levels))}
    return Converted(frame, outputs, "classifier", reference, levels, f"polr ({method}, {len(levels)} levels)")
