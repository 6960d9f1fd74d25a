"""stats::glm: the linear predictor (with offsets) and the inverse link, as
predict.glm(type = "link") and predict.glm(type = "response") compute them.

Links: identity, log, logit, probit, cloglog, inverse, sqrt, 1/mu^2 (every link of the
gaussian, binomial, poisson, Gamma and inverse.gaussian families but cauchit)."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, value_output
from .lm import linear_predictor
from .pnorm import pnorm

LINKS = ("identity", "log", "logit", "probit", "cloglog", "inverse", "sqrt", "1/mu^2")


def inverse_link(g, link: str, eta: str) -> str:
    one = g.const(np.array([[1.0]]))
    if link == "identity":
        return eta
    if link == "log":
        return g.op("Exp", eta)
    if link == "logit":
        return g.op("Sigmoid", eta)
    if link == "probit":
        return pnorm(g, eta)
    if link == "cloglog":
        return g.sub(one, g.op("Exp", g.op("Neg", g.op("Exp", eta))))
    if link == "inverse":
        return g.div(one, eta)
    if link == "sqrt":
        return g.mul(eta, eta)
    if link == "1/mu^2":
        return g.div(one, g.op("Sqrt", eta))
    raise UnsupportedError(f"the glm link {link!r} is not supported; supported links: {', '.join(LINKS)}")


def convert(fit, g) -> Converted:
    fam = bridge.py(bridge.call("function(f) list(family = f$family$family, link = f$family$link)", fit))
    family, link = fam["family"][0], fam["link"][0]
    if link not in LINKS:
        raise UnsupportedError(f"the glm link {link!r} ({family} family) is not supported; "
                               f"supported links: {', '.join(LINKS)}")
    frame, eta = linear_predictor(fit, g, "glm")
    mu = inverse_link(g, link, eta)
    outputs = value_output(g, mu, "prediction") + value_output(g, eta, "link")

    def reference(df):
        r = bridge.py(bridge.call(
            "function(f, d) list(unname(predict(f, newdata = d, type = 'response')), "
            "unname(predict(f, newdata = d, type = 'link')))", fit, df))
        return {"prediction": np.asarray(r[0]).reshape(-1, 1), "link": np.asarray(r[1]).reshape(-1, 1)}
    return Converted(frame, outputs, "regressor", reference, description=f"glm ({family}, {link} link)")
