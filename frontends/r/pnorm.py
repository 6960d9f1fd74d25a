"""R's pnorm(x) (the standard normal's lower tail, as the probit link's inverse computes it)
as double graph ops, in R's own arithmetic: Cody's rational approximations (Math. Comp. 1969)
in the three ranges R's pnorm_both (nmath/pnorm.c) uses, with its exp(-xsq^2/2) * exp(-del/2)
split for the tails, 0 and 1 beyond them, and NaN for NaN. Every range is computed for every
row and the row's own range is selected (a range's value outside it is never used)."""
from __future__ import annotations

import numpy as np

from .graph import INT64

# Cody's coefficients, as in R's nmath/pnorm.c.
A = (2.2352520354606839287, 161.02823106855587881, 1067.6894854603709582, 18154.981253343561249,
     0.065682337918207449113)
B = (47.20258190468824187, 976.09855173777669322, 10260.932208618978205, 45507.789335026729956)
C = (0.39894151208813466764, 8.8831497943883759412, 93.506656132177855979, 597.27027639480026226,
     2494.5375852903726711, 6848.1904505362823326, 11602.651437647350124, 9842.7148383839780218,
     1.0765576773720192317e-8)
D = (22.266688044328115691, 235.38790178262499861, 1519.377599407554805, 6485.558298266760755,
     18615.571640885098091, 34900.952721145977266, 38912.003286093271411, 19685.429676859990727)
P = (0.21589853405795699, 0.1274011611602473639, 0.022235277870649807, 0.001421619193227893466,
     2.9112874951168792e-5, 0.02307344176494017303)
Q = (1.28426009614491121, 0.468238212480865118, 0.0659881378689285515, 0.00378239633202758244,
     7.29751555083966205e-5)
SMALL = 0.67448975              # qnorm(3/4): the central range ends here
SQRT_32 = 5.656854249492380195206754896838
LOW, HIGH = -37.5193, 8.2924    # beyond: 0 and 1
ONE_OVER_SQRT_2PI = 0.398942280401432677939946059934


def pnorm(g, x: str) -> str:
    """[N, 1] double: pnorm(x) for [N, 1] double x."""
    def c(v):
        return g.const(np.array([[v]], dtype=np.float64))

    def rational(t, num, den, n):
        # xnum = num[last] * t; xden = t; n times: xnum = (xnum + num[i]) * t, xden = (xden + den[i]) * t
        xnum, xden = g.mul(c(num[-1]), t), t
        for i in range(n):
            xnum = g.mul(g.add(xnum, c(num[i])), t)
            xden = g.mul(g.add(xden, c(den[i])), t)
        return xnum, xden

    y = g.op("Abs", x)
    # |x| <= 0.67448975: 0.5 + x * (xnum + a[3]) / (xden + b[3]), in x^2
    xsq = g.mul(x, x)
    xnum, xden = rational(xsq, A, B, 3)
    central = g.add(c(0.5), g.div(g.mul(x, g.add(xnum, c(A[3]))), g.add(xden, c(B[3]))))
    # |x| <= sqrt(32): a rational in |x|
    xnum, xden = rational(y, C, D, 7)
    middle = g.div(g.add(xnum, c(C[7])), g.add(xden, c(D[7])))
    # beyond: the asymptotic series in 1 / x^2
    inv = g.div(c(1.0), g.mul(x, x))
    xnum, xden = rational(inv, P, Q, 4)
    tail = g.div(g.mul(inv, g.add(xnum, c(P[4]))), g.add(xden, c(Q[4])))
    tail = g.div(g.sub(c(ONE_OVER_SQRT_2PI), tail), y)
    temp = g.op("Where", g.op("Greater", y, c(SQRT_32)), tail, middle)
    # do_del: xsq = trunc(|x| * 16) / 16; del = (|x| - xsq) * (|x| + xsq)
    # (for negative x, R's trunc(x * 16) is the same up to sign, and del the same)
    # (rows in no range that uses it, NaN and beyond 64, are kept finite for the cast)
    finite = g.op("Min", g.op("Where", g.op("IsNaN", y), c(0.0), y), c(64.0))
    ysq = g.div(g.to_double(g.op("Cast", g.mul(finite, c(16.0)), to=INT64)), c(16.0))
    dl = g.mul(g.sub(y, ysq), g.add(y, ysq))
    cum = g.mul(g.mul(g.op("Exp", g.mul(g.mul(g.op("Neg", ysq), ysq), c(0.5))),
                      g.op("Exp", g.mul(g.op("Neg", dl), c(0.5)))), temp)
    # swap_tail: above 0, the lower tail is 1 - cum
    cum = g.op("Where", g.op("Greater", x, c(0.0)), g.sub(c(1.0), cum), cum)
    out = g.op("Where", g.op("Greater", y, c(SMALL)), cum, central)
    out = g.op("Where", g.op("Greater", x, c(LOW)), out, c(0.0))
    out = g.op("Where", g.op("Less", x, c(HIGH)), out, c(1.0))
    return g.op("Where", g.op("IsNaN", x), x, out)
