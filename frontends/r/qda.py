"""MASS::qda (formula and matrix interfaces), as predict.qda with its defaults (the fit's
prior, method "plug-in").

Per class k, with the class's sphering matrix S_k (`scaling[, , k]`) and the log determinant
`ldet[k]`: d_k = 0.5 * |(x - mean_k) S_k|^2 + 0.5 * ldet[k] - log(prior[k]); the posterior is
exp(-(d_k - min_j d_j)) over its row sum. `label` is the first most probable class
(predict.qda's max.col breaks exact ties at random), `prob_<class>` the posterior.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, classifier_outputs
from .lda import R_PREDICT, design

R_MODEL = r"""
function(f) list(prior = unname(f$prior), classes = names(f$prior), means = unname(f$means),
                 columns = colnames(f$means), scaling = as.vector(f$scaling), ldet = unname(f$ldet),
                 formula = !is.null(f$terms))
"""


def convert(fit, g) -> Converted:
    m = bridge.py(bridge.call(R_MODEL, fit))
    prior = np.asarray(m["prior"], dtype=np.float64).reshape(-1)
    classes = list(m["classes"])
    K = len(classes)
    means = np.asarray(m["means"], dtype=np.float64).reshape(K, -1)
    p = means.shape[1]
    scaling = np.asarray(m["scaling"], dtype=np.float64).reshape(K, p, p).transpose(0, 2, 1)  # R's [p, p, K]
    ldet = np.asarray(m["ldet"], dtype=np.float64).reshape(-1)
    if np.any(prior <= 0):
        raise UnsupportedError("qda with a zero prior is not supported (its log is -Inf)")
    names = list(m["columns"] or [f"V{i + 1}" for i in range(p)])
    frame, x = design(fit, g, names, bool(m["formula"][0]))
    dists = []
    for k in range(K):
        dev = g.matmul(g.sub(x, g.const(means[k][None, :])), g.const(scaling[k]))
        sq = g.op("ReduceSum", g.mul(dev, dev), g.const(np.array([1], np.int64), np.int64), keepdims=1)
        dists.append(g.sub(g.add(g.mul(g.const(np.array([[0.5]])), sq), g.const(np.array([[0.5 * ldet[k]]]))),
                           g.const(np.array([[np.log(prior[k])]]))))
    dist = g.concat(dists)
    low = g.op("ReduceMin", dist, g.const(np.array([1], np.int64), np.int64), keepdims=1)
    e = g.op("Exp", g.op("Neg", g.sub(dist, low)))
    total = g.op("ReduceSum", e, g.const(np.array([1], np.int64), np.int64), keepdims=1)
    outputs = classifier_outputs(g, g.div(e, total), classes)
    cols_r = bridge.robjects().NULL if bool(m["formula"][0]) else bridge.robjects().StrVector(names)

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df, cols_r))
        return {"label": np.array(r["label"], dtype=object).reshape(-1, 1),
                "probabilities": np.asarray(r["posterior"], dtype=np.float64).reshape(-1, K)}
    return Converted(frame, outputs, "classifier", reference, classes, f"qda ({K} classes)")
