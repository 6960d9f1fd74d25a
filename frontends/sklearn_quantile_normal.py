"""QuantileTransformer(output_distribution="normal"): the uniform transform (skl2onnx's
converter), then SciPy's normal quantile function, as scikit-learn computes it:

    u = the uniform output (0 and 1 where x is the first or last quantile)
    x = scipy.stats.norm.ppf(u)            = scipy.special.ndtri(u)
    x = clip(x, ndtri(1e-7 - eps), ndtri(1 - (1e-7 - eps)))

skl2onnx refuses the normal output (ONNX has no inverse normal function). ndtri is Cephes'
algorithm (SciPy's xsf/cephes/ndtri.h), written here with standard ONNX ops step for step,
in double: for |u - 0.5| <= 0.5 - exp(-2), w + w^3 P0(w^2)/Q0(w^2) with w = u - 0.5 (times
sqrt(2 pi)); in the tails, with t = sqrt(-2 log y) (y the smaller of u and 1 - u),
t - log(t)/t - P(1/t)/(t Q(1/t)), one rational function for t < 8 and another beyond, the
sign from the side. The branches are Where's (every runtime computes both; a branch's
argument is made harmless where it is not taken). Every target computes these ops, TVM included.
"""
from __future__ import annotations

import numpy as np

from .sklearn_double_builder import Nodes, install_in_front

EXP_M2 = 0.13533528323661269189  # exp(-2)
SQRT2PI = 2.50662827463100050242
P0 = [-5.99633501014107895267E1, 9.80010754185999661536E1, -5.66762857469070293439E1,
      1.39312609387279679503E1, -1.23916583867381258016E0]
Q0 = [1.95448858338141759834E0, 4.67627912898881538453E0, 8.63602421390890590575E1, -2.25462687854119370527E2,
      2.00260212380060660359E2, -8.20372256168333339912E1, 1.59056225126211695515E1, -1.18331621121330003142E0]
P1 = [4.05544892305962419923E0, 3.15251094599893866154E1, 5.71628192246421288162E1, 4.40805073893200834700E1,
      1.46849561928858024014E1, 2.18663306850790267539E0, -1.40256079171354495875E-1, -3.50424626827848203418E-2,
      -8.57456785154685413611E-4]
Q1 = [1.57799883256466749731E1, 4.53907635128879210584E1, 4.13172038254672030440E1, 1.50425385692907503408E1,
      2.50464946208309415979E0, -1.42182922854787788574E-1, -3.80806407691578277194E-2, -9.33259480895457427372E-4]
P2 = [3.23774891776946035970E0, 6.91522889068984211695E0, 3.93881025292474443415E0, 1.33303460815807542389E0,
      2.01485389549179081538E-1, 1.23716634817820021358E-2, 3.01581553508235416007E-4, 2.65806974686737550832E-6,
      6.23974539184983293730E-9]
Q2 = [6.02427039364742014255E0, 3.67983563856160859403E0, 1.37702099489081330271E0, 2.16236993594496635890E-1,
      1.34204006088543189037E-2, 3.28014464682127739104E-4, 2.89247864745380683936E-6, 6.79019408009981274425E-9]
BOUNDS_THRESHOLD = 1e-7  # scikit-learn's, for the clip


def install() -> None:
    """Put the converter in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.preprocessing import QuantileTransformer
    from skl2onnx._supported_operators import sklearn_operator_name_map
    install_in_front({QuantileTransformer: sklearn_operator_name_map[QuantileTransformer]}, _make)


def _make(original):
    def convert(scope, operator, container):
        model = operator.raw_operator
        if model.output_distribution != "normal":
            return original(scope, operator, container)
        kept = operator.outputs[0]
        out = kept.full_name
        tmp = scope.declare_local_variable("uniform", kept.type)
        model.output_distribution = "uniform"
        operator.outputs.set_element(0, tmp)  # the uniform values go to a value of their own
        try:
            original(scope, operator, container)
        finally:
            model.output_distribution = "normal"
            operator.outputs.set_element(0, kept)
        b = Nodes(scope, "normal")
        uniform = tmp.full_name
        u = uniform if _is_double(operator) else b.cast(uniform, 11)  # DOUBLE
        x = clip(b, ndtri(b, u))
        b.op("Identity", x if _is_double(operator) else b.cast(x, 1), out=out)
        b.emit(container)
    return convert


def _is_double(operator) -> bool:
    from .sklearn_double_builder import is_double
    return is_double(operator.outputs[0]) or is_double(operator.inputs[0])


def _c(b, v):
    return b.const(np.float64(v))


def _polevl(b, x, coefs):
    """coefs[0] x^n + ... + coefs[n], by Horner's rule (Cephes' polevl)."""
    acc = _c(b, coefs[0])
    for c in coefs[1:]:
        acc = b.op("Add", b.op("Mul", acc, x), _c(b, c))
    return acc


def _p1evl(b, x, coefs):
    """x^n + coefs[0] x^(n-1) + ... (Cephes' p1evl: the leading coefficient is 1)."""
    acc = b.op("Add", x, _c(b, coefs[0]))
    for c in coefs[1:]:
        acc = b.op("Add", b.op("Mul", acc, x), _c(b, c))
    return acc


def ndtri(b, u: str) -> str:
    """SciPy's ndtri(u) for a double tensor u, elementwise."""
    flip = b.op("Greater", u, _c(b, 1.0 - EXP_M2))
    y = b.where(flip, b.op("Sub", _c(b, 1.0), u), u)
    central = b.op("Greater", y, _c(b, EXP_M2))
    # |u - 0.5| <= 0.5 - exp(-2)
    w = b.op("Sub", y, _c(b, 0.5))
    w2 = b.op("Mul", w, w)
    ratio = b.op("Div", b.op("Mul", w2, _polevl(b, w2, P0)), _p1evl(b, w2, Q0))
    middle = b.op("Mul", b.op("Add", w, b.op("Mul", w, ratio)), _c(b, SQRT2PI))
    # the tails (where the middle is taken, y is replaced by a value whose logarithm is finite)
    ys = b.where(central, _c(b, EXP_M2), y)
    t = b.op("Sqrt", b.op("Mul", _c(b, -2.0), b.op("Log", ys)))
    t0 = b.op("Sub", t, b.op("Div", b.op("Log", t), t))
    z = b.op("Div", _c(b, 1.0), t)
    near = b.op("Div", b.op("Mul", z, _polevl(b, z, P1)), _p1evl(b, z, Q1))
    far = b.op("Div", b.op("Mul", z, _polevl(b, z, P2)), _p1evl(b, z, Q2))
    tail = b.op("Sub", t0, b.where(b.op("Less", t, _c(b, 8.0)), near, far))
    tail = b.where(flip, tail, b.op("Neg", tail))
    x = b.where(central, middle, tail)
    # the ends: 0 and 1 give -inf and inf; outside [0, 1], NaN (NaN stays NaN)
    x = b.where(b.op("Equal", u, _c(b, 0.0)), _c(b, -np.inf), x)
    x = b.where(b.op("Equal", u, _c(b, 1.0)), _c(b, np.inf), x)
    outside = b.op("Or", b.op("Less", u, _c(b, 0.0)), b.op("Greater", u, _c(b, 1.0)))
    return b.where(outside, _c(b, np.nan), x)


def clip(b, x: str) -> str:
    """np.clip to scikit-learn's bounds (NaN stays NaN)."""
    from scipy import stats
    eps = np.spacing(1)
    lo = float(stats.norm.ppf(BOUNDS_THRESHOLD - eps))
    hi = float(stats.norm.ppf(1 - (BOUNDS_THRESHOLD - eps)))
    x = b.where(b.op("Less", x, _c(b, lo)), _c(b, lo), x)
    return b.where(b.op("Greater", x, _c(b, hi)), _c(b, hi), x)
