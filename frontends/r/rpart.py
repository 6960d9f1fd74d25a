"""rpart::rpart trees (classification, anova, poisson, exp) as predict.rpart computes them,
missing values routed through surrogate splits and the majority direction.

A row can stop at an internal node (usesurrogate < 2, or children of equal size), and a
surrogate walk is not a tree-ensemble walk, so the tree is built with standard ops: every
split gives a direction per row (-1 left, +1 right, 0 undecided: missing, or a factor level
the node never saw), each node takes its primary's direction, else its surrogates' in
order, else the majority's; a row ends in the node whose path it follows and where it
cannot go further (a leaf, or an undecided node), found by one matrix product."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, class_and_prob, classifier_outputs, value_output
from .terms import Frame
from .trees import as_fitted, fitted_classes

METHODS = ("class", "anova", "poisson", "exp")

R_TREE = r"""
function(f) {
  fr <- f$frame
  sp <- f$splits
  y2 <- fr$yval2
  list(var = as.character(fr$var), node = as.numeric(row.names(fr)), n = as.numeric(fr$n),
       ncompete = as.numeric(fr$ncompete), nsurrogate = as.numeric(fr$nsurrogate), yval = as.numeric(fr$yval),
       yval2 = if (is.null(y2)) NULL else unname(unclass(as.matrix(y2))),
       split_var = if (is.null(sp)) character(0) else rownames(sp),
       split = if (is.null(sp)) NULL else matrix(as.numeric(sp[, c("ncat", "index")]), ncol = 2),
       csplit = if (is.null(f$csplit)) NULL else matrix(as.numeric(f$csplit), nrow = nrow(f$csplit)),
       usesurrogate = as.numeric(f$control$usesurrogate), method = f$method,
       ylevels = attr(f, "ylevels"))
}
"""


def _tree(fit) -> dict:
    """The fitted tree's tables, and its terms and factor levels (as R objects)."""
    get = bridge.function("function(f, n) f[[n]]")
    t = bridge.py(bridge.call(R_TREE, fit))
    t["terms_r"] = get(fit, "terms")
    t["xlevels_r"] = bridge.call("function(f) { x <- attr(f, 'xlevels'); if (is.null(x)) list() else x }", fit)
    return t


def convert(fit, g) -> Converted:
    t = _tree(fit)
    method = t["method"][0]
    if method not in METHODS:
        raise UnsupportedError(f"rpart method {method!r} is not supported; supported methods: {', '.join(METHODS)}")
    frame = Frame.from_terms(g, t["terms_r"], t["xlevels_r"])
    classes = dict(zip(frame.info["labels"], frame.info["classes"]))
    for name in frame.columns:
        if classes.get(name) == "character":
            raise UnsupportedError(f"rpart with the character column {name!r}: predict.rpart codes characters by "
                                   "the levels of the new data, not the training data; make it a factor before "
                                   "fitting")
    restore = fitted_classes(frame)
    nodes = bridge.ints(t["node"])
    final = _final_node(g, frame, t, nodes)  # double [N, n_nodes], one 1 per row
    if method == "class":
        classes = list(t["ylevels"])
        K = len(classes)
        y2 = np.asarray(t["yval2"], dtype=np.float64).reshape(len(nodes), -1)
        probs = g.matmul(final, g.const(y2[:, 1 + K:1 + 2 * K]))
        yval = bridge.ints(t["yval"])
        onehot = np.eye(K)[[y - 1 for y in yval]]
        label = g.matmul(final, g.const(onehot))
        outputs = classifier_outputs(g, probs, classes, label_from=label)

        def reference(df):
            return class_and_prob(fit, as_fitted(df, *restore), "class", K)
        return Converted(frame, outputs, "classifier", reference, classes=classes,
                         description=f"rpart (classification, {len(nodes)} nodes)")
    value = g.matmul(final, g.const(np.asarray(t["yval"], dtype=np.float64).reshape(-1, 1)))
    outputs = value_output(g, value, "prediction")

    def reference(df):
        df = as_fitted(df, *restore)
        y = bridge.py(bridge.call("function(f, d) unname(predict(f, newdata = d, type = 'vector'))", fit, df))
        return {"prediction": np.asarray(y, dtype=np.float64).reshape(-1, 1)}
    return Converted(frame, outputs, "regressor", reference, description=f"rpart ({method}, {len(nodes)} nodes)")


def _final_node(g, frame, t, nodes) -> str:
    """double [N, n_nodes]: 1 in the node where predict.rpart leaves each row."""
    n_nodes = len(nodes)
    if n_nodes == 1:
        return _ones(g, frame)
    pos = {node: i for i, node in enumerate(nodes)}
    leaf = [v == "<leaf>" for v in t["var"]]
    split = np.asarray(t["split"], dtype=np.float64).reshape(-1, 2)
    ncompete, nsurr = bridge.ints(t["ncompete"]), bridge.ints(t["nsurrogate"])
    use_sur = int(bridge.scalar(t["usesurrogate"], 2))
    # Splits rows per internal node, as pred.rpart indexes them: the primary, then competitors,
    # then surrogates.
    internal = [i for i in range(n_nodes) if not leaf[i]]
    chains, row = {}, 0
    for i in range(n_nodes):
        if leaf[i]:
            continue
        primary = row
        sur = list(range(primary + 1 + ncompete[i], primary + 1 + ncompete[i] + nsurr[i]))
        chains[i] = [primary] + (sur if use_sur > 0 else [])
        row = primary + 1 + ncompete[i] + nsurr[i]
    used = sorted({s for c in chains.values() for s in c})
    dirs = _split_directions(g, frame, t, split, used)  # double [N, len(used)] in {-1, 0, 1}
    col = {s: j for j, s in enumerate(used)}
    depth_chain = max(len(c) for c in chains.values())
    d = None
    for p in range(depth_chain):
        # a node with fewer splits repeats its last: undecided stays undecided
        idx = [col[chains[i][min(p, len(chains[i]) - 1)]] for i in internal]
        gp = g.columns(dirs, idx)
        d = gp if d is None else g.op("Where", g.op("Equal", d, g.const(np.zeros((1, 1)))), gp, d)
    if use_sur > 1:
        n = np.asarray(t["n"], dtype=np.float64)
        major = []
        for i in internal:
            ln, rn = n[pos[2 * nodes[i]]], n[pos[2 * nodes[i] + 1]]
            major.append(0.0 if ln == rn else (-1.0 if ln > rn else 1.0))
        d = g.op("Where", g.op("Equal", d, g.const(np.zeros((1, 1)))), g.const(np.array([major])), d)
    k = len(internal)
    goes = g.concat([g.to_double(g.op("Equal", d, g.const(np.full((1, 1), v)))) for v in (-1.0, 1.0, 0.0)])
    # A node is reached when every ancestor sends the row its way (a count equal to its
    # depth); it is final when, besides, it is a leaf or it leaves the row undecided.
    b = np.zeros((3 * k, n_nodes))
    target = np.zeros(n_nodes)
    where = {i: j for j, i in enumerate(internal)}
    for m, node in enumerate(nodes):
        a, depth = node, 0
        while a > 1:
            parent, side = a // 2, a % 2
            b[where[pos[parent]] + side * k, m] = 1.0
            a, depth = parent, depth + 1
        if leaf[m]:
            target[m] = depth
        else:
            b[where[m] + 2 * k, m] = 1.0
            target[m] = depth + 1
    hits = g.op("Equal", g.matmul(goes, g.const(b)), g.const(target.reshape(1, -1)))
    return g.to_double(hits)


def _split_directions(g, frame, t, split, used) -> str:
    """double [N, len(used)]: each split's direction for each row (-1 left, +1 right, 0 undecided)."""
    labels = t["split_var"]
    classes = dict(zip(frame.info["labels"], frame.info["classes"]))
    csplit = None if t["csplit"] is None else np.asarray(t["csplit"], dtype=np.float64)
    if csplit is not None and csplit.ndim == 1:
        csplit = csplit.reshape(1, -1)
    numeric, categorical = [], {}
    for s in used:
        ncat = int(split[s, 0])
        (categorical.setdefault(labels[s], []) if ncat >= 2 else numeric).append(s)
    parts, order = [], []
    if numeric:
        values, vcol = [], {}
        for s in numeric:
            if labels[s] not in vcol:
                vcol[labels[s]] = len(values)
                values.append(_numeric(g, frame, labels[s], classes.get(labels[s])))
        x = g.columns(g.concat(values), [vcol[labels[s]] for s in numeric])
        thr = g.const(np.array([[split[s, 1] for s in numeric]]))
        nc = np.array([[split[s, 0] for s in numeric]])
        # pred.rpart: x < index gives direction ncat, else -ncat; missing: undecided
        side = g.op("Where", g.op("Less", x, thr), g.const(nc), g.const(-nc))
        parts.append(g.op("Where", g.op("IsNaN", x), g.const(np.zeros((1, 1))), side))
        order += numeric
    for label, ss in categorical.items():
        v = frame.variable(label)
        if v.levels is None:
            raise UnsupportedError(f"rpart splits on {label!r} as a factor, but it is numeric here")
        # csplit rows: 1 left, 3 right, 2 a level the node did not see (undecided); NA: no level
        m = np.stack([csplit[int(split[s, 1]) - 1, :len(v.levels)] - 2.0 for s in ss], axis=1)
        parts.append(g.matmul(v.onehot, g.const(m)))
        order += ss
    dirs = g.concat(parts)
    pos = [order.index(s) for s in used]
    return dirs if pos == list(range(len(used))) else g.columns(dirs, pos)


def _numeric(g, frame, label, cls) -> str:
    """double [N, 1]: a variable as rpart.matrix makes it a number (factor: its level code;
    logical: 0/1), NaN when missing."""
    v = frame.variable(label)
    if v.levels is None:
        if len(v.names) != 1:
            raise UnsupportedError(f"rpart splits on {label!r}, which has {len(v.names)} columns")
        return v.value
    codes = np.arange(len(v.levels), dtype=np.float64) + (0.0 if cls == "logical" else 1.0)
    value = g.matmul(v.onehot, g.const(codes.reshape(-1, 1)))
    return g.op("Where", v.missing, g.const(np.array([[np.nan]])), value)


def _ones(g, frame) -> str:
    """double [N, 1] of ones (a tree that is a single leaf)."""
    col = next(iter(frame.known_columns().values()), None)
    if col is None:
        raise UnsupportedError("rpart tree with no predictors")
    one = g.const(np.ones((1, 1)))
    if col.kind == "number":
        return g.op("Where", g.op("IsNaN", frame.numeric_column(col.name)), one, one)
    return g.op("Where", frame.factor_column(col.name, col.levels).missing, one, one)
