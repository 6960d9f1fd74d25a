"""gbm::gbm boosted trees as predict.gbm computes them with all fitted trees: outputs
`link` (initF + the trees' sum; leaf values already include the shrinkage) and
`prediction` (type = "response").

gbm sends x < split left, and a missing value (or a factor level a split never saw) to a
third, "missing" child. A tree ensemble node has two children, so each gbm split becomes
two nodes: a gate that sends missing values to the missing child, then the split itself.
Unordered factor splits (c.splits: -1 left, 1 right, 0 missing) are read through one
derived column per split (level -> 1 left, 2 right, 0 missing; NaN when the value is NA)."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, value_output
from .terms import Frame
from .trees import Features, Leaves, Nodes, ensemble

IDENTITY = ("gaussian", "laplace", "tdist", "quantile", "huberized", "coxph")
SUPPORTED = IDENTITY + ("bernoulli", "pairwise", "adaboost", "poisson")

# R: every node of the first n.trees trees at once (each tree is a list of columns, as
# pretty.gbm.tree shows them).
R_TREES = r"""
function(f) {
  tr <- f$trees[seq_len(f$n.trees)]
  sizes <- vapply(tr, function(t) length(t[[1]]), 1L)
  col <- function(i) as.numeric(unlist(lapply(tr, `[[`, i)))
  lv <- f$var.levels
  list(tree = rep(seq_along(tr), sizes) - 1, node = unlist(lapply(sizes, seq_len)) - 1,
       var = col(1), code = col(2), left = col(3), right = col(4), missing = col(5),
       c_splits = lapply(f$c.splits, as.numeric), init = as.numeric(f$initF), n_trees = as.numeric(f$n.trees),
       distribution = f$distribution$name, var_names = f$var.names, var_type = as.numeric(f$var.type),
       factor = vapply(lv, is.character, TRUE),
       num_classes = if (is.null(f$num.classes)) 1 else as.numeric(f$num.classes),
       formula = !is.null(f$Terms))
}
"""

R_LEVELS = ("function(f) { lv <- f$var.levels; names(lv) <- f$var.names; "
            "lv[vapply(lv, is.character, TRUE)] }")


def _frame(fit, g, t, levels_r, levels) -> Frame:
    names = list(t["var_names"])
    if bool(bridge.scalar(t["formula"])):
        get = bridge.function("function(f, n) f[[n]]")
        return Frame.from_terms(g, get(fit, "Terms"), levels_r)
    return Frame.from_columns(g, [n for n in names if n not in levels], {n: levels[n] for n in names if n in levels})


def convert(fit, g) -> Converted:
    t = bridge.py(bridge.call(R_TREES, fit))
    dist = t["distribution"][0]
    if dist not in SUPPORTED or int(bridge.scalar(t["num_classes"], 1)) > 1:
        raise UnsupportedError(f"gbm with distribution {dist!r} is not supported; supported distributions: "
                               f"{', '.join(SUPPORTED)}")
    names = list(t["var_names"])
    var_type = bridge.ints(t["var_type"])
    levels_r = bridge.call(R_LEVELS, fit)
    levels = {k: list(v) for k, v in (bridge.py(levels_r) or {}).items()}
    frame = _frame(fit, g, t, levels_r, levels)
    feats = Features(g, frame)
    c_splits = [np.asarray(c, dtype=np.float64).reshape(-1) for c in (t["c_splits"] or [])]
    var = np.asarray(t["var"], dtype=np.int64)
    code = np.asarray(t["code"], dtype=np.float64)
    tree, node = np.asarray(t["tree"], dtype=np.int64), np.asarray(t["node"], dtype=np.int64)
    left, right, missing = (np.asarray(t[k], dtype=np.int64) for k in ("left", "right", "missing"))
    leaf = var < 0
    split = np.where(~leaf)[0]
    n_splits = len(split)
    # Split j keeps its node id for the gate; the split proper gets id `offset + node`.
    offset = int(node.max()) + 1
    g_feat = np.full(n_splits, -1, dtype=np.int64)
    categorical = np.zeros(n_splits, bool)
    for j, i in enumerate(split):
        label = names[var[i]]
        if var_type[var[i]] > 0:
            c = c_splits[int(code[i])]
            K = len(levels[label])
            # levels beyond the split's vector were not seen: missing
            coded = np.zeros(K)
            coded[:min(K, len(c))] = np.select([c[:K] == -1, c[:K] == 1], [1.0, 2.0], 0.0)
            g_feat[j] = feats.coded(label, coded)
            categorical[j] = True
        elif label in levels:  # an ordered factor: 0-based level codes
            g_feat[j] = feats.coded(label, np.arange(len(levels[label])))
        else:
            g_feat[j] = feats.numeric(label)
    x, double, position = feats.build()
    g_feat = position[g_feat]
    sn = node[split]
    # gate: numeric x <= +inf goes on to the split, NaN to the missing child; derived column
    # <= 0.5 (0: an unseen level, or NaN) goes to the missing child
    gate = Nodes(tree[split], sn, g_feat, np.where(categorical, 0.5, np.inf),
                 np.where(categorical, missing[split], sn + offset),
                 np.where(categorical, sn + offset, missing[split]), nan_left=categorical)
    proper = Nodes(tree[split], sn + offset, g_feat, np.where(categorical, 1.5, code[split]),
                   left[split], right[split], strict=~categorical)
    leaves_n = Nodes(tree[leaf], node[leaf], np.full(int(leaf.sum()), -1), np.zeros(int(leaf.sum())),
                     np.zeros(int(leaf.sum()), np.int64), np.zeros(int(leaf.sum()), np.int64))
    nodes = _concat([gate, proper, leaves_n])
    leaves = Leaves(tree[leaf], node[leaf], np.zeros(int(leaf.sum()), np.int64), code[leaf])
    link = g.add(ensemble(g, x, double, nodes, leaves, 1), g.const(np.array([[float(bridge.scalar(t["init"]))]])))
    mu = _response(g, dist, link)
    outputs = value_output(g, mu, "prediction") + value_output(g, link, "link")
    n_trees = int(bridge.scalar(t["n_trees"]))

    def reference(df):
        r = bridge.py(bridge.call(
            # (without a formula, predict.gbm reads the columns by position)
            "function(f, d, n) { if (is.null(f$Terms)) d <- d[, f$var.names, drop = FALSE]; "
            "suppressWarnings(list(predict(f, newdata = d, n.trees = n, type = 'response'), "
            "predict(f, newdata = d, n.trees = n, type = 'link'))) }", fit, df, n_trees))
        return {"prediction": np.asarray(r[0], dtype=np.float64).reshape(-1, 1),
                "link": np.asarray(r[1], dtype=np.float64).reshape(-1, 1)}
    return Converted(frame, outputs, "regressor", reference, description=f"gbm ({dist}, {n_trees} trees)")


def _response(g, dist, link):
    if dist in IDENTITY:
        return link
    if dist in ("bernoulli", "pairwise"):
        return g.op("Sigmoid", link)
    if dist == "adaboost":
        return g.op("Sigmoid", g.mul(link, g.const(np.array([[2.0]]))))
    return g.op("Exp", link)  # poisson


def _concat(parts) -> Nodes:
    cat = lambda k: np.concatenate([np.broadcast_to(np.asarray(getattr(p, k)), len(p.tree)) if getattr(p, k) is not None
                                    else np.zeros(len(p.tree), bool) for p in parts])
    return Nodes(cat("tree"), cat("node"), cat("feature"), cat("threshold"), cat("left"), cat("right"),
                 nan_left=cat("nan_left").astype(bool), strict=cat("strict").astype(bool))
