"""ranger::ranger forests (classification, regression, probability) as predict.ranger
computes them: the mean of the trees (regression, probability), or the votes
(label = the most votes; prob_<class> = vote fractions, from R's per-tree predictions).

Splits send x <= value left. Factors: with respect.unordered.factors = "ignore" (the
default) or "order" a factor is split on its level codes (in the order the forest keeps
for "order"); with "partition" a split's value is a bit set of the levels that go right.
The forest keeps levels only for "order": otherwise they come from the training data when
R can still find it (else the columns are read as numbers, the codes). predict.ranger
refuses missing values."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, classifier_outputs, value_output
from .terms import Frame
from .trees import Features, Leaves, Nodes, ensemble, training_levels

TYPES = ("Classification", "Regression", "Probability estimation")

# R: every node of every tree at once.
R_FOREST = r"""
function(f) {
  fo <- f$forest
  if (is.null(fo)) stop("the ranger model was fitted with write.forest = FALSE: it has no trees to convert")
  sizes <- lengths(fo$split.varIDs)
  k <- length(fo$levels)
  counts <- NULL
  if (identical(fo$treetype, "Probability estimation"))
    counts <- matrix(unlist(lapply(fo$terminal.class.counts, function(t)
      lapply(t, function(v) if (length(v)) as.numeric(v) else rep(0, k)))), ncol = k, byrow = TRUE)
  cl <- fo$covariate.levels
  list(tree = rep(seq_along(sizes), sizes) - 1, node = unlist(lapply(sizes, seq_len)) - 1,
       var = as.numeric(unlist(fo$split.varIDs)), value = as.numeric(unlist(fo$split.values)),
       left = as.numeric(unlist(lapply(fo$child.nodeIDs, `[[`, 1))),
       right = as.numeric(unlist(lapply(fo$child.nodeIDs, `[[`, 2))),
       counts = counts, ntree = as.numeric(fo$num.trees), type = fo$treetype,
       names = fo$independent.variable.names, ordered = as.logical(fo$is.ordered),
       classes = if (is.null(fo$levels)) character(0) else as.character(fo$levels),
       class_values = if (is.null(fo$class.values)) numeric(0) else as.numeric(fo$class.values),
       covariate_levels = if (is.null(cl)) list() else cl[!vapply(cl, is.null, TRUE)])
}
"""


def convert(fit, g) -> Converted:
    f = bridge.py(bridge.call(R_FOREST, fit))
    kind = f["type"][0]
    if kind not in TYPES:
        raise UnsupportedError(f"ranger forests of type {kind!r} are not supported; supported: {', '.join(TYPES)}")
    names = list(f["names"])
    ordered = [bool(v) for v in np.asarray(f["ordered"]).reshape(-1)]
    levels = {k: list(v) for k, v in (f["covariate_levels"] or {}).items()}
    if isinstance(f["covariate_levels"], list):  # an unnamed (empty) list
        levels = {}
    found = training_levels(fit, [n for n in names if n not in levels])
    levels.update(found or {})
    unknown = [n for n, o in zip(names, ordered) if not o and n not in levels]
    if unknown:
        raise UnsupportedError(
            f"this ranger forest splits on the unordered factor(s) {', '.join(unknown)} by level sets "
            "(respect.unordered.factors = 'partition') and keeps no levels, and the training data is no longer "
            "in R: run the conversion where the data frame the forest was fitted on exists")
    frame = Frame.from_columns(g, [n for n in names if n not in levels], {n: levels[n] for n in names if n in levels})
    feats = Features(g, frame)
    var = np.asarray(f["var"], dtype=np.int64)
    value = np.asarray(f["value"], dtype=np.float64)
    left, right = np.asarray(f["left"], dtype=np.int64), np.asarray(f["right"], dtype=np.int64)
    leaf = (left == 0) & (right == 0)
    feature = np.full(len(var), -1, dtype=np.int64)
    threshold = np.where(leaf, 0.0, value)
    for j in np.unique(var[~leaf]):
        label = names[j]
        at = np.where(~leaf & (var == j))[0]
        if label not in levels:
            feature[at] = feats.numeric(label)
        elif ordered[j]:  # level codes 1..K
            feature[at] = feats.coded(label, np.arange(1, len(levels[label]) + 1))
        else:
            # bit i of the split value: level i + 1 goes right
            K = len(levels[label])
            for s in np.unique(value[at]):
                bits = (np.floor(np.floor(s) / 2.0 ** np.arange(K)) % 2).astype(int)
                feature[at[value[at] == s]] = feats.coded(label, bits)
            threshold[at] = 0.5
    x, double, position = feats.build()
    feature = np.where(feature >= 0, position[np.maximum(feature, 0)], -1)
    tree = np.asarray(f["tree"], dtype=np.int64)
    node = np.asarray(f["node"], dtype=np.int64)
    nodes = Nodes(tree, node, feature, threshold, left, right)
    ntree = float(bridge.scalar(f["ntree"]))
    desc = f"ranger ({kind.lower()}, {int(ntree)} trees)"
    if found:
        desc += "; factor levels from the training data"
    elif found is None and not all(n in levels for n in names):
        desc += ("; the training data was not found: columns without kept levels are read as numbers "
                 "(a factor's level codes)")
    n_leaves = int(leaf.sum())
    if kind == "Regression":
        leaves = Leaves(tree[leaf], node[leaf], np.zeros(n_leaves, np.int64), value[leaf])
        y = g.div(ensemble(g, x, double, nodes, leaves, 1), g.const(np.array([[ntree]])))
        outputs = value_output(g, y, "prediction")

        def reference(df):
            y = bridge.py(bridge.call("function(f, d) unname(predict(f, data = d)$predictions)", fit, df))
            return {"prediction": np.asarray(y, dtype=np.float64).reshape(-1, 1)}
        return Converted(frame, outputs, "regressor", reference, description=desc)
    classes = list(f["classes"])
    K = len(classes)
    if kind == "Probability estimation":
        # count column j is the class with code class_values[j]
        counts = np.asarray(f["counts"], dtype=np.float64).reshape(-1, K)[leaf]
        col = np.asarray(f["class_values"], dtype=np.int64) - 1
        rows = np.repeat(np.arange(n_leaves), K)
        leaves = Leaves(tree[leaf][rows], node[leaf][rows], np.tile(col, n_leaves), counts.reshape(-1))
        probs = g.div(ensemble(g, x, double, nodes, leaves, K), g.const(np.array([[ntree]])))
        outputs = classifier_outputs(g, probs, classes)

        def reference(df):
            p = np.asarray(bridge.py(bridge.call("function(f, d) unname(predict(f, data = d)$predictions)",
                                                 fit, df)), dtype=np.float64).reshape(-1, K)
            # the label as R users take it from the probabilities: the first highest
            label = np.array([classes[i] for i in p.argmax(axis=1)], dtype=object).reshape(-1, 1)
            return {"label": label, "probabilities": p}
        return Converted(frame, outputs, "classifier", reference, classes=classes, description=desc)
    # a leaf's value is the code of its class (predict.ranger: levels[value])
    leaves = Leaves(tree[leaf], node[leaf], value[leaf].astype(np.int64) - 1, np.ones(n_leaves))
    votes = ensemble(g, x, double, nodes, leaves, K)
    probs = g.div(votes, g.const(np.array([[ntree]])))
    outputs = classifier_outputs(g, probs, classes)

    def reference(df):
        r = bridge.py(bridge.call(
            "function(f, d) list(as.character(predict(f, data = d)$predictions), "
            "unname(predict(f, data = d, predict.all = TRUE)$predictions))", fit, df))
        per_tree = np.asarray(r[1], dtype=np.int64).reshape(len(r[0]), -1)
        votes = np.stack([(per_tree == c + 1).sum(axis=1) for c in range(K)], axis=1)
        return {"label": np.array(r[0], dtype=object).reshape(-1, 1), "probabilities": votes / ntree}
    return Converted(frame, outputs, "classifier", reference, classes=classes, description=desc)
