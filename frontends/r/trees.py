"""Shared by the R tree converters: the feature matrix a tree ensemble reads, and the tree
ensemble node built from flat node tables: TreeEnsemble (ai.onnx.ml 5) comparing and summing
in double as R does, or, for --precision float32, TreeEnsembleRegressor with thresholds that
compare float32 inputs exactly as R compares their doubles."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from modelport.errors import UnsupportedError
from modelport.frontends import tree_ensemble_v5

from . import bridge
from .terms import Frame, Variable


def float32_threshold(t, strict=False) -> np.ndarray:
    """u such that, for every float32 x, `x <= u` is `x <= t` (`x < t` where strict) for the
    double t: the largest float32 <= t (< t). `strict` is a bool or one per threshold."""
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(over="ignore"):
        u = t.astype(np.float32)
    u64 = u.astype(np.float64)
    above = np.where(strict, u64 >= t, u64 > t)
    return np.where(above, np.nextafter(u, np.float32(-np.inf)), u).astype(np.float32)


class Features:
    """The columns a tree ensemble reads: numeric variables (float32 inputs as they come, when
    every one is a plain column, so thresholds can be rounded to float32 exactly; otherwise all
    in double) and per-level codes of factors (onehot @ codes; NaN where the factor is missing)."""

    def __init__(self, g, frame: Frame):
        self.g, self.frame = g, frame
        self._keys: dict = {}
        self._specs: list = []  # ("numeric", label) | ("coded", label, codes)

    def numeric(self, label: str) -> int:
        """Index of the numeric variable `label` (a column, or a formula expression)."""
        col = self.frame.known_columns().get(label)
        if col is not None and col.kind == "string" and list(col.levels) == ["FALSE", "TRUE"]:
            return self.coded(label, [0, 1])  # a logical column, which R reads as 0/1
        return self._add(("numeric", label))

    def coded(self, label: str, codes) -> int:
        """Index of a derived column: factor `label` with level i read as codes[i]."""
        return self._add(("coded", label, tuple(float(c) for c in codes)))

    def factor(self, label: str) -> Variable:
        """The factor variable `label` (a formula variable or a plain string column)."""
        col = self.frame.known_columns().get(label)
        if label in (self.frame.info.get("labels") or []):
            v = self.frame.variable(label)
        elif col is not None and col.kind == "string":
            v = self.frame.factor_column(label, col.levels)
        else:
            raise UnsupportedError(f"the model splits on {label!r} as a factor, but it is not a factor column")
        if v.levels is None:
            raise UnsupportedError(f"the model splits on {label!r} as a factor, but it is numeric")
        return v

    def _add(self, key) -> int:
        if key not in self._keys:
            self._keys[key] = len(self._specs)
            self._specs.append(key)
        return self._keys[key]

    def _plain(self, label) -> bool:
        col = self.frame.known_columns().get(label)
        return col is not None and col.kind == "number"

    def _numeric_value(self, label):
        if self._plain(label):
            return self.frame.numeric_column(label)
        v = self.frame.variable(label)
        if v.levels is not None:
            raise UnsupportedError(f"the model splits on {label!r} as a number, but it is a factor")
        if len(v.names) != 1:
            raise UnsupportedError(f"the model splits on {label!r}, which has {len(v.names)} columns; "
                                   "tree models here read one column per variable")
        return v.value

    def build(self):
        """(features [N, F], double, position): float32 when every numeric column is a plain
        input; position[i] is the column of the i-th feature asked for (numeric columns
        first, then each factor's derived columns side by side, as one MatMul makes them)."""
        g = self.g
        # R compares doubles: so does the tree, unless the user asked for float32 inputs
        # (then thresholds are rounded so that float32 inputs go where R sends them).
        double = g.precision == "float64" or any(s[0] == "numeric" and not self._plain(s[1])
                                                 for s in self._specs)
        if not self._specs:
            raise UnsupportedError("the model has no splits: every tree is a single leaf")
        cols, position = [], np.zeros(len(self._specs), dtype=np.int64)
        coded = {}  # label -> [(feature index, codes)]
        for i, s in enumerate(self._specs):
            if s[0] == "numeric":
                position[i] = len(cols)
                cols.append(self._numeric_value(s[1]) if double else self.frame.float_column(s[1]))
            else:
                coded.setdefault(s[1], []).append((i, s[2]))
        width = len(cols)
        for label, items in coded.items():
            v = self.factor(label)
            m = np.array([c for _, c in items], dtype=np.float64).T  # [K, n]
            if m.shape[0] != len(v.levels):
                raise UnsupportedError(f"factor {label!r}: the model knows {m.shape[0]} levels, the data frame "
                                       f"{len(v.levels)}")
            value = g.matmul(v.onehot, g.const(m))
            value = g.op("Where", v.missing, g.const(np.full((1, m.shape[1]), np.nan)), value)
            cols.append(value if double else g.to_float(value))  # small integers: exact in float
            for j, (i, _) in enumerate(items):
                position[i] = width + j
            width += len(items)
        return g.concat(cols), double, position


@dataclass
class Nodes:
    """Flat node table of a forest. Internal nodes send a row to `left` when
    x[feature] <= threshold (x < threshold where `strict`: a bool, or one per node), else to
    `right`; a missing value goes left where `nan_left`. Leaves have feature -1."""
    tree: np.ndarray
    node: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    nan_left: np.ndarray | None = None
    strict: bool | np.ndarray = False


@dataclass
class Leaves:
    """Leaf outputs: tree, node, target (output column) and weight, one entry per pair."""
    tree: np.ndarray
    node: np.ndarray
    target: np.ndarray
    weight: np.ndarray


def ensemble(g, x: str, double: bool, nodes: Nodes, leaves: Leaves, n_targets: int) -> str:
    """TreeEnsembleRegressor summing the leaf weights reached in every tree: double [N, n_targets]."""
    # ONNX Runtime takes the first node of each run of a tree id as that tree's root: nodes
    # go in (tree, node) order, roots being node 0.
    order = np.lexsort((np.asarray(nodes.node), np.asarray(nodes.tree)))
    n = len(order)
    pick = lambda a: np.broadcast_to(np.asarray(a), (n,))[order]
    nodes = Nodes(pick(nodes.tree), pick(nodes.node), pick(nodes.feature), pick(nodes.threshold), pick(nodes.left),
                  pick(nodes.right), None if nodes.nan_left is None else pick(nodes.nan_left), pick(nodes.strict))
    internal = np.asarray(nodes.feature) >= 0
    thr = np.where(internal, np.asarray(nodes.threshold, dtype=np.float64), 0.0)
    nan_left = np.zeros(n, bool) if nodes.nan_left is None else np.asarray(nodes.nan_left, bool)
    attrs = dict(
        n_targets=int(n_targets), aggregate_function="SUM", post_transform="NONE",
        nodes_treeids=_ints(nodes.tree), nodes_nodeids=_ints(nodes.node),
        nodes_featureids=_ints(np.where(internal, nodes.feature, 0)),
        nodes_modes=np.where(internal, "BRANCH_LEQ", "LEAF").tolist(),
        nodes_truenodeids=_ints(np.where(internal, nodes.left, 0)),
        nodes_falsenodeids=_ints(np.where(internal, nodes.right, 0)),
        nodes_missing_value_tracks_true=_ints(internal & nan_left),
        target_treeids=_ints(leaves.tree), target_nodeids=_ints(leaves.node), target_ids=_ints(leaves.target),
    )
    w = np.asarray(leaves.weight, dtype=np.float64)
    if double:
        # TreeEnsemble (ai.onnx.ml 5): x <= t (x < t where strict) exactly as R compares,
        # sums in double (TreeEnsembleRegressor would round them to float).
        return g.op("TreeEnsemble", x, domain="ai.onnx.ml", **tree_ensemble_v5.attributes(
            nodes.tree, nodes.node, internal, nodes.feature, thr, nodes.left, nodes.right, nan_left, nodes.strict,
            leaves.tree, leaves.node, leaves.target, leaves.weight, n_targets))
    attrs["nodes_values"] = float32_threshold(thr, nodes.strict).astype(np.float64).tolist()
    attrs["target_weights"] = w.astype(np.float32).astype(np.float64).tolist()
    y = g.op("TreeEnsembleRegressor", x, domain="ai.onnx.ml", **attrs)
    return g.to_double(y)


def _ints(a) -> list:
    return np.asarray(a, dtype=np.int64).tolist()




R_CLASSES = r"""
function(d, ord, lgl) {
  for (n in ord) if (n %in% names(d)) d[[n]] <- factor(d[[n]], levels = levels(d[[n]]), ordered = TRUE)
  for (n in lgl) if (n %in% names(d)) d[[n]] <- as.logical(as.character(d[[n]]))
  d
}
"""


def fitted_classes(frame: Frame) -> tuple:
    """(ordered factor columns, logical columns) of a formula frame."""
    ordered, logical = [], []
    for label, cls in zip(frame.info.get("labels") or [], frame.info.get("classes") or []):
        if label in frame.known_columns():
            (ordered if cls == "ordered" else logical if cls == "logical" else []).append(label)
    return ordered, logical


def as_fitted(df, ordered: list, logical: list = ()):
    """The R data.frame df with ordered factors and logical columns restored, as they were
    when the model was fitted (the bridge makes plain factors of them; predict methods check)."""
    if not ordered and not logical:
        return df
    sv = bridge.robjects().StrVector
    return bridge.call(R_CLASSES, df, sv(list(ordered)), sv(list(logical)))


# R: the levels of factor columns in the data the model was fitted on, where R can still
# find it: the call's `data` (else its `x`) evaluated in `env`, when that is a name or a
# plain selection from one (never other code, such as read.csv(), which could be slow or
# have effects).
R_TRAINING_LEVELS = r"""
function(f, cols, env) {
  safe <- function(e) {
    if (is.name(e) || is.atomic(e)) return(TRUE)
    is.call(e) && as.character(e[[1]])[1] %in% c("::", ":::", "$", "[", "[[", ":", "c", "-") &&
      all(vapply(as.list(e)[-1], safe, TRUE))
  }
  d <- NULL
  for (a in c("data", "x")) {
    e <- f$call[[a]]
    if (is.null(d) && !is.null(e) && safe(e)) d <- tryCatch(as.data.frame(eval(e, env)), error = function(e) NULL)
  }
  if (!is.data.frame(d)) return(NULL)
  out <- list(.found = TRUE)
  for (c in cols) if (c %in% names(d) && is.factor(d[[c]])) out[[c]] <- levels(d[[c]])
  out
}
"""


def training_levels(fit, columns: list, env=None) -> dict | None:
    """{column: levels} of the factor columns among `columns` in the model's training data
    frame, when R can still find it (None otherwise)."""
    ro = bridge.robjects()
    env = env if env is not None else ro.globalenv
    found = bridge.py(bridge.call(R_TRAINING_LEVELS, fit, ro.StrVector(list(columns)), env))
    if found is None:
        return None
    return {k: list(v) for k, v in found.items() if k != ".found"}
