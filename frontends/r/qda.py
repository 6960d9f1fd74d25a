"""MASS::qda (formula and matrix interfaces), as predict.qda with its defaults (the fit's
prior, method "plug-in").

Per class k, with the class's sphering matrix S_k (`scaling[, , k]`) and the log determinant
`ldet[k]`: d_k = 0.5 * |(x - mean_k) S_k|^2 + 0.5 * ldet[k] - log(prior[k]); the posterior is
exp(-(d_k - min_j d_j)) over its row sum. `label` is the first most probable class
(predict.qda's max.col breaks exact ties at random), `prob_<class>` the posterior.
"""
from __future__ import annotations

import numpy as np

from .converted import Converted, classifier_outputs
from .lda import discriminant

R_MODEL = r"""
function(f) list(prior = unname(f$prior), classes = names(f$prior), means = unname(f$means),
                 columns = colnames(f$means), scaling = as.vector(f$scaling), ldet = unname(f$ldet),
                 formula = !is.null(f$terms))
"""


def convert(fit, g) -> Converted:
    m, prior, classes, means, frame, x, reference = discriminant(fit, g, R_MODEL, "qda")
    K, p = means.shape
    scaling = np.asarray(m["scaling"], dtype=np.float64).reshape(K, p, p).transpose(0, 2, 1)  # R's [p, p, K]
    ldet = np.asarray(m["ldet"], dtype=np.float64).reshape(-1)
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
    return Converted(frame, outputs, "classifier", reference, classes, f"qda ({K} classes)")
