"""Traversal evaluation of a tree ensemble, for big or deep ensembles.

Each row holds one node number per tree ([N, T] int64). One level of every tree is one step,
unrolled as many times as the deepest tree is deep: gather each current node's feature,
threshold and left child, compare, and move to the left child or the one after it (children
are adjacent, see _forest). Leaves read a constant zero column appended to the input, and
their test holds for it (see _forest._leaves_hold), which keeps every row that reached a leaf
where it is: all trees take the same number of steps without a branch.
"""
from __future__ import annotations

import numpy as np

from ._builder import Builder
from ._compare import compare
from ._forest import Forest


def leaf_index(b: Builder, forest: Forest, x: str) -> str:
    """[N, T] int64: the node number of the leaf each row reaches in each tree.
    `x`: [N, n_features] in the thresholds' float type."""
    dtype = forest.threshold.dtype
    xp = b.op("Concat", x, b.zeros_rows(x, 1, dtype), axis=1)  # column n_features: the leaves' 0
    kinds = forest.kinds
    mixed = len(kinds) > 1
    nan = forest.any_nan_left
    one = b.const(np.int64(1))
    roots = forest.roots
    if forest.depth == 0:  # every tree is a single leaf
        n = b.op("Slice", b.op("Shape", x), b.const([0], np.int64), b.const([1], np.int64))
        size = b.op("Concat", n, b.const([forest.n_trees], np.int64), axis=0)
        return b.op("Expand", b.const(roots[None, :], hint="roots"), size)

    # Level 0: every row is at the roots, whose tables are constants.
    xv = b.op("Gather", xp, b.const(forest.feature[roots], hint="feature"), axis=1)  # [N, T]
    cond = compare(b, xv, b.const(forest.threshold[roots], hint="threshold"), kinds,
                   b.const(forest.kind[roots], hint="kind") if mixed else None,
                   b.const(forest.nan_left[roots], hint="nan_left") if nan else None)
    left = b.const(forest.child[roots], hint="child")
    node = b.where(cond, left, b.op("Add", left, one))

    feature = b.const(forest.feature, hint="feature")
    threshold = b.const(forest.threshold, hint="threshold")
    child = b.const(forest.child, hint="child")
    kind = b.const(forest.kind, hint="kind") if mixed else None
    nan_left = b.const(forest.nan_left, hint="nan_left") if nan else None
    for _ in range(1, forest.depth):
        f = b.op("Gather", feature, node, axis=0)
        xv = b.op("GatherElements", xp, f, axis=1)
        cond = compare(b, xv, b.op("Gather", threshold, node, axis=0), kinds,
                       b.op("Gather", kind, node, axis=0) if mixed else None,
                       b.op("Gather", nan_left, node, axis=0) if nan else None)
        left = b.op("Gather", child, node, axis=0)
        node = b.where(cond, left, b.op("Add", left, one))
    return node
