"""GEMM evaluation of a tree ensemble (as Hummingbird does), for small ensembles.

Per tree t, with its internal nodes i and leaves l padded to the forest's largest counts:
  1. every node's test at once: c[n, t, i] = x[n, feature[t, i]] <cmp> threshold[t, i];
  2. c @ P[t] with P[t, i, l] = +1 if leaf l lies under the left child of node i, -1 under its
     right child, 0 otherwise: a row reaches leaf l exactly when this equals the number of
     left turns on l's path (every left test true, every right test false);
  3. that one-hot [N, T, L] times the leaf values gives the trees' outputs.
The node inputs are picked by Gather rather than multiplied by a one-hot feature matrix:
0 * inf and 0 * NaN would turn one feature's infinity or NaN into every node's NaN. The
matrix products only ever see 0, 1 and -1, so they are exact.
"""
from __future__ import annotations

import numpy as np

from ._builder import F32, Builder
from ._compare import compare
from ._forest import LE, Forest


def shape(forest: Forest) -> tuple[int, int]:
    """(internal nodes, leaves) of the largest tree: the padded sizes."""
    n_int, n_leaf = 1, 1
    for t in range(forest.n_trees):
        nodes = forest.tree_nodes(t)
        leaves = int(forest.is_leaf[nodes.start:nodes.stop].sum())
        n_int, n_leaf = max(n_int, len(nodes) - leaves), max(n_leaf, leaves)
    return n_int, n_leaf


def leaf_slots(forest: Forest) -> np.ndarray:
    """[T, L] int64: the node number of each tree's l-th leaf (-1 for padding)."""
    _, n_leaf = shape(forest)
    slots = np.full((forest.n_trees, n_leaf), -1, np.int64)
    for t in range(forest.n_trees):
        nodes = np.asarray(forest.tree_nodes(t))
        leaves = nodes[forest.is_leaf[nodes]]
        slots[t, :len(leaves)] = leaves
    return slots


def _tables(forest: Forest):
    n_int, n_leaf = shape(forest)
    T = forest.n_trees
    feature = np.zeros((T, n_int), np.int64)
    threshold = np.zeros((T, n_int), forest.threshold.dtype)
    kind = np.full((T, n_int), LE, np.int64)
    nan_left = np.zeros((T, n_int), bool)
    paths = np.zeros((T, n_int, n_leaf), np.float32)
    lefts = np.full((T, 1, n_leaf), -1.0, np.float32)  # padding leaves: never reached
    slots = leaf_slots(forest)
    for t in range(T):
        nodes = np.asarray(forest.tree_nodes(t))
        internal = nodes[~forest.is_leaf[nodes]]
        column = {int(g): i for i, g in enumerate(internal)}
        feature[t, :len(internal)] = forest.feature[internal]
        threshold[t, :len(internal)] = forest.threshold[internal]
        kind[t, :len(internal)] = forest.kind[internal]
        nan_left[t, :len(internal)] = forest.nan_left[internal]
        parent = {}
        for g in internal:
            left = int(forest.child[g])
            parent[left], parent[left + 1] = (int(g), 1.0), (int(g), -1.0)
        for j, leaf in enumerate(slots[t]):
            if leaf < 0:
                continue
            lefts[t, 0, j] = 0.0
            g = int(leaf)
            while g in parent:
                up, sign = parent[g]
                paths[t, column[up], j] = sign
                lefts[t, 0, j] += sign > 0
                g = up
    return feature, threshold, kind, nan_left, paths, lefts


def leaf_onehot(b: Builder, forest: Forest, x: str) -> str:
    """[N, T, 1, L] bool: which padded leaf slot (leaf_slots) each row reaches in each tree.
    `x`: [N, n_features] in the thresholds' float type."""
    feature, threshold, kind, nan_left, paths, lefts = _tables(forest)
    xg = b.op("Gather", x, b.const(feature, hint="feature"), axis=1)  # [N, T, I]
    kinds = forest.kinds
    cond = compare(b, xg, b.const(threshold, hint="threshold"), kinds,
                   b.const(kind, hint="kind") if len(kinds) > 1 else None,
                   b.const(nan_left, hint="nan_left") if forest.any_nan_left else None)
    # [N, T, 1, I] @ [T, I, L]: one product per tree, broadcast over the rows
    tests = b.unsqueeze(b.cast(cond, F32), [2])
    turns = b.op("MatMul", tests, b.const(paths, hint="paths"))  # [N, T, 1, L]
    return b.op("Equal", turns, b.const(lefts, hint="left_turns"))
