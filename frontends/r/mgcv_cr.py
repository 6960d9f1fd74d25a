"""mgcv's cubic regression spline bases ("cr", "cs"; also the margins of te() by default):
the model-matrix rows Predict.matrix.cr.smooth computes for new values, before constraints.

With knots xk (nk of them) and F (the nk x nk matrix mapping values at the knots to second
derivatives, stored as a vector: entry j * nk + k), a value x in (xk[j], xk[j+1]] of width h gives row
    cm F[j * nk + k] + cp F[(j + 1) * nk + k] in column k, plus am in column j and ap in column j + 1,
with am = (xk[j+1] - x) / h, ap = (x - xk[j]) / h and cm, cp the cubic parts; outside the
knots the spline continues as a straight line (mgcv's crspl, written here as its formulas).
"""
from __future__ import annotations

import numpy as np

from .intervals import clip, count_below, onehot, pick, rows, scalar, shift


def _parts(g, x: str, xk, F):
    """Per row: the interval j and the weights cm, cp (of F's rows j, j + 1) and am, ap (of
    basis columns j, j + 1)."""
    xk = np.asarray(xk, dtype=np.float64).reshape(-1)
    nk = xk.size
    # mgcv keeps F as a plain vector; crspl reads entries j * nk + k for basis column k
    F = np.asarray(F, dtype=np.float64).reshape(-1).reshape(nk, nk)
    kmin, kmax = xk[0], xk[-1]
    j = clip(g, count_below(g, x, xk[1:nk - 1]), 0, nk - 2)
    xj, xj1 = pick(g, xk, j), pick(g, xk[1:], j)
    h = g.sub(xj1, xj)
    six = scalar(g, 6.0)
    ajm, ajp = g.sub(xj1, x), g.sub(x, xj)
    cjm = g.div(g.mul(ajm, g.sub(g.div(g.mul(ajm, ajm), h), h)), six)
    cjp = g.div(g.mul(ajp, g.sub(g.div(g.mul(ajp, ajp), h), h)), six)
    am, ap = g.div(ajm, h), g.div(ajp, h)
    # below the first knot: the line through it with the spline's slope there
    h0 = scalar(g, xk[1] - kmin)
    lo = g.sub(x, scalar(g, kmin))
    neg = g.op("Neg", lo)
    cm_lo, cp_lo = g.div(g.mul(neg, h0), scalar(g, 3.0)), g.div(g.mul(neg, h0), six)
    ap_lo = g.div(lo, h0)
    am_lo = g.sub(scalar(g, 1.0), ap_lo)
    # above the last knot
    h1 = scalar(g, kmax - xk[nk - 2])
    hi = g.sub(x, scalar(g, kmax))
    cm_hi, cp_hi = g.div(g.mul(hi, h1), six), g.div(g.mul(hi, h1), scalar(g, 3.0))
    am_hi = g.div(g.op("Neg", hi), h1)
    ap_hi = g.add(scalar(g, 1.0), g.div(hi, h1))
    below, above = g.op("Less", x, scalar(g, kmin)), g.op("Greater", x, scalar(g, kmax))

    def choose(inside, lower, upper):
        return g.op("Where", below, lower, g.op("Where", above, upper, inside))
    cm, cp = choose(cjm, cm_lo, cm_hi), choose(cjp, cp_lo, cp_hi)
    am, ap = choose(am, am_lo, am_hi), choose(ap, ap_lo, ap_hi)
    return j, cm, cp, am, ap, F


def basis(g, x: str, xk, F) -> str:
    """double [N, nk]: the basis rows."""
    j, cm, cp, am, ap, F = _parts(g, x, xk, F)
    nk = F.shape[0]
    cubic = g.add(g.mul(cm, rows(g, F, j)), g.mul(cp, rows(g, F[1:], j)))
    linear = g.add(g.mul(am, onehot(g, j, nk)), g.mul(ap, onehot(g, shift(g, j, 1), nk)))
    return g.add(cubic, linear)


def dot(g, x: str, xk, F, u) -> str:
    """double [N, 1]: the basis rows times the vector u (F u is made once, in double)."""
    j, cm, cp, am, ap, F = _parts(g, x, xk, F)
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    Fu = F @ u
    cubic = g.add(g.mul(cm, pick(g, Fu, j)), g.mul(cp, pick(g, Fu[1:], j)))
    return g.add(cubic, g.add(g.mul(am, pick(g, u, j)), g.mul(ap, pick(g, u[1:], j))))
