"""e1071::svm (libsvm): C/nu-classification, eps/nu-regression and one-classification, as predict.svm.

Kernels: linear, polynomial, radial, sigmoid; formula and matrix interfaces; e1071's
scaling of x (and of y for regression). Classifiers output `label` (libsvm's one-vs-one
vote, first class in libsvm's order on a tie, as predict() decides it), then with
probability = TRUE `prob_<class>` (attr(, "probabilities"), libsvm's pairwise coupling)
or else `score_<class>` (the votes each class got), and `decision_<a>/<b>` (the pairwise
decision values, attr(, "decision.values")). Regression outputs `prediction`;
one-classification `label` (TRUE inside) and `score_FALSE`, `score_TRUE` (-d, d for
the decision value d). Class columns follow
fit$levels. A formula fit with factors needs its training data reachable (the data=
argument) for the factor levels, which svm objects do not keep.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError
from modelport.passes.ml_to_tensor import _svm_probability
from modelport.passes.ml_to_tensor._builder import Builder

from . import bridge
from .converted import Converted, classifier_outputs, value_output
from .graph import OPSETS
from .terms import Frame

KERNELS = {0: "LINEAR", 1: "POLY", 2: "RBF", 3: "SIGMOID"}
TYPES = {0: "C-classification", 1: "nu-classification", 2: "one-classification", 3: "eps-regression",
         4: "nu-regression"}

R_MODEL = r"""
function(f) {
  sv <- as.matrix(f$SV)
  list(type = f$type, kernel = f$kernel, degree = f$degree, gamma = f$gamma, coef0 = f$coef0,
       levels = if (is.character(f$levels)) f$levels else NULL, labels = f$labels, nSV = f$nSV,
       sv = unname(sv), columns = colnames(sv), coefs = unname(as.matrix(f$coefs)), rho = f$rho,
       compprob = isTRUE(f$compprob), probA = f$probA, probB = f$probB, scaled = as.logical(f$scaled),
       center = unname(f$x.scale[[1]]), scale = unname(f$x.scale[[2]]),
       ycenter = if (is.null(f$y.scale)) NULL else unname(f$y.scale[[1]]),
       yscale = if (is.null(f$y.scale)) NULL else unname(f$y.scale[[2]]),
       formula = inherits(f, "svm.formula"))
}
"""

# R: the terms as model.matrix reads them without an intercept: the first factor of the first
# term that has one is coded by all its levels (modelmatrix() in R's C code does this), and
# the factor levels, from the training data (svm objects keep neither).
R_TERMS = r"""
function(f) {
  tt <- delete.response(f$terms)
  fac <- attr(tt, "factors"); dc <- attr(tt, "dataClasses")
  fcls <- c("factor", "ordered", "character", "logical")
  isf <- if (length(fac)) rownames(fac) %in% names(dc)[dc %in% fcls] else logical(0)
  if (any(isf) && attr(tt, "intercept") == 0) {
    done <- FALSE
    for (j in seq_len(ncol(fac))) for (i in seq_len(nrow(fac)))
      if (!done && isf[i] && fac[i, j] > 0) { fac[i, j] <- 2L; done <- TRUE }
    attr(tt, "factors") <- fac
  }
  xl <- NULL
  if (any(isf)) {
    d <- tryCatch(eval(f$call$data, environment(f$terms)), error = function(e) NULL)
    if (!is.null(d)) xl <- .getXlevels(tt, model.frame(tt, as.data.frame(d), na.action = na.pass))
  }
  list(terms = tt, xlevels = xl, factors = rownames(fac)[isf])
}
"""

R_PREDICT = r"""
function(f, d, cols, formula, prob) {
  x <- if (formula) d else as.matrix(d[, cols, drop = FALSE])
  # the label of a plain predict() (votes; with probability = TRUE it is the most probable class)
  p <- predict(f, x, decision.values = TRUE)
  if (length(p) != nrow(d)) stop("predict() dropped rows with missing values")
  pr <- if (prob) attr(predict(f, x, probability = TRUE), "probabilities") else NULL
  list(value = if (is.factor(p)) as.character(p) else as.vector(p), dec = unname(attr(p, "decision.values")),
       prob = pr)
}
"""


def _frame(fit, g, m):
    columns = m["columns"]
    if not m["formula"][0]:
        names = columns or [f"V{i + 1}" for i in range(m["sv"].shape[1])]
        if len(set(names)) != len(names):
            raise UnsupportedError("the columns of x have duplicate names; give them distinct colnames")
        frame = Frame.from_columns(g, names)
        return frame, g.concat([frame.numeric_column(n) for n in names]), names
    t = bridge.call(R_TERMS, fit)
    info = bridge.py(bridge.call("function(t) list(xlevels = t$xlevels, factors = t$factors)", t))
    factors = info["factors"] or []
    xlevels = info["xlevels"] or {}
    if any(f not in xlevels for f in factors):
        raise UnsupportedError("the svm formula has the factor(s) " + ", ".join(factors) + ", whose levels the "
                               "svm object does not keep; its training data (the data= argument) must be "
                               "reachable when it is converted")
    get = bridge.function("function(t, n) t[[n]]")
    frame = Frame.from_terms(g, get(t, "terms"), get(t, "xlevels"))
    return frame, frame.matrix(columns), None


def _kernel(g, x, sv, kind, gamma, coef0, degree):
    """K(x, sv) for every support vector: [N, V] double."""
    dot = g.matmul(x, g.const(sv.T))
    if kind == "LINEAR":
        return dot
    if kind == "RBF":
        # |x - v|^2 = |x|^2 - 2 x.v + |v|^2: in double the cancellation costs ~1e-16 |x|^2, far below tolerance
        xx = g.op("ReduceSum", g.mul(x, x), g.const(np.array([1], dtype=np.int64), np.int64), keepdims=1)
        d2 = g.add(g.sub(xx, g.mul(dot, g.const(np.array([[2.0]])))), g.const((sv * sv).sum(1)[None, :]))
        return g.op("Exp", g.mul(d2, g.const(np.array([[-gamma]]))))
    t = g.add(g.mul(dot, g.const(np.array([[gamma]]))), g.const(np.array([[coef0]])))
    if kind == "SIGMOID":
        return g.op("Tanh", t)
    if degree < 1 or degree != int(degree):
        raise UnsupportedError(f"polynomial svm of degree {degree} is not supported (degree >= 1)")
    out = t
    for _ in range(int(degree) - 1):  # libsvm's powi: repeated products
        out = g.mul(out, t)
    return out


def convert(fit, g) -> Converted:
    if bool(bridge.scalar(bridge.py(bridge.call("function(f) isTRUE(f$sparse)", fit)))):
        raise UnsupportedError("svm fits on sparse x (sparse = TRUE) are not supported; fit on a dense matrix "
                               "or a data frame")
    m = bridge.py(bridge.call(R_MODEL, fit))
    svm_type, kernel = int(bridge.scalar(m["type"])), int(bridge.scalar(m["kernel"]))
    if svm_type not in TYPES or kernel not in KERNELS:
        raise UnsupportedError(f"svm type {svm_type} / kernel {kernel} is not supported; supported: "
                               f"{', '.join(TYPES.values())} with linear, polynomial, radial or sigmoid kernels")
    kind = KERNELS[kernel]
    gamma, coef0, degree = (float(bridge.scalar(m[k])) for k in ("gamma", "coef0", "degree"))
    sv = np.asarray(m["sv"], dtype=np.float64)
    coefs = np.asarray(m["coefs"], dtype=np.float64).reshape(sv.shape[0], -1)
    rho = np.asarray(m["rho"], dtype=np.float64).reshape(-1)
    frame, x, cols = _frame(fit, g, m)
    scaled = np.asarray(m["scaled"], dtype=bool).reshape(-1)
    if scaled.any():
        center, scale = np.zeros(len(scaled)), np.ones(len(scaled))
        center[scaled] = np.asarray(m["center"], dtype=np.float64).reshape(-1)
        scale[scaled] = np.asarray(m["scale"], dtype=np.float64).reshape(-1)
        x = g.div(g.sub(x, g.const(center[None, :])), g.const(scale[None, :]))
    kv = _kernel(g, x, sv, kind, gamma, coef0, degree)
    desc = f"svm ({TYPES[svm_type]}, {kind.lower()} kernel)"
    ro = bridge.robjects()
    col_r = ro.StrVector(cols or [])
    formula = bool(m["formula"][0])
    prob = bool(m["compprob"]) and svm_type < 2

    def predict(df):
        return bridge.py(bridge.call(R_PREDICT, fit, df, col_r, formula, prob))

    if svm_type >= 2:
        dec = g.linear(kv, coefs[:, 0], -rho[:1])
        if svm_type == 2:
            outputs = _one_class(g, dec)

            def reference(df):
                r = predict(df)
                label = np.array(["TRUE" if v else "FALSE" for v in np.asarray(r["value"]) > 0.5], dtype=object)
                d = np.asarray(r["dec"], dtype=np.float64).reshape(-1, 1)
                return {"label": label.reshape(-1, 1), "probabilities": np.column_stack([-d, d])}
            return Converted(frame, outputs, "classifier", reference, ["FALSE", "TRUE"], desc)
        if scaled.any() and m["yscale"] is not None:
            dec = g.add(g.mul(dec, g.const(np.array([[bridge.scalar(m["yscale"])]]))),
                        g.const(np.array([[bridge.scalar(m["ycenter"])]])))
        outputs = value_output(g, dec, "prediction")

        def reference(df):
            return {"prediction": np.asarray(predict(df)["value"], dtype=np.float64).reshape(-1, 1)}
        return Converted(frame, outputs, "regressor", reference, description=desc)
    return _classifier(g, frame, kv, m, coefs, rho, prob, predict, desc)


def _one_class(g, dec):
    # libsvm: inside (TRUE) where the decision value is above 0; scores (-d, d) as for a
    # two-class svm, the first on a tie
    return classifier_outputs(g, g.concat([g.op("Neg", dec), dec]), ["FALSE", "TRUE"], kind="value")


def _classifier(g, frame, kv, m, coefs, rho, prob, predict, desc):
    order = [int(v) - 1 for v in bridge.ints(m["labels"])]  # libsvm's class order, as indices into levels
    # classes without training rows are unknown to libsvm (and to predict()): leave them out
    present = sorted(order)
    levels = [m["levels"][i] for i in present]
    order = [present.index(o) for o in order]
    n_sv = bridge.ints(m["nSV"])
    C = len(order)
    pairs = [(i, j) for i in range(C - 1) for j in range(i + 1, C)]
    starts = np.concatenate([[0], np.cumsum(n_sv)[:-1]]).astype(int)
    # decision value of pair (i, j): class i's vectors weigh with coefficient column j - 1,
    # class j's with column i, minus rho (libsvm's svm_predict_values)
    A = np.zeros((coefs.shape[0], len(pairs)))
    for p, (i, j) in enumerate(pairs):
        A[starts[i]:starts[i] + n_sv[i], p] = coefs[starts[i]:starts[i] + n_sv[i], j - 1]
        A[starts[j]:starts[j] + n_sv[j], p] = coefs[starts[j]:starts[j] + n_sv[j], i]
    dec = g.linear(kv, A, -rho)
    # votes in fit$levels order: pair p votes for i when its value is above 0, else for j
    win, lose = np.zeros((len(pairs), len(levels))), np.zeros((len(pairs), len(levels)))
    for p, (i, j) in enumerate(pairs):
        win[p, order[i]], lose[p, order[j]] = 1.0, 1.0
    above = g.to_double(g.op("Greater", dec, g.const(np.array([[0.0]]))))
    votes = g.linear(above, win - lose, lose.sum(0))
    # a tie goes to the class first in libsvm's order: less than one vote of tie-break
    rank = np.zeros(len(levels))
    rank[order] = np.arange(C)
    decide = g.add(votes, g.const(-rank[None, :] / (C + 1)))
    pair_names = [f"{levels[order[i]]}/{levels[order[j]]}" for i, j in pairs]
    if prob:
        probs = _probabilities(g, dec, m, C)
        back = [order.index(c) for c in range(len(levels))]  # libsvm's columns to levels order
        outputs = classifier_outputs(g, g.columns(probs, back), levels, label_from=decide)
    else:
        outputs = classifier_outputs(g, votes, levels, kind="value", label_from=decide)
    outputs += value_output(g, dec, "decision", len(pairs), names=pair_names)

    def reference(df):
        r = predict(df)
        d = np.asarray(r["dec"], dtype=np.float64).reshape(-1, len(pairs))
        if prob:
            scores = np.asarray(r["prob"], dtype=np.float64).reshape(len(d), C)
            scores = scores[:, [order.index(c) for c in range(len(levels))]]
        else:
            scores = (d > 0) @ (win - lose) + lose.sum(0)
        return {"label": np.array(r["value"], dtype=object).reshape(-1, 1), "probabilities": scores,
                "decision": d}
    return Converted(frame, outputs, "classifier", reference, list(levels), desc)


def _probabilities(g, dec, m, C):
    """libsvm's probabilities in libsvm's class order, [N, C] double (svm_predict_probability):
    each pair's Platt sigmoid, at least 1e-7 from 0 and 1; with two classes the one pair's as it
    is, with more coupled by multiclass_probability, all in double as libsvm computes them."""
    a, b = (np.asarray(m[k], dtype=np.float64).reshape(-1) for k in ("probA", "probB"))
    nodes = Builder(set(), OPSETS[""])
    r_pairs = _svm_probability.pair_probability(nodes, dec, a, b, np.float64)
    if C == 2:  # libsvm takes the one pair's probability as it is
        probs = nodes.op("Concat", r_pairs, nodes.op("Sub", nodes.const(np.ones((1, 1))), r_pairs), axis=1)
    else:
        probs = _svm_probability.function_node(nodes, r_pairs, C)
    g.splice(nodes)
    return probs
