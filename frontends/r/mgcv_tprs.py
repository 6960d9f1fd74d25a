"""mgcv's thin plate regression spline bases ("tp", the default, and "ts"): the model-matrix
rows Predict.matrix.tprs.smooth computes for new values, before constraints.

For d covariates (each shifted by the fit's `shift`) and penalty order m, a point x gives
the vector b = (eta(|x - Xu_i|^2) for each unique training point Xu_i, then the M
polynomials of the penalty's null space), and the row is b' UZ. eta(r2) is c r2^(m-d/2)
log(r2)/2 for even d, c r2^(m-(d+1)/2) sqrt(r2) for odd d, 0 at r2 = 0, with mgcv's
constant c (eta_const). Written from mgcv's documented construction (Wood 2003).
"""
from __future__ import annotations

import math

import numpy as np

from modelport.errors import UnsupportedError

from .intervals import scalar


def order(m: int, d: int) -> int:
    """The penalty order mgcv uses: m, or the smallest with 2m > d + 1 when 2m <= d."""
    if 2 * m <= d and d > 0:
        m = 0
        while 2 * m < d + 2:
            m += 1
    return m


def eta_const(m: int, d: int) -> float:
    d2 = d // 2
    if d % 2 == 0:
        f = -1.0 if (m + 1 + d2) % 2 else 1.0
        for _ in range(2 * m - 1):
            f /= 2
        for _ in range(d2):
            f /= math.pi
        for i in range(2, m):
            f /= i
        for i in range(2, m - d2 + 1):
            f /= i
        return f
    ghalf = math.sqrt(math.pi)
    f = ghalf
    k = m - (d - 1) // 2
    for i in range(k):
        f /= -0.5 - i
    for _ in range(m):
        f /= 4
    for _ in range(d - 1):
        f /= math.pi
    f /= ghalf
    for i in range(2, m):
        f /= i
    return f


def poly_powers(M: int, m: int, d: int) -> list:
    """The powers of each null-space polynomial, in mgcv's order (gen_tps_poly_powers)."""
    index = [0] * d
    out = []
    for _ in range(M):
        out.append(list(index))
        if sum(index) < m - 1:
            index[0] += 1
        else:
            s = sum(index) - index[0]
            index[0] = 0
            for j in range(1, d):
                index[j] += 1
                s += 1
                if s == m:
                    s -= index[j]
                    index[j] = 0
                else:
                    break
    return out


def basis(g, xs: list, shift, Xu, UZ, m: int, M: int, drop_null: int = 0, u=None) -> str:
    """double [N, k]: the basis rows (or [N, 1], the rows times the vector u, when given).
    xs: the d covariate columns (double [N, 1]) in the smooth's term order."""
    if drop_null:
        raise UnsupportedError("thin plate smooths with the null space removed (m = c(.., 0)) are not supported")
    d = len(xs)
    m = order(m, d)
    Xu = np.asarray(Xu, dtype=np.float64).reshape(-1, d)
    UZ = np.asarray(UZ, dtype=np.float64)
    UZ = UZ.reshape(Xu.shape[0] + M, -1)
    shift = np.asarray(shift, dtype=np.float64).reshape(-1)
    x = [g.sub(xi, scalar(g, s)) for xi, s in zip(xs, shift)]
    r2 = None
    for j in range(d):
        z = g.sub(g.const(Xu[:, j].reshape(1, -1)), x[j])  # [N, nXu]
        zz = g.mul(z, z)
        r2 = zz if r2 is None else g.add(r2, zz)
    c = eta_const(m, d)
    d2 = d // 2
    f = scalar(g, c)
    if d % 2 == 0:
        f = g.mul(f, g.mul(g.op("Log", r2), scalar(g, 0.5)))
        for _ in range(m - d2):
            f = g.mul(f, r2)
    else:
        for _ in range(m - d2 - 1):
            f = g.mul(f, r2)
        f = g.mul(f, g.op("Sqrt", r2))
    zero = scalar(g, 0.0)
    radial = g.op("Where", g.op("Greater", r2, zero), f, zero)
    polys = []
    for powers in poly_powers(M, m, d):
        p = None
        for j in range(d):
            for _ in range(powers[j]):
                p = x[j] if p is None else g.mul(p, x[j])
        polys.append(p if p is not None else g.add(g.mul(x[0], zero), scalar(g, 1.0)))
    b = g.concat([radial] + polys)
    if u is not None:
        return g.matmul(b, g.const((UZ @ np.asarray(u, dtype=np.float64).reshape(-1)).reshape(-1, 1)))
    return g.matmul(b, g.const(UZ))
