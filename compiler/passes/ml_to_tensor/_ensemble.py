"""Shared by the tree-ensemble ops: the input as the thresholds' float type, the choice of
strategy, and the per-target aggregation of the leaves the rows reach.

Leaf values are summed in float64 (ONNX Runtime sums in float32 in tree order; float64 sums
stay within float32 rounding of it whatever the order) and cast to float32 by the callers.
"""
from __future__ import annotations

import numpy as np

from . import _gemm, _scores, _traversal
from ._builder import F32, F64, Builder, Value
from ._forest import Forest
from ...errors import UnsupportedError

STRATEGIES = ("auto", "gemm", "traversal")
# "auto" takes GEMM for shallow ensembles only: its work per tree and row grows with internal
# nodes x leaves (4^depth), traversal's with the depth. Measured with untuned TVM on one CPU core
# (100 trees, 20 features, 10,000 rows; ONNX Runtime 56-70 ms): depth 3, GEMM 62-74 ms and
# traversal 72-87 ms; depth 4, GEMM 129 ms and traversal 102-110 ms; depth 6, GEMM 4.1 s and
# traversal 0.23 s.
GEMM_MAX_DEPTH = 3
GEMM_MAX_CELLS = 1 << 20  # trees x internal nodes x leaves of the padded path matrices
AGGREGATES = ("SUM", "AVERAGE", "MIN", "MAX")
MISSING = 1e300  # MIN/MAX: stands for "this leaf has no weight for this target"


def tree_input(b: Builder, x: Value) -> tuple[str, np.dtype]:
    """X as [N, F] float32 (float64 kept): ONNX Runtime compares a float input with float32
    thresholds, a double input with double ones, and converts integer inputs to float."""
    if x.dtype == np.object_ or x.classes is not None:
        raise UnsupportedError(f"tree ensembles over the string value {x.name!r} are not supported")
    name = b.rows(x)
    if x.dtype in (np.float32, np.float64):
        return name, np.dtype(x.dtype)
    return b.cast(name, F32), np.dtype(np.float32)


def choose(forest: Forest, strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown tree strategy {strategy!r} (one of {', '.join(STRATEGIES)})")
    if strategy != "auto":
        return strategy
    n_int, n_leaf = _gemm.shape(forest)
    small = forest.n_trees * n_int * n_leaf <= GEMM_MAX_CELLS
    return "gemm" if forest.depth <= GEMM_MAX_DEPTH and small else "traversal"


def aggregate(b: Builder, forest: Forest, x: str, strategy: str, table: np.ndarray, how: str) -> str:
    """[N, K] float64: per target, the SUM / MIN / MAX over trees of table[leaf reached]
    ([nodes, K] float64). MIN and MAX tables hold ±MISSING where a leaf has no weight."""
    strategy = choose(forest, strategy)
    if strategy == "gemm":
        hot = b.cast(_gemm.leaf_onehot(b, forest, x), F64)  # [N, T, 1, L]
        slots = _gemm.leaf_slots(forest)
        per_slot = np.where(slots[..., None] >= 0, table[np.maximum(slots, 0)], 0.0)  # [T, L, K]
        if how == "SUM":
            flat = b.op("Reshape", hot, b.const([-1, slots.size], np.int64))
            return b.op("MatMul", flat, b.const(per_slot.reshape(slots.size, -1), hint="leaf_values"))
        per_tree = b.op("MatMul", hot, b.const(per_slot, hint="leaf_values"))  # [N, T, 1, K]
        return b.reduce("ReduceMin" if how == "MIN" else "ReduceMax", per_tree, [1, 2], keepdims=0)
    node = _traversal.leaf_index(b, forest, x)
    values = b.op("Gather", b.const(table, hint="leaf_values"), node, axis=0)  # [N, T, K]
    op = {"SUM": "ReduceSum", "MIN": "ReduceMin", "MAX": "ReduceMax"}[how]
    return b.reduce(op, values, [1], keepdims=0)


ALWAYS, NEVER, VARIES = "always", "never", "varies"


def presence(forest: Forest, counts: np.ndarray) -> list:
    """Per target: whether every row (some tree weighs it at all its leaves), no row, or only some
    rows reach a leaf weight for it ([nodes, targets] counts of weights per leaf)."""
    out = []
    for j in range(counts.shape[1]):
        has = counts[:, j] > 0
        if not has[forest.is_leaf].any():
            out.append(NEVER)
        elif any(has[[g for g in forest.tree_nodes(t) if forest.is_leaf[g]]].all() for t in range(forest.n_trees)):
            out.append(ALWAYS)
        else:
            out.append(VARIES)
    return out


def regress(b: Builder, op: str, forest: Forest, n_targets: int, agg: str, post: str, base: list,
            x: str, strategy: str, double: bool = False) -> str:
    """[N, n_targets] as ONNX Runtime's regression aggregators give it: the sum (or average,
    minimum, maximum) over trees plus base_values when there is one per target, then the
    post-transform (for a single target only PROBIT applies). float32, or float64 when `double`
    (then without post-transform)."""
    if agg not in AGGREGATES:
        raise UnsupportedError(f"{op} aggregate_function {agg} is not supported ({', '.join(AGGREGATES)})")
    sums, counts = forest.table(n_targets)
    if agg in ("SUM", "AVERAGE"):
        total, scored = _summed(b, forest, x, strategy, sums, counts, agg == "AVERAGE")
    else:
        total, scored = _extreme(b, forest, x, strategy, sums, counts, agg)
    ftype = np.float64 if double else np.float32
    y = total if double else b.cast(total, F32)
    if len(base) == n_targets:
        y = b.op("Add", y, b.const(np.asarray(base, ftype), hint="base_values"))
    if n_targets > 1 and scored is not None:
        # With several targets, a target no reached leaf weighs is written as 0, base value or not.
        y = b.where(scored, y, b.const(ftype(0)))
    if double:
        return y
    if n_targets == 1:
        return _scores.probit(b, y) if post == "PROBIT" else y
    return _scores.transform(b, y, post)


def _summed(b, forest, x, strategy, sums, counts, average: bool):
    """(sum or average over trees [N, K] float64, which targets are scored: None for all)."""
    kinds = presence(forest, counts)
    varies = VARIES in kinds
    # Where it varies per row, K more columns count the weights reached per target.
    table = np.concatenate([sums, counts.astype(np.float64)], axis=1) if varies else sums
    total = aggregate(b, forest, x, strategy, table, "SUM")
    K = sums.shape[1]
    if varies:
        scored = b.op("Greater", b.columns(total, K, 2 * K), b.const(np.float64(0.5)))
        total = b.columns(total, 0, K)
    else:
        scored = None if NEVER not in kinds else b.const(np.array([k == ALWAYS for k in kinds]))
    if average:
        total = b.op("Div", total, b.const(np.float64(forest.n_trees)))
    return total, scored


def _extreme(b, forest, x, strategy, sums, counts, agg: str):
    """(minimum or maximum over trees [N, K] float64, 0 where no leaf weighs a target; which
    targets are scored)."""
    # Leaves without a weight for a target are left out of its minimum (maximum).
    missing = MISSING if agg == "MIN" else -MISSING
    best = aggregate(b, forest, x, strategy, np.where(counts > 0, sums, missing), agg)
    none = b.op("Equal", best, b.const(np.float64(missing)))
    return b.where(none, b.const(np.float64(0.0)), best), b.op("Not", none)
