"""randomForest::randomForest (classification and regression; formula and x/y interfaces)
as predict.randomForest computes it: the mean of the trees (regression), or the votes
(prob_<class> = vote fractions; label = the most votes / cutoff).

Numeric splits send x <= split point left; a factor split's point is a bit set of the
levels that go left, read here as a 0/1 column per distinct set (onehot @ mask). Ordered
factors are split on their level codes. predict.randomForest refuses missing values (x/y
interface) or answers NA (formula interface); rows with missing values are not modelled."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, class_and_prob, classifier_outputs, value_output
from .terms import Frame
from .trees import Features, Leaves, Nodes, as_fitted, ensemble, fitted_classes, training_levels

# R: every node of every tree at once (the forest's matrices are nrnodes x ntree).
R_FOREST = r"""
function(f) {
  if (identical(f$type, "unsupervised")) return(list(type = f$type))
  fo <- f$forest
  if (is.null(fo)) stop("the randomForest was fitted with keep.forest = FALSE: it has no trees to convert")
  nt <- as.integer(fo$ntree)
  nd <- as.integer(fo$ndbigtree)
  idx <- cbind(unlist(lapply(nd, seq_len)), rep(seq_len(nt), nd))
  m <- function(a) matrix(a, nrow = fo$nrnodes)
  if (!is.null(fo$treemap)) {
    left <- m(fo$treemap[, 1, ]); right <- m(fo$treemap[, 2, ])
  } else {
    left <- m(fo$leftDaughter); right <- m(fo$rightDaughter)
  }
  vname <- if (is.null(dim(f$importance))) names(f$importance) else rownames(f$importance)
  lv <- fo$xlevels
  list(tree = idx[, 2], node = idx[, 1], status = as.numeric(m(fo$nodestatus)[idx]),
       var = as.numeric(m(fo$bestvar)[idx]), split = as.numeric(m(fo$xbestsplit)[idx]),
       pred = as.numeric(m(fo$nodepred)[idx]), left = as.numeric(left[idx]), right = as.numeric(right[idx]),
       ntree = nt, ncat = as.numeric(fo$ncat), vname = vname, type = f$type,
       classes = if (is.null(f$classes)) character(0) else as.character(f$classes),
       cutoff = if (is.null(fo$cutoff)) numeric(0) else as.numeric(fo$cutoff),
       coefs = if (is.null(f$coefs)) numeric(0) else as.numeric(f$coefs),
       factor_names = names(lv)[vapply(lv, is.character, TRUE)],
       formula = inherits(f, "randomForest.formula"))
}
"""

R_LEVELS = "function(f) { lv <- f$forest$xlevels; lv[vapply(lv, is.character, TRUE)] }"


def _formula_frame(fit, g, levels):
    """The frame of a formula fit. Its ordered factors are split on level codes, and the
    forest keeps no levels for them: they come from the training data when R still has it."""
    ro = bridge.robjects()
    get = bridge.function("function(f, n) f[[n]]")
    terms = get(fit, "terms")
    dc = bridge.py(bridge.call("function(t) { d <- attr(t, 'dataClasses'); list(names(d), unname(d)) }", terms))
    wanted = [n for n, c in zip(dc[0] or [], dc[1] or []) if c in ("factor", "ordered") and n not in levels]
    if wanted:
        found = training_levels(fit, wanted, bridge.call("function(t) environment(t)", terms))
        levels = {**levels, **(found or {})}
        lost = [n for n in wanted if n not in levels]
        if lost:
            raise UnsupportedError(
                f"this randomForest (formula interface) splits on the ordered factor(s) {', '.join(lost)} by level "
                "code and keeps no levels, and the training data frame is no longer in R: run the conversion "
                "where the data frame the model was fitted on exists, or fit with the x/y interface "
                "(randomForest(x = data frame, y = ...)), which keeps the levels")
    xlevels = ro.ListVector({k: ro.StrVector(v) for k, v in levels.items()})
    return Frame.from_terms(g, terms, xlevels), levels


def convert(fit, g) -> Converted:
    f = bridge.py(bridge.call(R_FOREST, fit))
    kind = f["type"][0]
    if kind not in ("classification", "regression"):
        raise UnsupportedError(f"randomForest of type {kind!r} is not supported; supported: classification, "
                               "regression (an unsupervised forest has no predictions)")
    names = list(f["vname"] or [])
    ncat = bridge.ints(f["ncat"])
    if len(names) != len(ncat):
        raise UnsupportedError("randomForest without predictor names; fit it on a data frame or a matrix with "
                               "column names")
    levels = {k: list(v) for k, v in (bridge.py(bridge.call(R_LEVELS, fit)) or {}).items()}
    if bool(bridge.scalar(f["formula"])):
        frame, levels = _formula_frame(fit, g, levels)
        restore = fitted_classes(frame)
    else:
        frame = Frame.from_columns(g, [n for n in names if n not in levels],
                                   {n: levels[n] for n in names if n in levels})
        restore = ([n for n, c in zip(names, ncat) if n in levels and c == 1], [])
    x, double, nodes, leaf = _trees(Features(g, frame), f, names, ncat, levels)
    ntree = int(bridge.scalar(f["ntree"]))
    pred = np.asarray(f["pred"], dtype=np.float64)
    n_leaves = int(leaf.sum())
    desc = f"randomForest ({kind}, {ntree} trees)"
    if kind == "regression":
        leaves = Leaves(nodes.tree[leaf], nodes.node[leaf], np.zeros(n_leaves, np.int64), pred[leaf])
        y = g.div(ensemble(g, x, double, nodes, leaves, 1), g.const(np.array([[float(ntree)]])))
        coefs = np.asarray(f["coefs"], dtype=np.float64)
        if coefs.size == 2:  # corr.bias = TRUE
            y = g.add(g.mul(y, g.const(coefs[1:2].reshape(1, 1))), g.const(coefs[0:1].reshape(1, 1)))
        outputs = value_output(g, y, "prediction")

        def reference(df):
            df = as_fitted(df, *restore)
            y = bridge.py(bridge.call("function(f, d) unname(predict(f, newdata = d))", fit, df))
            return {"prediction": np.asarray(y, dtype=np.float64).reshape(-1, 1)}
        return Converted(frame, outputs, "regressor", reference, description=desc)
    classes = list(f["classes"])
    K = len(classes)
    leaves = Leaves(nodes.tree[leaf], nodes.node[leaf], pred[leaf].astype(np.int64) - 1, np.ones(n_leaves))
    votes = ensemble(g, x, double, nodes, leaves, K)
    probs = g.div(votes, g.const(np.array([[float(ntree)]])))
    cutoff = np.asarray(f["cutoff"], dtype=np.float64).reshape(1, -1)
    outputs = classifier_outputs(g, probs, classes, label_from=g.div(votes, g.const(cutoff)))

    def reference(df):
        return class_and_prob(fit, as_fitted(df, *restore), "response", K)
    return Converted(frame, outputs, "classifier", reference, classes=classes, description=desc)


def _trees(feats, f, names, ncat, levels):
    """(features, double, Nodes, leaf mask) of the whole forest."""
    leaf = np.asarray(f["status"]) == -1
    var = np.asarray(f["var"], dtype=np.int64) - 1
    split = np.asarray(f["split"], dtype=np.float64)
    feature = np.full(len(var), -1, dtype=np.int64)
    threshold = np.where(leaf, 0.0, split)
    for j in np.unique(var[~leaf]):
        label, k = names[j], ncat[j]
        at = np.where(~leaf & (var == j))[0]
        if k == 1 and label not in levels:
            feature[at] = feats.numeric(label)
        elif k == 1:  # an ordered factor: its level codes
            feature[at] = feats.coded(label, np.arange(1, len(levels[label]) + 1))
        else:
            # bit i of the split point: level i + 1 goes left; the column is 1 for levels going right
            for s in np.unique(split[at]):
                bits = (np.floor(s / 2.0 ** np.arange(k)) % 2).astype(int)
                feature[at[split[at] == s]] = feats.coded(label, 1 - bits)
            threshold[at] = 0.5
    x, double, position = feats.build()
    feature = np.where(feature >= 0, position[np.maximum(feature, 0)], -1)
    nodes = Nodes(np.asarray(f["tree"], dtype=np.int64) - 1, np.asarray(f["node"], dtype=np.int64) - 1, feature,
                  threshold, np.asarray(f["left"], dtype=np.int64) - 1, np.asarray(f["right"], dtype=np.int64) - 1)
    return x, double, nodes, leaf
