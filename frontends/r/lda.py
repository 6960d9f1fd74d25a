"""MASS::lda (formula and matrix interfaces), as predict.lda with its defaults (the fit's
prior, method "plug-in", all discriminants).

The posterior is a softmax of scores linear in x: with the prior-weighted mean m,
dm = (means - m) %*% scaling, the score of class k is
x_c %*% scaling %*% dm[k, ] - |dm[k, ]|^2 / 2 + log(prior[k]), x_c = x - m.
Outputs `label` (predict()$class) and `prob_<class>` (predict()$posterior).
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, classifier_outputs
from .terms import Frame

R_MODEL = r"""
function(f) list(prior = unname(f$prior), classes = names(f$prior), means = unname(f$means),
                 columns = colnames(f$means), scaling = unname(as.matrix(f$scaling)),
                 formula = !is.null(f$terms))
"""

R_PREDICT = r"""
function(f, d, cols) {
  x <- if (is.null(cols)) d else as.matrix(d[, cols, drop = FALSE])
  p <- predict(f, x)
  list(label = as.character(p$class), posterior = unname(p$posterior))
}
"""


def design(fit, g, names: list, formula: bool) -> tuple:
    """(frame, x [N, p]) of a MASS discriminant fit (lda, qda): the model matrix of its
    formula without the intercept, or the columns of its x matrix."""
    if formula:
        get = bridge.function("function(f, n) f[[n]]")
        frame = Frame.from_terms(g, get(fit, "terms"), get(fit, "xlevels"), get(fit, "contrasts"))
        return frame, frame.matrix(names)
    if len(set(names)) != len(names):
        raise UnsupportedError("the columns of x have duplicate names; give them distinct colnames")
    frame = Frame.from_columns(g, names)
    return frame, g.concat([frame.numeric_column(n) for n in names])


def discriminant(fit, g, r_model: str, label: str) -> tuple:
    """What lda and qda read alike: (R's fields, prior [K], classes, means [K, p], frame,
    x [N, p], reference: R's predict() as the outputs `label` and `probabilities`)."""
    m = bridge.py(bridge.call(r_model, fit))
    prior = np.asarray(m["prior"], dtype=np.float64).reshape(-1)
    classes = list(m["classes"])
    K = len(classes)
    means = np.asarray(m["means"], dtype=np.float64).reshape(K, -1)
    if np.any(prior <= 0):
        raise UnsupportedError(f"{label} with a zero prior is not supported (its log is -Inf)")
    names = list(m["columns"] or [f"V{i + 1}" for i in range(means.shape[1])])
    formula = bool(m["formula"][0])
    frame, x = design(fit, g, names, formula)
    cols_r = bridge.robjects().NULL if formula else bridge.robjects().StrVector(names)

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df, cols_r))
        return {"label": np.array(r["label"], dtype=object).reshape(-1, 1),
                "probabilities": np.asarray(r["posterior"], dtype=np.float64).reshape(-1, K)}
    return m, prior, classes, means, frame, x, reference


def convert(fit, g) -> Converted:
    m, prior, classes, means, frame, x, reference = discriminant(fit, g, R_MODEL, "lda")
    scaling = np.asarray(m["scaling"], dtype=np.float64).reshape(means.shape[1], -1)
    center = prior @ means
    dm = (means - center) @ scaling  # [K, dimen]
    W = scaling @ dm.T  # [p, K]
    b = np.log(prior) - 0.5 * (dm ** 2).sum(1)
    # centre first (as predict.lda does) rather than folding the centre into the bias
    scores = g.linear(g.sub(x, g.const(center[None, :])), W, b)
    outputs = classifier_outputs(g, g.op("Softmax", scores, axis=1), classes, label_from=scores)
    return Converted(frame, outputs, "classifier", reference, classes, f"lda ({len(classes)} classes)")
