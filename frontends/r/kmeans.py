"""stats::kmeans: each row to its nearest center, as R would assign new rows.

R has no predict() for kmeans; the reference, in R, gives each row the first center at
the smallest squared Euclidean distance (which.min). Input columns are colnames(centers)
(V1, V2, ... when there are none). Outputs `label`, the cluster number (1-based, as
fit$cluster), and `distance_<k>`, the squared Euclidean distance to center k (k = 1..K).
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError
from modelport.schema import Column

from . import bridge
from .converted import Converted, value_output
from .graph import INT64
from .terms import Frame

R_MODEL = "function(f) list(centers = unname(f$centers), columns = colnames(f$centers))"

R_PREDICT = r"""
function(f, d, cols) {
  x <- as.matrix(d[, cols, drop = FALSE]); c <- unname(f$centers)
  dist <- sapply(seq_len(nrow(c)), function(k) colSums((t(x) - c[k, ])^2))
  dist <- matrix(dist, nrow = nrow(x))
  list(label = apply(dist, 1, function(r) if (anyNA(r)) NA else which.min(r)), dist = dist)
}
"""


def convert(fit, g) -> Converted:
    m = bridge.py(bridge.call(R_MODEL, fit))
    centers = np.asarray(m["centers"], dtype=np.float64)
    K, p = centers.shape
    names = list(m["columns"] or [f"V{i + 1}" for i in range(p)])
    if len(set(names)) != len(names):
        raise UnsupportedError("the columns of the kmeans centers have duplicate names")
    frame = Frame.from_columns(g, names)
    x = g.concat([frame.numeric_column(n) for n in names])
    # one difference per center (no |x|^2 - 2 x.c + |c|^2 shortcut: raw data can be large)
    axis = g.const(np.array([1], dtype=np.int64), np.int64)
    dist = g.concat([g.op("ReduceSum", g.mul(d, d), axis, keepdims=1)
                     for d in (g.sub(x, g.const(c[None, :])) for c in centers)])
    # ArgMin takes the first of equal distances, as which.min does
    label = g.add(g.op("ArgMin", dist, axis=1, keepdims=1), g.const(np.array([[1]], dtype=np.int64), np.int64))
    g.output(label, "label", INT64, 1)
    outputs = [Column("label", "label", 0, "label")]
    outputs += value_output(g, dist, "distance", K, names=[str(k + 1) for k in range(K)])
    cols_r = bridge.robjects().StrVector(names)

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df, cols_r))
        return {"label": np.asarray(r["label"], dtype=np.float64).reshape(-1, 1),
                "distance": np.asarray(r["dist"], dtype=np.float64).reshape(-1, K)}
    return Converted(frame, outputs, "cluster", reference, list(range(1, K + 1)), f"kmeans ({K} centers)")
