"""Per-row table lookups for piecewise functions (spline bases): which interval of a sorted
knot vector a value falls in, and the table entries at that index, as ONNX ops in double."""
from __future__ import annotations

import numpy as np


def count_below(g, x: str, knots, strict: bool = True) -> str:
    """int64 [N, 1]: how many of `knots` are < x (strict) or <= x. NaN counts none."""
    k = g.const(np.asarray(knots, dtype=np.float64).reshape(1, -1))
    hit = g.op("Less", k, x) if strict else g.op("LessOrEqual", k, x)
    n = g.op("ReduceSum", g.op("Cast", hit, to=7), g.const(np.array([1], np.int64), np.int64), keepdims=1)
    return n


def shift(g, idx: str, by: int) -> str:
    return idx if by == 0 else g.op("Add", idx, g.const(np.array([[by]], np.int64), np.int64))


def clip(g, idx: str, lo: int, hi: int) -> str:
    return g.op("Min", g.op("Max", idx, g.const(np.array([[lo]], np.int64), np.int64)),
                g.const(np.array([[hi]], np.int64), np.int64))


def pick(g, values, idx: str) -> str:
    """double [N, 1]: values[idx] per row."""
    v = g.const(np.asarray(values, dtype=np.float64).reshape(-1))
    return g.op("Reshape", g.op("Gather", v, idx, axis=0), g.const(np.array([-1, 1], np.int64), np.int64))


def rows(g, table, idx: str) -> str:
    """double [N, k]: row idx of the [m, k] table per row."""
    t = np.asarray(table, dtype=np.float64)
    gathered = g.op("Gather", g.const(t), idx, axis=0)  # [N, 1, k]
    return g.op("Reshape", gathered, g.const(np.array([-1, t.shape[1]], np.int64), np.int64))


def onehot(g, idx: str, width: int) -> str:
    """double [N, width]: 1 in column idx, 0 elsewhere."""
    cols = g.const(np.arange(width, dtype=np.int64).reshape(1, -1), np.int64)
    return g.to_double(g.op("Equal", cols, idx))


def scalar(g, v: float) -> str:
    return g.const(np.array([[float(v)]]))
