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


def basis(g, x: str, knots, ord: int, D) -> str:
    knots = np.asarray(knots, dtype=np.float64).reshape(-1)
    nk = knots.size
    width = nk - ord
    D = np.asarray(D, dtype=np.float64).reshape(4, width)
    ll, ul = knots[ord - 1], knots[nk - ord]
    values, first = bsplines(g, x, knots, ord)
    inside = None
    for r, v in enumerate(values):
        term = g.mul(v, onehot(g, shift(g, first, r), width))
        inside = term if inside is None else g.add(inside, term)
    below = g.add(g.const(D[0:1]), g.mul(g.sub(x, scalar(g, ll)), g.const(D[1:2])))
    above = g.add(g.const(D[2:3]), g.mul(g.sub(x, scalar(g, ul)), g.const(D[3:4])))
    out = g.op("Where", g.op("Greater", x, scalar(g, ul)), above, inside)
    return g.op("Where", g.op("Less", x, scalar(g, ll)), below, out)
