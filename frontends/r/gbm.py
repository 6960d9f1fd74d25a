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
from .trees import Features, Leaves, Nodes, as_fitted, ensemble, fitted_classes

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


def _frame(fit, g, formula: bool, names, levels_r, levels) -> Frame:
    if formula:
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
    levels_r = bridge.call(R_LEVELS, fit)
    levels = {k: list(v) for k, v in (bridge.py(levels_r) or {}).items()}
    frame = _frame(fit, g, bool(bridge.scalar(t["formula"])), names, levels_r, levels)
    feats = Features(g, frame)
    var = np.asarray(t["var"], dtype=np.int64)
    split = np.where(var >= 0)[0]
    feature, categorical = _split_columns(feats, t, names, levels, split)
    x, double, position = feats.build()
    nodes, leaves = _nodes(t, split, position[feature], categorical)
    link = g.add(ensemble(g, x, double, nodes, leaves, 1), g.const(np.array([[float(bridge.scalar(t["init"]))]])))
    mu = _response(g, dist, link)
    outputs = value_output(g, mu, "prediction") + value_output(g, link, "link")
    n_trees = int(bridge.scalar(t["n_trees"]))
    restore = fitted_classes(frame) if frame.info.get("labels") else ([], [])

    def reference(df):
        df = as_fitted(df, *restore)
        r = bridge.py(bridge.call(
            # (without a formula, predict.gbm reads the columns by position)
            "function(f, d, n) { if (is.null(f$Terms)) d <- d[, f$var.names, drop = FALSE]; "
            "suppressWarnings(list(predict(f, newdata = d, n.trees = n, type = 'response'), "
            "predict(f, newdata = d, n.trees = n, type = 'link'))) }", fit, df, n_trees))
        return {"prediction": np.asarray(r[0], dtype=np.float64).reshape(-1, 1),
                "link": np.asarray(r[1], dtype=np.float64).reshape(-1, 1)}
    return Converted(frame, outputs, "regressor", reference, description=f"gbm ({dist}, {n_trees} trees)")


def _split_columns(feats, t, names, levels, split):
    """(feature index, categorical) per split node: numeric variables and ordered factors'
    0-based codes are compared with x < split; an unordered factor split reads its own
    derived column (1 left, 2 right, 0 missing)."""
    var_type = bridge.ints(t["var_type"])
    var = np.asarray(t["var"], dtype=np.int64)
    code = np.asarray(t["code"], dtype=np.float64)
    c_splits = [np.asarray(c, dtype=np.float64).reshape(-1) for c in (t["c_splits"] or [])]
    feature = np.zeros(len(split), dtype=np.int64)
    categorical = np.zeros(len(split), bool)
    for j, i in enumerate(split):
        label = names[var[i]]
        if var_type[var[i]] > 0:
            c = c_splits[int(code[i])]
            K = len(levels[label])
            coded = np.zeros(K)  # levels beyond the split's vector were not seen: missing
            coded[:min(K, len(c))] = np.select([c[:K] == -1, c[:K] == 1], [1.0, 2.0], 0.0)
            feature[j] = feats.coded(label, coded)
            categorical[j] = True
        elif label in levels:
            feature[j] = feats.coded(label, np.arange(len(levels[label])))
        else:
            feature[j] = feats.numeric(label)
    return feature, categorical


def _nodes(t, split, feature, categorical):
    """(Nodes, Leaves): each gbm split as a gate node (keeping the split's id) and the split
    proper (id + offset)."""
    tree, node = np.asarray(t["tree"], dtype=np.int64), np.asarray(t["node"], dtype=np.int64)
    left, right, missing = (np.asarray(t[k], dtype=np.int64)[split] for k in ("left", "right", "missing"))
    code = np.asarray(t["code"], dtype=np.float64)
    leaf = np.asarray(t["var"]) < 0
    offset = int(node.max()) + 1
    ts, sn, proper = tree[split], node[split], node[split] + offset
    n_leaves = int(leaf.sum())
    # gate: a number <= +inf goes on to the split, NaN to the missing child; a derived
    # column <= 0.5 (0: a level the split never saw; NaN: NA) goes to the missing child
    parts = [
        (ts, sn, feature, np.where(categorical, 0.5, np.inf), np.where(categorical, missing, proper),
         np.where(categorical, proper, missing), categorical, np.zeros(len(split), bool)),
        (ts, proper, feature, np.where(categorical, 1.5, code[split]), left, right,
         np.zeros(len(split), bool), ~categorical),
        (tree[leaf], node[leaf], np.full(n_leaves, -1), np.zeros(n_leaves), np.zeros(n_leaves, np.int64),
         np.zeros(n_leaves, np.int64), np.zeros(n_leaves, bool), np.zeros(n_leaves, bool)),
    ]
    cols = [np.concatenate(c) for c in zip(*parts)]
    nodes = Nodes(*cols[:6], nan_left=cols[6], strict=cols[7])
    return nodes, Leaves(tree[leaf], node[leaf], np.zeros(n_leaves, np.int64), code[leaf])


def _response(g, dist, link):
    if dist in IDENTITY:
        return link
    if dist in ("bernoulli", "pairwise"):
        return g.op("Sigmoid", link)
    if dist == "adaboost":
        return g.op("Sigmoid", g.mul(link, g.const(np.array([[2.0]]))))
    return g.op("Exp", link)  # poisson

