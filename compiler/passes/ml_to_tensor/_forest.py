"""Tree ensembles as flat tables, the form both evaluation strategies read.

Trees are renumbered breadth-first so that an internal node's two children are adjacent: `left`
is taken when the node's comparison holds, `left + 1` when it does not. Every ONNX branch mode
becomes one of three comparisons, possibly with its children swapped, which keeps the float
comparison exactly the one ONNX Runtime makes (no threshold is moved by a float step):

    BRANCH_LEQ  x <= t            BRANCH_GT   not (x <= t)
    BRANCH_LT   x <  t            BRANCH_GTE  not (x <  t)
    BRANCH_EQ   x == t            BRANCH_NEQ  not (x == t)

ONNX Runtime sends a NaN input to the true branch when nodes_missing_value_tracks_true is set
(and for NEQ, where NaN != t holds); every comparison above is false for NaN, so a node records
whether NaN goes to `left` instead (`nan_left`).
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedError

LE, LT, EQ = 0, 1, 2
# mode -> (comparison, children swapped)
MODES = {"BRANCH_LEQ": (LE, False), "BRANCH_LT": (LT, False), "BRANCH_EQ": (EQ, False),
         "BRANCH_GT": (LE, True), "BRANCH_GTE": (LT, True), "BRANCH_NEQ": (EQ, True)}
# TreeEnsemble (ai.onnx.ml 5) numbers its modes.
MODE_NUMBERS = {0: "BRANCH_LEQ", 1: "BRANCH_LT", 2: "BRANCH_GTE", 3: "BRANCH_GT", 4: "BRANCH_EQ",
                5: "BRANCH_NEQ", 6: "BRANCH_MEMBER"}


@dataclass
class Forest:
    feature: np.ndarray  # int64 per node; leaves read the constant column `n_features`
    threshold: np.ndarray  # per node, in the comparison's float type; leaves: see _leaves_hold
    kind: np.ndarray  # int64 per node: LE, LT or EQ
    child: np.ndarray  # int64 per node: the child taken when the comparison holds; leaves: itself
    nan_left: np.ndarray  # bool per node
    is_leaf: np.ndarray  # bool per node
    roots: np.ndarray  # int64 per tree
    depths: np.ndarray  # int64 per tree: its deepest leaf
    entries: dict  # node -> [(target, weight)] of a leaf
    n_features: int

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def depth(self) -> int:
        return int(self.depths.max()) if len(self.depths) else 0

    @property
    def kinds(self) -> set:
        return {int(k) for k in self.kind[~self.is_leaf]}

    @property
    def any_nan_left(self) -> bool:
        return bool(np.any(self.nan_left[~self.is_leaf]))

    def tree_nodes(self, t: int) -> range:
        end = self.roots[t + 1] if t + 1 < self.n_trees else len(self.feature)
        return range(int(self.roots[t]), int(end))

    def table(self, n_outputs: int) -> tuple[np.ndarray, np.ndarray]:
        """(sums [nodes, n_outputs] float64, counts [nodes, n_outputs]): per leaf, the sum of its
        weights per target and how many weights it carries per target."""
        sums = np.zeros((len(self.feature), n_outputs), np.float64)
        counts = np.zeros((len(self.feature), n_outputs), np.int64)
        for node, items in self.entries.items():
            for target, w in items:
                sums[node, target] += w
                counts[node, target] += 1
        return sums, counts


def float_values(attrs: dict, name: str) -> np.ndarray:
    """A float list attribute, or its *_as_tensor double form, as float64."""
    if attrs.get(f"{name}_as_tensor") is not None:
        return np.asarray(attrs[f"{name}_as_tensor"], np.float64).reshape(-1)
    return np.asarray(attrs.get(name) or [], np.float32).astype(np.float64)


def from_v3(op: str, attrs: dict, prefix: str, n_targets: int, n_features: int, dtype) -> Forest:
    """TreeEnsembleClassifier / TreeEnsembleRegressor attributes; `prefix` is "class" or "target"."""
    n = len(attrs["nodes_nodeids"])
    mtt = attrs.get("nodes_missing_value_tracks_true") or [0] * n
    thresholds = float_values(attrs, "nodes_values").tolist()
    columns = zip(attrs["nodes_treeids"], attrs["nodes_nodeids"], attrs["nodes_modes"], attrs["nodes_featureids"],
                  thresholds, attrs["nodes_truenodeids"], attrs["nodes_falsenodeids"], mtt)
    # (tree, node) -> (mode, feature, threshold, true child, false child, NaN goes true)
    nodes = {(t, i): (mode, f, v, (t, yes), (t, no), bool(m)) for t, i, mode, f, v, yes, no, m in columns}
    weights = float_values(attrs, f"{prefix}_weights")
    leaves = defaultdict(list)
    for t, nid, target, w in zip(attrs[f"{prefix}_treeids"], attrs[f"{prefix}_nodeids"], attrs[f"{prefix}_ids"],
                                 weights):
        if not 0 <= int(target) < n_targets:
            raise UnsupportedError(f"{op}: {prefix}_ids value {int(target)} is outside [0, {n_targets})")
        leaves[(int(t), int(nid))].append((int(target), float(w)))
    trees = defaultdict(list)
    for key in nodes:
        trees[key[0]].append(key)
    roots = []
    for t in sorted(trees):
        children = {c for key in trees[t] if nodes[key][0] != "LEAF" for c in nodes[key][3:5]}
        candidates = sorted(k for k in trees[t] if k not in children)
        if not candidates:
            raise UnsupportedError(f"{op}: tree {t} has no root (its nodes form a cycle)")
        roots.append(candidates[0])
    return _layout(op, nodes, leaves, roots, n_features, dtype)


def from_v5(op: str, attrs: dict, n_features: int, dtype) -> tuple[Forest, int]:
    """TreeEnsemble (ai.onnx.ml 5) attributes: (forest, n_targets). Leaves are numbered apart
    from the nodes; nodes_trueleafs / nodes_falseleafs tell which numbering a child uses."""
    modes = [MODE_NUMBERS.get(int(m), str(m)) for m in np.asarray(attrs["nodes_modes"]).reshape(-1)]
    if "BRANCH_MEMBER" in modes:
        raise UnsupportedError(f"{op}: BRANCH_MEMBER (set membership) splits are not supported by the "
                               "TVM targets yet; use the cpp, java or onnx targets")
    splits = np.asarray(attrs["nodes_splits"], np.float64).reshape(-1)
    n = len(modes)
    mtt = attrs.get("nodes_missing_value_tracks_true") or [0] * n
    true_leaf = attrs.get("nodes_trueleafs") or [0] * n
    false_leaf = attrs.get("nodes_falseleafs") or [0] * n
    nodes = {}

    def ref(is_leaf, i):
        return ("leaf", int(i)) if is_leaf else ("node", int(i))
    for j in range(n):
        nodes[("node", j)] = (modes[j], int(attrs["nodes_featureids"][j]), splits[j],
                              ref(true_leaf[j], attrs["nodes_truenodeids"][j]),
                              ref(false_leaf[j], attrs["nodes_falsenodeids"][j]), bool(mtt[j]))
    leaf_targets = [int(v) for v in attrs["leaf_targetids"]]
    leaf_weights = np.asarray(attrs["leaf_weights"], np.float64).reshape(-1)
    leaves = {}
    for i, (t, w) in enumerate(zip(leaf_targets, leaf_weights)):
        nodes[("leaf", i)] = ("LEAF", 0, 0.0, None, None, False)
        leaves[("leaf", i)] = [(t, float(w))]
    n_targets = int(attrs.get("n_targets", 1) or 1)
    if any(not 0 <= t < n_targets for t in leaf_targets):
        raise UnsupportedError(f"{op}: leaf_targetids must lie in [0, {n_targets})")
    roots = [("node", int(r)) for r in attrs["tree_roots"]]
    return _layout(op, nodes, leaves, roots, n_features, dtype), n_targets


def _layout(op, nodes: dict, leaves: dict, roots: list, n_features: int, dtype) -> Forest:
    """Breadth-first tables with adjacent children; see the module docstring."""
    np_t = np.dtype(dtype).type
    feature, threshold, kind, child, nan_left, is_leaf, starts, depths = [], [], [], [], [], [], [], []
    entries = {}

    def slot():
        for col in (feature, threshold, kind, child, nan_left, is_leaf):
            col.append(0)
        return len(feature) - 1

    for root in roots:
        starts.append(len(feature))
        order = {root: slot()}
        queue, deepest, seen = deque([(root, 0)]), 0, {root}
        while queue:
            key, depth = queue.popleft()
            me = order[key]
            if key not in nodes:
                raise UnsupportedError(f"{op}: a tree refers to node {key[-1]}, which does not exist")
            mode, feat, value, true_key, false_key, tracks_true = nodes[key]
            if mode == "LEAF":
                feature[me], threshold[me], kind[me], child[me] = n_features, np.inf, LE, me
                nan_left[me], is_leaf[me] = False, True
                entries[me] = leaves.get(key, [])
                deepest = max(deepest, depth)
                continue
            if mode not in MODES:
                raise UnsupportedError(f"{op}: node mode {mode} is not supported ({', '.join(MODES)}, LEAF)")
            if not 0 <= feat < n_features:
                raise UnsupportedError(f"{op}: a node reads feature {feat} of an input with {n_features}")
            cmp, swapped = MODES[mode]
            left, right = (false_key, true_key) if swapped else (true_key, false_key)
            nan_goes_true = tracks_true or mode == "BRANCH_NEQ"
            if left in seen or right in seen:
                raise UnsupportedError(f"{op}: a node is reached twice in one tree (not a tree)")
            seen.update((left, right))
            pos = slot()
            slot()
            order[left], order[right] = pos, pos + 1
            feature[me], threshold[me], kind[me], child[me] = feat, np_t(value), cmp, pos
            nan_left[me], is_leaf[me] = nan_goes_true != swapped, False
            queue.append((left, depth + 1))
            queue.append((right, depth + 1))
        depths.append(deepest)
    forest = Forest(np.asarray(feature, np.int64), np.asarray(threshold, np_t), np.asarray(kind, np.int64),
                    np.asarray(child, np.int64), np.asarray(nan_left, bool), np.asarray(is_leaf, bool),
                    np.asarray(starts, np.int64), np.asarray(depths, np.int64), entries, n_features)
    _leaves_hold(forest)
    return forest


def _leaves_hold(forest: Forest) -> None:
    """Leaves compare the constant 0 so that the test holds and the walk stays: `0 <= inf` and
    `0 < inf`, or `0 == 0` in a forest of EQ tests only (one comparison op serves all nodes)."""
    kinds = forest.kinds
    if len(kinds) == 1:
        forest.kind[forest.is_leaf] = next(iter(kinds))
        if kinds == {EQ}:
            forest.threshold[forest.is_leaf] = 0
