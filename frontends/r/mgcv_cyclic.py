"""mgcv's cyclic cubic regression spline basis ("cc"): the rows Predict.matrix.cyclic.smooth
computes for new values, before constraints. Values outside the knot range are first
wrapped into it (period = last knot - first knot, R's %% arithmetic); then in the interval
(k[j1], k[j1+1]] of width h, with a = k[j1+1] - x and b = x - k[j1] and j the next knot
(the first one again after the last), the row is
    BD[j1,] a^3/(6h) + BD[j,] b^3/(6h) - BD[j1,] (h a/6) - BD[j,] (h b/6) + e_j1 a/h + e_j b/h.
"""
from __future__ import annotations

import numpy as np

from .intervals import clip, count_below, onehot, pick, rows, scalar, shift


def _rmod(g, a, h):
    """R's a %% h for finite a >= 0 and h > 0: t = a - floor(a/h) h; t - floor(t/h) h."""
    t = g.sub(a, g.mul(g.op("Floor", g.div(a, h)), h))
    return g.sub(t, g.mul(g.op("Floor", g.div(t, h)), h))


def _parts(g, x: str, knots, BD):
    """Per row: the interval j1 (0-based), the next knot's row j, the width h and the distances
    a = k[j1 + 1] - x, b = x - k[j1], after wrapping."""
    k = np.asarray(knots, dtype=np.float64).reshape(-1)
    n = k.size
    BD = np.asarray(BD, dtype=np.float64).reshape(n - 1, n - 1)
    x0, x1 = scalar(g, k.min()), scalar(g, k.max())
    period = scalar(g, k.max() - k.min())
    x = g.op("Where", g.op("Greater", x, x1), g.add(x0, _rmod(g, g.sub(x, x1), period)), x)
    x = g.op("Where", g.op("Less", x, x0), g.sub(x1, _rmod(g, g.sub(x0, x), period)), x)
    # j1 (0-based): the interval (k[j1], k[j1 + 1]] holding x; k[0] itself is in the first
    j1 = clip(g, count_below(g, x, k[1:n - 1]), 0, n - 2)
    j = shift(g, j1, 1)
    j = g.op("Where", g.op("Equal", j, g.const(np.array([[n - 1]], np.int64), np.int64)),
             g.const(np.array([[0]], np.int64), np.int64), j)
    h = pick(g, np.diff(k), j1)
    a = g.sub(pick(g, k[1:], j1), x)
    b = g.sub(x, pick(g, k, j1))
    return j1, j, h, a, b, BD


def _combine(g, bd1, bd, e1, e, parts):
    """The row formula, on BD's rows j1, j (bd1, bd) and the unit rows (e1, e), or on their
    products with a vector."""
    _, _, h, a, b, _ = parts
    three, six = scalar(g, 3.0), scalar(g, 6.0)
    six_h = g.mul(six, h)
    out = g.div(g.mul(bd1, g.op("Pow", a, three)), six_h)
    out = g.add(out, g.div(g.mul(bd, g.op("Pow", b, three)), six_h))
    out = g.sub(out, g.mul(bd1, g.div(g.mul(h, a), six)))
    out = g.sub(out, g.mul(bd, g.div(g.mul(h, b), six)))
    out = g.add(out, g.mul(e1, g.div(a, h)))
    return g.add(out, g.mul(e, g.div(b, h)))


def basis(g, x: str, knots, BD) -> str:
    """double [N, n - 1]: the basis rows."""
    parts = _parts(g, x, knots, BD)
    j1, j, _, _, _, BD = parts
    n1 = BD.shape[0]
    return _combine(g, rows(g, BD, j1), rows(g, BD, j), onehot(g, j1, n1), onehot(g, j, n1), parts)


def dot(g, x: str, knots, BD, u) -> str:
    """double [N, 1]: the basis rows times the vector u."""
    parts = _parts(g, x, knots, BD)
    j1, j, _, _, _, BD = parts
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    BDu = BD @ u
    return _combine(g, pick(g, BDu, j1), pick(g, BDu, j), pick(g, u, j1), pick(g, u, j), parts)
