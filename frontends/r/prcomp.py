"""stats::prcomp: principal component scores, as predict.prcomp: (x - center) / scale %*% rotation.

Input columns are rownames(rotation) (V1, V2, ... when there are none), as predict()
reads them: a prcomp(~ log(a) + b) fit reads a column named "log(a)", as predict() does.
Outputs `PC1`, `PC2`, ... (colnames(rotation)), one per component kept.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError
from modelport.schema import Column

from . import bridge
from .converted import Converted
from .terms import Frame

R_MODEL = r"""
function(f) list(rotation = unname(f$rotation), columns = rownames(f$rotation), pcs = colnames(f$rotation),
                 center = if (is.numeric(f$center)) unname(f$center) else NULL,
                 scale = if (is.numeric(f$scale)) unname(f$scale) else NULL)
"""

R_PREDICT = r"""
function(f, d, cols, named) {
  x <- as.matrix(d[, cols, drop = FALSE]); if (!named) colnames(x) <- NULL
  unname(predict(f, x))
}
"""


def convert(fit, g) -> Converted:
    m = bridge.py(bridge.call(R_MODEL, fit))
    rot = np.asarray(m["rotation"], dtype=np.float64)
    p, k = rot.shape
    named = bool(m["columns"])
    names = list(m["columns"] or [f"V{i + 1}" for i in range(p)])
    if len(set(names)) != len(names):
        raise UnsupportedError("the rows of the prcomp rotation have duplicate names")
    pcs = list(m["pcs"] or [f"PC{i + 1}" for i in range(k)])
    frame = Frame.from_columns(g, names)
    x = g.concat([frame.numeric_column(n) for n in names])
    if m["center"] is not None:
        x = g.sub(x, g.const(np.asarray(m["center"], dtype=np.float64).reshape(1, -1)))
    if m["scale"] is not None:
        x = g.div(x, g.const(np.asarray(m["scale"], dtype=np.float64).reshape(1, -1)))
    scores = g.matmul(x, g.const(rot))
    # one output per component, named as R names them (PC1, PC2, ...)
    g.output(g.to_number(scores), "scores", g.number, k)
    outputs = [Column(pc, "scores", i, "value") for i, pc in enumerate(pcs)]
    cols_r = bridge.robjects().StrVector(names)

    def reference(df):
        return {"scores": np.asarray(bridge.py(bridge.call(R_PREDICT, fit, df, cols_r, named)),
                                     dtype=np.float64).reshape(-1, k)}
    return Converted(frame, outputs, "transformer", reference, description=f"prcomp ({k} components)")
