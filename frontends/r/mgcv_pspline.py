"""mgcv's P-spline basis ("ps"): the rows Predict.matrix.pspline.smooth computes for new
values, before constraints. Inside [ll, ul] (the knots that bound the basis) the B-splines of
order `ord` by the recursion R's splines package evaluates (splineDesign: the cursor at the
first knot beyond x, the basis values from the knot differences); outside, the straight line
D[1,] + (x - ll) D[2,] below and D[3,] + (x - ul) D[4,] above, D being the basis and its
derivative at ll and ul (computed by R when the model is read).
"""
from __future__ import annotations

import numpy as np

from .intervals import clip, count_below, onehot, pick, scalar, shift


def bsplines(g, x: str, knots, ord: int):
    """(values, first column): the `ord` non-zero B-splines at x, as a list of double [N, 1],
    and the int64 [N, 1] index of the first of them (splines' set_cursor and basis_funcs)."""
    knots = np.asarray(knots, dtype=np.float64).reshape(-1)
    nk = knots.size
    # the cursor: the first knot > x, at most nk - ord (x == knots[nk - ord] is the boundary case)
    curs = clip(g, count_below(g, x, knots, strict=False), ord, nk - ord)
    rdel = [g.sub(pick(g, knots, shift(g, curs, i)), x) for i in range(ord - 1)]
    ldel = [g.sub(x, pick(g, knots, shift(g, curs, -(i + 1)))) for i in range(ord - 1)]
    b = [scalar(g, 1.0)]
    for j in range(1, ord):
        saved = None
        for r in range(j):
            term = g.div(b[r], g.add(rdel[r], ldel[j - 1 - r]))
            part = g.mul(rdel[r], term)
            b[r] = part if saved is None else g.add(saved, part)
            saved = g.mul(ldel[j - 1 - r], term)
        b.append(saved)
    return b, shift(g, curs, -ord)


def _lines(g, x, knots, ord, below, above, inside):
    """inside where ll <= x <= ul; the lines `below`(x - ll) and `above`(x - ul) outside."""
    ll, ul = knots[ord - 1], knots[knots.size - ord]
    out = g.op("Where", g.op("Greater", x, scalar(g, ul)), above(g.sub(x, scalar(g, ul))), inside)
    return g.op("Where", g.op("Less", x, scalar(g, ll)), below(g.sub(x, scalar(g, ll))), out)


def basis(g, x: str, knots, ord: int, D) -> str:
    """double [N, nk - ord]: the basis rows."""
    knots = np.asarray(knots, dtype=np.float64).reshape(-1)
    width = knots.size - ord
    D = np.asarray(D, dtype=np.float64).reshape(4, width)
    values, first = bsplines(g, x, knots, ord)
    inside = None
    for r, v in enumerate(values):
        term = g.mul(v, onehot(g, shift(g, first, r), width))
        inside = term if inside is None else g.add(inside, term)
    return _lines(g, x, knots, ord, lambda d: g.add(g.const(D[0:1]), g.mul(d, g.const(D[1:2]))),
                  lambda d: g.add(g.const(D[2:3]), g.mul(d, g.const(D[3:4]))), inside)


def dot(g, x: str, knots, ord: int, D, u) -> str:
    """double [N, 1]: the basis rows times the vector u."""
    knots = np.asarray(knots, dtype=np.float64).reshape(-1)
    width = knots.size - ord
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    Du = np.asarray(D, dtype=np.float64).reshape(4, width) @ u
    values, first = bsplines(g, x, knots, ord)
    inside = None
    for r, v in enumerate(values):
        term = g.mul(v, pick(g, u, shift(g, first, r)))
        inside = term if inside is None else g.add(inside, term)
    return _lines(g, x, knots, ord, lambda d: g.add(scalar(g, Du[0]), g.mul(d, scalar(g, Du[1]))),
                  lambda d: g.add(scalar(g, Du[2]), g.mul(d, scalar(g, Du[3]))), inside)
