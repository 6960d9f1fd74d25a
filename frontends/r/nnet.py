"""nnet::nnet (one hidden layer, optional skip-layer links) and nnet::multinom, as predict().

The network is read from fit$wts along fit$conn/fit$nconn, so any connection pattern
nnet builds is reproduced: logistic hidden units, output units logistic (entropy or
least squares), linear (linout) or softmax. Fits with a factor response (formula
interface, or multinom) are classifiers: `label` (type = "class") and `prob_<level>`
(type = "raw"/"probs"; one output unit is the probability of the second level, the first
gets 1 - p). An x-interface fit on class.ind(y) is a classifier over colnames(y) (label:
the first column with the largest output). Any other fit outputs `prediction` (one column
per output unit: `prediction_<name>` with several).
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, classifier_outputs, value_output
from .terms import Frame

R_MODEL = r"""
function(f) {
  out <- colnames(f$fitted.values)
  list(n = f$n, nconn = f$nconn, conn = f$conn, wts = f$wts, nsunits = f$nsunits, softmax = f$softmax,
       censored = f$censored, entropy = f$entropy, lev = f$lev, coefnames = f$coefnames,
       outputs = out, formula = !is.null(f$terms), multinom = inherits(f, "multinom"),
       columns = if (is.null(f$terms)) tryCatch(colnames(eval(f$call$x, globalenv())), error = function(e) NULL))
}
"""

# R: the data frame's columns as the x-interface fit reads them (by position).
R_PREDICT = r"""
function(f, d, cols, type) {
  x <- if (is.null(cols)) d else as.matrix(d[, cols, drop = FALSE])
  z <- if (inherits(f, "multinom")) predict(f, x, type = "probs") else predict(f, x, type = "raw")
  z <- matrix(z, nrow = nrow(d))
  lab <- if (type == "class") as.character(predict(f, x, type = "class")) else
         if (type == "columns") colnames(f$fitted.values)[max.col(z, ties.method = "first")] else NULL
  list(z = z, label = lab)
}
"""


def sigmoid(g, v):
    """nnet's sigmoid: 0 below -15, 1 above 15, else 1 / (1 + exp(-v)) (nnet.c)."""
    s = g.op("Sigmoid", v)
    s = g.op("Where", g.op("Less", v, g.const(np.array([[-15.0]]))), g.const(np.array([[0.0]])), s)
    return g.op("Where", g.op("Greater", v, g.const(np.array([[15.0]]))), g.const(np.array([[1.0]])), s)


def network(g, x, m, constant=()):
    """The output units [N, nout] double of the net on inputs x [N, k] (nnet.c's fpass);
    input units in `constant` (0-based) are always 1 and are not in x."""
    n_in, n_hid, n_out = bridge.ints(m["n"])
    nconn, conn = bridge.ints(m["nconn"]), bridge.ints(m["conn"])
    wts = np.asarray(m["wts"], dtype=np.float64).reshape(-1)
    nsunits = int(bridge.scalar(m["nsunits"]))
    first_out = 1 + n_in + n_hid
    # row of each unit in the concatenation [1, x, hidden]; unit 0 is the bias
    row, nxt = {0: 0}, 1
    for u in range(1, first_out):
        if u <= n_in and u - 1 in constant:
            row[u] = 0
        else:
            row[u], nxt = nxt, nxt + 1
    units = [x]

    def layer(lo, hi):
        """Units lo..hi-1, each the weighted sum of earlier units: one MatMul for them all."""
        W = np.zeros((max(row[u] for u in range(lo)) + 1, hi - lo))
        for u in range(lo, hi):
            for c in range(nconn[u], nconn[u + 1]):
                if conn[c] >= lo:
                    raise UnsupportedError("nnet connections within one layer are not supported")
                W[row[conn[c]], u - lo] += wts[c]
        return g.add(g.matmul(g.concat(units), g.const(W[1:])), g.const(W[:1]))

    if n_hid:
        h = layer(1 + n_in, first_out)
        units.append(sigmoid(g, h) if nsunits > 1 + n_in else h)
    z = layer(first_out, first_out + n_out)
    if nsunits > first_out:
        if nsunits < first_out + n_out:
            raise UnsupportedError("nnet with some output units logistic and others linear is not supported")
        z = sigmoid(g, z)
    if bool(bridge.scalar(m["softmax"])):
        z = g.op("Softmax", z, axis=1)
    return z


def convert(fit, g) -> Converted:
    m = bridge.py(bridge.call(R_MODEL, fit))
    if bool(bridge.scalar(m["censored"])):
        raise UnsupportedError("nnet fits with censored = TRUE are not supported; supported: linout, entropy, "
                               "softmax and least-squares logistic outputs")
    ro = bridge.robjects()
    formula = bool(m["formula"][0])
    multinom = bool(m["multinom"][0])
    names = m["coefnames"] if formula else None
    if formula:
        get = bridge.function("function(f, n) f[[n]]")
        frame = Frame.from_terms(g, get(fit, "terms"), get(fit, "xlevels"), get(fit, "contrasts"))
        # multinom keeps the intercept as an input unit (always 1); nnet drops it
        constant = [i for i, n in enumerate(names) if n == "(Intercept)"]
        x = frame.matrix([n for n in names if n != "(Intercept)"])
    else:
        n_in = bridge.ints(m["n"])[0]
        names = m["columns"] or [f"V{i + 1}" for i in range(n_in)]
        if len(names) != n_in or len(set(names)) != n_in:
            raise UnsupportedError("the x of the nnet fit does not give one distinct name per input column")
        frame = Frame.from_columns(g, names)
        x = g.concat([frame.numeric_column(n) for n in names])
        constant = []
    z = network(g, x, m, constant)
    n_out = bridge.ints(m["n"])[2]
    lev, outs = m["lev"], m["outputs"]
    if lev:
        classes, label_type = list(lev), "class"
    elif not formula and n_out > 1 and bool(bridge.scalar(m["softmax"])) and outs:
        classes, label_type = list(outs), "columns"
    else:
        classes, label_type = [], "raw"
    if classes and n_out == 1:
        # one unit: P(second level); type = "class" is the second level where p > 0.5
        probs = g.concat([g.sub(g.const(np.ones((1, 1))), z), z])
        above = g.to_double(g.op("Greater", z, g.const(np.array([[0.5]]))))
        decide = g.concat([g.sub(g.const(np.ones((1, 1))), above), above])
        outputs = classifier_outputs(g, probs, classes, label_from=decide)
    elif classes:
        outputs = classifier_outputs(g, z, classes)
    else:
        outputs = value_output(g, z, "prediction", n_out, names=outs)
    cols_r = ro.NULL if formula else ro.StrVector(names)
    desc = "multinom" if multinom else f"nnet ({bridge.ints(m['n'])[1]} hidden units)"

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df, cols_r, label_type))
        zz = np.asarray(r["z"], dtype=np.float64).reshape(-1, n_out)
        if not classes:
            return {"prediction": zz}
        probs = np.column_stack([1.0 - zz[:, 0], zz[:, 0]]) if n_out == 1 else zz
        return {"label": np.array(r["label"], dtype=object).reshape(-1, 1), "probabilities": probs}
    return Converted(frame, outputs, "classifier" if classes else "regressor", reference, classes, desc)
