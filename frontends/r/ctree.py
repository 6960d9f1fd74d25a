"""partykit::ctree trees (class "constparty"), as predict.party computes them: type
"response" (the terminal node's weighted mean, or its most probable class) and "prob" (the
class distribution of the terminal node's training responses).

Each split sends a row to a kid: numeric (and ordered-factor codes) by .bincode over the
breaks (x <= break with right = TRUE, x < break otherwise), factors by the split's index of
levels. A missing value, or a factor level the node never saw (index NA), goes by the
surrogate splits in order; where they do not decide, partykit draws the kid at random by
the split's prob, which is not random only where prob has one non-zero entry
(ctree_control(majority = TRUE)): the graph takes that kid, and otherwise the most probable
one (the first on a tie); R's own answer there is random, so the reference refuses such
rows (they get no reference, and parity leaves them out). A walk that is not a
tree-ensemble walk (surrogates, multiway splits): every split gives each row a kid number
(0: undecided), each node takes its primary's, then its surrogates', then the majority's,
and a row ends in the leaf whose path it follows, found by one matrix product per tree.
Responses: numeric, integer, factor and ordered factor (Surv and multivariate are refused).
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, class_and_prob, classifier_outputs, value_output
from .terms import Frame

# R: one tree (a partynode) as flat tables, node by node.
R_FLAT = r"""
function(node) {
  sp <- function(s) list(varid = partykit::varid_split(s),
    breaks = if (is.null(partykit::breaks_split(s))) NULL else as.numeric(partykit::breaks_split(s)),
    index = if (is.null(partykit::index_split(s))) NULL else as.numeric(partykit::index_split(s)),
    right = isTRUE(partykit::right_split(s)), prob = if (is.null(s$prob)) NULL else as.numeric(s$prob))
  partykit::nodeapply(node, ids = partykit::nodeids(node), FUN = function(n) {
    leaf <- partykit::is.terminal(n)
    list(id = partykit::id_node(n),
         kids = if (leaf) NULL else vapply(partykit::kids_node(n), partykit::id_node, 1L),
         split = if (leaf) NULL else sp(partykit::split_node(n)),
         surrogates = if (leaf) list() else lapply(partykit::surrogates_node(n), sp))
  })
}
"""

R_DATA = r"""
function(d) list(names = names(d), classes = vapply(d, function(v) class(v)[1], ""),
                 levels = lapply(d, function(v) if (is.factor(v)) levels(v) else NULL))
"""

# R: which rows partykit sends down a random kid (an undecided split whose prob has more
# than one non-zero entry), for every tree of `nodes`, on the model frame of d.
R_RANDOM = r"""
function(nodes, data, terms, d) {
  fac <- vapply(data, is.factor, TRUE)
  mf <- model.frame(terms, d, xlev = lapply(data[fac], levels), na.action = na.pass)
  vm <- match(names(data), names(mf))
  walk <- function(node, obs) {
    out <- logical(length(obs))
    if (partykit::is.terminal(node) || !length(obs)) return(out)
    x <- partykit::kidids_split(partykit::split_node(node), mf, vm, obs)
    for (s in partykit::surrogates_node(node)) {
      na <- is.na(x)
      if (!any(na)) break
      x[na] <- partykit::kidids_split(s, mf, vm, obs)[na]
    }
    p <- partykit::split_node(node)$prob
    na <- is.na(x)
    if (is.null(p) || sum(p > 0) > 1) out[na] <- TRUE
    x[na] <- if (is.null(p)) 1L else which.max(p)
    for (k in unique(x)) { i <- x == k; out[i] <- out[i] | walk(partykit::kids_node(node)[[k]], obs[i]) }
    out
  }
  r <- logical(nrow(d))
  for (n in nodes) r <- r | walk(n, seq_len(nrow(d)))
  r
}
"""

NUMERIC, FACTORS = ("numeric", "integer"), ("factor", "ordered")


def data_info(fit) -> dict:
    get = bridge.function("function(f) f$data")
    info = bridge.py(bridge.call(R_DATA, get(fit)))
    info["classes"] = list(info["classes"])
    lv = info["levels"]
    info["levels"] = {k: list(v) for k, v in (lv.items() if isinstance(lv, dict) else zip(info["names"], lv))
                      if v is not None}
    return info


def flat(node) -> list:
    """The nodes of one tree (a partynode): dicts id, kids, split, surrogates."""
    return [n for n in bridge.py(bridge.call(R_FLAT, node))]


def frame(g, fit, terms, info) -> Frame:
    ro = bridge.robjects()
    xlev = ro.ListVector({k: ro.StrVector(v) for k, v in info["levels"].items() if v})
    return Frame.from_terms(g, terms, xlev)


def check_random(fit, nodes_r, terms_r, df) -> None:
    """Refuse rows that partykit sends down a random kid (no reference exists for them)."""
    get = bridge.function("function(f) f$data")
    rnd = np.asarray(bridge.py(bridge.call(R_RANDOM, nodes_r, get(fit), terms_r, df)), dtype=bool)
    if rnd.any():
        raise bridge.RError(f"partykit sends {int(rnd.sum())} of these rows (e.g. row {int(np.argmax(rnd)) + 1}) "
                            "down a random kid (a missing value or a level the node never saw, no surrogate "
                            "deciding, ctree_control(majority = FALSE)): R's answer for them is random")


class Splits:
    """The kid number (1, 2, ...; 0 undecided) of every split of a set of trees, for each row."""

    def __init__(self, g, frame, info):
        self.g, self.frame, self.info = g, frame, info
        self.bins = []  # (label, lo, hi, right, kid, split column)
        self.factor = {}  # label -> [(kid per level, split column)]
        self.thresholds = {}
        self.n = 0

    def add(self, s) -> int:
        """Column of split s (a dict from R_FLAT)."""
        label = self.info["names"][int(bridge.scalar(s["varid"])) - 1]
        cls = self.info["classes"][self.info["names"].index(label)]
        if cls not in NUMERIC + FACTORS:
            raise UnsupportedError(f"ctree splits on {label!r} of class {cls}; supported: numeric, integer, factor "
                                   "and ordered factor variables")
        index = None if s["index"] is None else np.asarray(s["index"], dtype=np.float64).reshape(-1)
        col, self.n = self.n, self.n + 1
        if s["breaks"] is not None:
            br = np.asarray(s["breaks"], dtype=np.float64).reshape(-1)
            edges = list(dict.fromkeys([-np.inf, *br.tolist(), np.inf]))
            for j in range(len(edges) - 1):
                kid = (j + 1) if index is None else index[j]
                self.bins.append((label, edges[j], edges[j + 1], bool(bridge.scalar(s["right"])),
                                  0.0 if np.isnan(kid) else kid, col))
            if cls in NUMERIC and label in self.frame.known_columns():
                self.thresholds.setdefault(label, []).extend(br.tolist())
        else:
            if cls not in FACTORS:
                raise UnsupportedError(f"ctree split on the numeric {label!r} without breaks")
            levels = self.info["levels"][label]
            kids = np.arange(1, len(levels) + 1, dtype=np.float64) if index is None else index
            self.factor.setdefault(label, []).append((np.nan_to_num(kids[:len(levels)], nan=0.0), col))
        return col

    def _numeric(self, label):
        cls = self.info["classes"][self.info["names"].index(label)]
        v = self.frame.variable(label)
        if cls in NUMERIC:
            if v.levels is not None or len(v.names) != 1:
                raise UnsupportedError(f"ctree splits on {label!r} as one number")
            return v.value
        g = self.g  # a factor split on its level codes (.bincode of as.numeric)
        codes = g.matmul(v.onehot, g.const(np.arange(1, len(v.levels) + 1, dtype=np.float64).reshape(-1, 1)))
        return g.op("Where", v.missing, g.const(np.array([[np.nan]])), codes)

    def build(self) -> str:
        """double [N, n]: the kid number of every split for each row."""
        g = self.g
        parts, order = [], []
        if self.bins:
            labels = list(dict.fromkeys(b[0] for b in self.bins))
            values = g.concat([self._numeric(lab) for lab in labels])
            x = g.columns(values, [labels.index(b[0]) for b in self.bins])
            lo = g.const(np.array([[b[1] for b in self.bins]]))
            hi = g.const(np.array([[b[2] for b in self.bins]]))
            right = np.array([[b[3] for b in self.bins]])
            r, nr = g.const(right, bool), g.const(~right, bool)
            # .bincode: (lo, hi] where right, else [lo, hi); NaN in none
            low_ok = g.op("Or", g.op("And", r, g.op("Greater", x, lo)), g.op("And", nr, g.op("GreaterOrEqual", x, lo)))
            high_ok = g.op("Or", g.op("And", r, g.op("LessOrEqual", x, hi)), g.op("And", nr, g.op("Less", x, hi)))
            inside = g.to_double(g.op("And", low_ok, high_ok))
            cols = sorted({b[5] for b in self.bins})
            m = np.zeros((len(self.bins), len(cols)))
            for i, b in enumerate(self.bins):
                m[i, cols.index(b[5])] = b[4]
            parts.append(g.matmul(inside, g.const(m)))
            order += cols
        for label, items in self.factor.items():
            v = self.frame.variable(label)
            if v.levels is None:
                raise UnsupportedError(f"ctree splits on {label!r} as a factor, but it is numeric here")
            m = np.stack([k for k, _ in items], axis=1)
            parts.append(g.matmul(v.onehot, g.const(m)))  # a missing level: no 1, kid 0
            order += [c for _, c in items]
        d = g.concat(parts)
        pos = [order.index(c) for c in range(self.n)]
        return d if pos == list(range(self.n)) else g.columns(d, pos)


class Tree:
    """One tree's nodes, its splits registered in a Splits."""

    def __init__(self, nodes: list, splits: Splits):
        self.nodes = {int(bridge.scalar(n["id"])): n for n in nodes}
        self.inner = [i for i, n in self.nodes.items() if n["kids"] is not None]
        self.leaves = [i for i, n in self.nodes.items() if n["kids"] is None]
        self.chains = {}
        self.majority = {}
        for i in self.inner:
            n = self.nodes[i]
            self.chains[i] = [splits.add(n["split"])] + [splits.add(s) for s in n["surrogates"] or []]
            prob = n["split"]["prob"]
            self.majority[i] = 1.0 if prob is None else float(np.argmax(np.asarray(prob, dtype=np.float64)) + 1)

    def leaf_indicator(self, g, d, ones) -> str:
        """double [N, leaves]: 1 in the leaf each row ends in."""
        if not self.inner:
            return ones
        zero = g.const(np.zeros((1, 1)))
        k = None
        for p in range(max(len(c) for c in self.chains.values())):
            # a node with fewer surrogates repeats its last: undecided stays undecided
            step = g.columns(d, [self.chains[i][min(p, len(self.chains[i]) - 1)] for i in self.inner])
            k = step if k is None else g.op("Where", g.op("Equal", k, zero), step, k)
        k = g.op("Where", g.op("Equal", k, zero), g.const(np.array([[self.majority[i] for i in self.inner]])), k)
        pairs = [(j, c + 1) for j, i in enumerate(self.inner) for c in range(len(self.nodes[i]["kids"]))]
        goes = g.to_double(g.op("Equal", g.columns(k, [j for j, _ in pairs]),
                                g.const(np.array([[float(c) for _, c in pairs]]))))
        parent = {}
        for j, i in enumerate(self.inner):
            for c, kid in enumerate(np.asarray(self.nodes[i]["kids"]).reshape(-1)):
                parent[int(kid)] = pairs.index((j, c + 1))
        b = np.zeros((len(pairs), len(self.leaves)))
        depth = np.zeros(len(self.leaves))
        for li, leaf in enumerate(self.leaves):
            node = leaf
            while node in parent:
                b[parent[node], li] = 1.0
                depth[li] += 1
                j = pairs[parent[node]][0]
                node = self.inner[j]
        return g.to_double(g.op("Equal", g.matmul(goes, g.const(b)), g.const(depth[None, :])))


def ones(g, frame) -> str:
    """double [N, 1] of ones (a tree that is a single leaf)."""
    col = next(iter(frame.known_columns().values()), None)
    if col is None:
        raise UnsupportedError("a tree with no predictors")
    one = g.const(np.ones((1, 1)))
    if col.kind == "number":
        return g.op("Where", g.op("IsNaN", frame.numeric_column(col.name)), one, one)
    return g.op("Where", frame.factor_column(col.name, col.levels).missing, one, one)


def response_class(fit, what: str) -> str:
    cls = bridge.py(bridge.call("function(f) class(f$fitted[['(response)']])[1]", fit))[0]
    if cls not in NUMERIC + FACTORS:
        raise UnsupportedError(f"{what} with a response of class {cls} is not supported; supported responses: "
                               "numeric, integer, factor, ordered factor")
    return cls


R_LEAVES = r"""
function(f, type) {
  ids <- partykit::nodeids(f, terminal = TRUE)
  v <- partykit::predict_party(f, id = ids, type = type)
  list(ids = ids, values = unname(if (is.matrix(v)) v else as.matrix(as.numeric(v))),
       levels = levels(f$fitted[["(response)"]]))
}
"""


def convert(fit, g) -> Converted:
    cls = response_class(fit, "ctree")
    info = data_info(fit)
    terms_r = bridge.call("function(f) delete.response(f$terms)", fit)
    fr = frame(g, fit, bridge.call("function(f) f$terms", fit), info)
    splits = Splits(g, fr, info)
    tree = Tree(flat(bridge.call("function(f) partykit::node_party(f)", fit)), splits)
    d = splits.build() if splits.n else None
    hit = tree.leaf_indicator(g, d, ones(g, fr) if not tree.inner else None)
    nodes_r = bridge.call("function(f) list(partykit::node_party(f))", fit)
    classify = cls in FACTORS
    leaves = bridge.py(bridge.call(R_LEAVES, fit, "prob" if classify else "response"))
    ids = bridge.ints(leaves["ids"])
    values = np.asarray(leaves["values"], dtype=np.float64).reshape(len(ids), -1)
    values = values[[ids.index(i) for i in tree.leaves]]
    out = g.matmul(hit, g.const(values))
    desc = f"ctree ({'classification' if classify else 'regression'}, {len(tree.leaves)} terminal nodes)"
    return party_outputs(g, fit, out, list(leaves["levels"]) if classify else None, desc, fr, splits,
                         nodes_r, terms_r)


def party_outputs(g, fit, out, classes, desc, fr, splits, nodes_r, terms_r) -> Converted:
    """The outputs of a ctree or cforest (`out`: class probabilities [N, K] when `classes`,
    else the prediction [N, 1]) and predict()'s reference, refusing rows partykit answers at
    random and rows R's predict() drops."""
    def checked(df, predict):
        check_random(fit, nodes_r, terms_r, df)
        value = predict()
        if len(next(iter(value.values()))) != _rows(df):
            raise bridge.RError("predict() dropped rows with missing values")
        return value
    if classes is not None:
        outputs = classifier_outputs(g, out, classes)

        def reference(df):
            return checked(df, lambda: class_and_prob(fit, df, "response", len(classes)))
        return Converted(frame=fr, outputs=outputs, task="classifier", reference=reference, classes=classes,
                         description=desc, thresholds=splits.thresholds)
    outputs = value_output(g, out, "prediction")

    def reference(df):
        def predict():
            y = bridge.py(bridge.call(
                "function(f, d) unname(as.numeric(predict(f, newdata = d, type = 'response')))", fit, df))
            return {"prediction": np.asarray(y, dtype=np.float64).reshape(-1, 1)}
        return checked(df, predict)
    return Converted(frame=fr, outputs=outputs, task="regressor", reference=reference, description=desc,
                     thresholds=splits.thresholds)


def _rows(df) -> int:
    return int(bridge.scalar(bridge.py(bridge.call("function(d) nrow(d)", df))))
