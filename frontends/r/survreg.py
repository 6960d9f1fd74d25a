"""survival::survreg: parametric survival regression, as predict.survreg computes type =
"lp", "response" and "quantile".

lp = X b (the intercept included; predict.survreg leaves offsets out of new data's
predictions, so fits with offsets are refused); response = itrans(lp): exp for the
distributions on the log scale (weibull, exponential, rayleigh, lognormal/loggaussian,
loglogistic), lp itself for the others (gaussian, logistic, extreme, t). The quantile at
probability p: itrans(X b + q(p) * scale), with q the distribution's quantile function (R
computes q(p) for the compile-time p: constants of the graph) and scale the fit's, or in a
stratified fit with free scales the row's own stratum's (strata() of plain columns; a row of
no stratum gives NA). The probabilities are `attr(fit, "modelport.p") <- c(...)`, set
before saveRDS; default c(0.1, 0.9), as predict.survreg. Custom distributions (a list) are refused.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, value_output
from .coxph import (R_WITHOUT_STRATA, attach_survival, named_outputs, nan_where, option, require_safe_frame, strata_indicator,
                    training_strata)
from .terms import Frame

# distribution -> the inverse of its transformation of time (predict.survreg's itrans)
ITRANS = {"weibull": "exp", "exponential": "exp", "rayleigh": "exp", "lognormal": "exp", "loggaussian": "exp",
          "loglogistic": "exp", "gaussian": "identity", "logistic": "identity", "extreme": "identity",
          "t": "identity"}
DEFAULT_P = (0.1, 0.9)  # predict.survreg's own default

R_MODEL = r"""
function(f, p) {""" + R_WITHOUT_STRATA + r"""
  tt <- f$terms
  if (!is.character(f$dist)) stop("unsupported: a custom distribution (a list)")
  if (!is.null(attr(tt, "offset"))) stop("unsupported: offsets (predict.survreg leaves them out of new data)")
  if (any(is.na(f$coefficients))) stop("unsupported: aliased (NA) coefficients")
  dd <- survival::survreg.distributions[[f$dist]]
  if (!is.null(dd$dist)) dd <- survival::survreg.distributions[[dd$dist]]
  tt2 <- delete.response(tt)
  st <- modelport_without_strata(tt2)
  tt2 <- st$terms
  nvar <- length(f$coefficients)
  list(model = list(coef = unname(f$coefficients), names = names(f$coefficients), dist = f$dist,
                    scale = unname(f$scale), q = dd$quantile(p, f$parm),
                    per_stratum = length(st$vars) > 0 && nvar != ncol(f$var)),
       terms = tt2, xlevels = if (length(f$xlevels)) f$xlevels else list(),
       contrasts = f$contrasts)
}
"""

R_PREDICT = r"""
function(f, d, p) {
  list(lp = unname(predict(f, newdata = d, type = "lp")),
       response = unname(predict(f, newdata = d, type = "response")),
       quantile = unname(as.matrix(predict(f, newdata = d, type = "quantile", p = p))))
}
"""

SUPPORTED = ("survreg with numeric and factor covariates, interactions and formula transforms, strata() of "
             "columns, the distributions " + ", ".join(ITRANS))


def _call(code, *args):
    try:
        return bridge.call(code, *args)
    except bridge.RError as exc:
        msg = str(exc)
        if "unsupported: " in msg:
            raise UnsupportedError("survreg with " + msg.split("unsupported: ", 1)[1].strip() +
                                   " is not supported; supported: " + SUPPORTED) from None
        raise


def convert(fit, g) -> Converted:
    attach_survival()
    ro = bridge.robjects()
    probs = option(fit, "modelport.p", "probabilities in (0, 1)", lambda v: bool(np.all((v > 0) & (v < 1))))
    probs = np.asarray(DEFAULT_P if probs is None else probs, dtype=np.float64)
    rm = _call(R_MODEL, fit, ro.FloatVector(probs))
    get = bridge.function("function(f, n) f[[n]]")
    m = bridge.py(get(rm, "model"))
    dist = str(bridge.scalar(m["dist"]))
    if dist not in ITRANS:
        raise UnsupportedError(f"survreg with the distribution {dist!r} is not supported; supported: "
                               + ", ".join(ITRANS))
    beta = np.asarray(m["coef"], dtype=np.float64).reshape(-1)
    names = list(m["names"])
    scale = np.asarray(m["scale"], dtype=np.float64).reshape(-1)
    q = np.asarray(m["q"], dtype=np.float64).reshape(-1)
    contrasts = get(rm, "contrasts")
    frame = Frame.from_terms(g, get(rm, "terms"), get(rm, "xlevels"),
                             None if contrasts is ro.NULL else contrasts)
    b0 = 0.0
    if "(Intercept)" in names:
        i = names.index("(Intercept)")
        b0, beta, names = beta[i], np.delete(beta, i), names[:i] + names[i + 1:]
    if not names:
        raise UnsupportedError("survreg without covariates (an intercept-only model) is not supported; supported: "
                               + SUPPORTED)
    lp = g.linear(frame.matrix(names), beta, [b0])

    def itrans(v):
        return g.op("Exp", v) if ITRANS[dist] == "exp" else v
    if bool(bridge.scalar(m["per_stratum"])):
        require_safe_frame(fit, "The per-stratum scales of survreg need the strata of the training data, and")
        s = training_strata(fit, means=False)
        levels, inner = s["levels"], s["inner"]
        if len(levels) != scale.size:
            raise UnsupportedError("cannot match the survreg strata to its scales")
        S, none = strata_indicator(frame, g, levels, inner)
        shift = nan_where(g, none, g.matmul(S, g.const(scale[:, None] * q[None, :])))
    else:
        shift = g.const((q * scale[0])[None, :])
    quant = itrans(g.add(lp, shift))
    outputs = value_output(g, itrans(lp), "response") + value_output(g, lp, "lp") + \
        named_outputs(g, quant, "quantile", probs)
    r_p = ro.FloatVector(probs)

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df, r_p))
        return {"lp": np.asarray(r["lp"], dtype=np.float64).reshape(-1, 1),
                "response": np.asarray(r["response"], dtype=np.float64).reshape(-1, 1),
                "quantile": np.asarray(r["quantile"], dtype=np.float64).reshape(-1, len(probs))}
    return Converted(frame, outputs, "regressor", reference,
                     description=f"survreg ({dist}; quantiles at p = {', '.join(f'{p:.15g}' for p in probs)})")
