"""SplineTransformer, which skl2onnx does not convert, as scikit-learn and SciPy compute it.

For each feature, scikit-learn evaluates a SciPy BSpline whose coefficients are the identity:
its output is the values of the n B-spline basis functions at x. SciPy (de Boor's recursion in
``_deBoor_D``) finds the knot interval ell (the last knot index in [k, n - 1] with t[ell] <= x),
then builds the k + 1 non-zero basis values h[0..k] in double:

    h = [1, 0, ...]
    for j in 1..k:  hh = h[:j]; h[0] = 0
        for m in 1..j:  xb, xa = t[ell + m], t[ell + m - j]
            if xb == xa: h[m] = 0; continue
            w = hh[m - 1] / (xb - xa); h[m - 1] += w * (xb - x); h[m] = w * (x - xa)

and basis function i gets h[i - ell + k] (0 outside). The graph does the same, op for op, with
the knots looked up by ell (Gather) and the knot test as Where. Outside the fitted range:
"constant" gives spl(xmin)/spl(xmax) for the first/last `degree` functions, "linear" continues
those with the slope spl'(xmin)/spl'(xmax) (both taken from SciPy), "continue" and "error"
extrapolate the polynomial pieces (with "error" scikit-learn rejects such rows). A missing value
(handle_missing="zeros") gives zeros. include_bias=False drops each feature's last function.
extrapolation="periodic" is refused.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError
from modelport.passes.ml_to_tensor._builder import F32, F64

from .sklearn_double_builder import Nodes, is_double

ALIAS = "ModelportSplineTransformer"


def install() -> None:
    """Register the converter (safe to call repeatedly)."""
    from sklearn.preprocessing import SplineTransformer
    from skl2onnx import update_registered_converter
    update_registered_converter(SplineTransformer, ALIAS, _shape, _convert)


def _shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    kind = DoubleTensorType if is_double(operator.inputs[0]) else FloatTensorType
    operator.outputs[0].type = kind([operator.inputs[0].type.shape[0], int(operator.raw_operator.n_features_out_)])


def _convert(scope, operator, container):
    model = operator.raw_operator
    if model.extrapolation == "periodic":
        raise UnsupportedError("SplineTransformer(extrapolation='periodic') is not supported: supported are "
                               "'constant', 'linear', 'continue' and 'error'")
    if getattr(model, "sparse_output", False):
        raise UnsupportedError("SplineTransformer(sparse_output=True) is not supported: use sparse_output=False")
    b = Nodes(scope, "spline")
    names = [v.full_name for v in operator.inputs]
    x = names[0] if len(names) == 1 else b.op("Concat", *names, axis=1)
    double = is_double(operator.inputs[0])
    if not double:
        x = b.cast(x, F64)  # SciPy evaluates in double whatever X holds
    blocks = [_feature(b, model, b.column(x, f), f) for f in range(len(model.bsplines_))]
    out = blocks[0] if len(blocks) == 1 else b.op("Concat", *blocks, axis=1)
    if not double:
        out = b.cast(out, F32)
    b.op("Identity", out, out=operator.outputs[0].full_name)
    b.emit(container)


def _feature(b, model, x: str, f: int) -> str:
    """[N, n_splines] (without the last one unless include_bias) for column x ([N, 1] double)."""
    spl = model.bsplines_[f]
    t, k = np.asarray(spl.t, np.float64), int(spl.k)
    n = t.size - k - 1
    values = _basis(b, t, k, n, x)
    if model.extrapolation in ("constant", "linear"):
        values = _extrapolate(b, model, spl, t, k, n, x, values, f)
    if getattr(model, "handle_missing", "error") == "zeros":
        values = b.op("Where", b.op("IsNaN", x), b.const(np.zeros((1, n))), values)
    if not model.include_bias:
        values = b.columns(values, 0, n - 1)
    return values


def _basis(b, t, k, n, x) -> str:
    """The n basis values at x, as SciPy's de Boor recursion computes them."""
    inner = t[k + 1:n]
    if inner.size:
        above = b.cast(b.op("GreaterOrEqual", x, b.const(inner.reshape(1, -1), hint="knots")), 7)  # INT64
        ell = b.op("Add", b.reduce("ReduceSum", above, [1], keepdims=1), b.const(np.array([[k]], np.int64)))
    else:
        kk = b.const(np.array([[k]], np.int64))
        ell = b.op("Where", b.op("IsNaN", x), kk, kk)
    knots = b.const(t, hint="t")

    def knot(offset: int) -> str:
        return b.op("Gather", knots, b.op("Add", ell, b.const(np.array([[offset]], np.int64))), axis=0)

    zero = b.const(np.array([[0.0]]))
    h = [b.const(np.array([[1.0]]))] + [zero] * k
    for j in range(1, k + 1):
        hh = h[:j]
        h[0] = zero
        for m in range(1, j + 1):
            xb, xa = knot(m), knot(m - j)
            same = b.op("Equal", xb, xa)
            w = b.op("Div", hh[m - 1], b.op("Sub", xb, xa))
            h[m - 1] = b.op("Where", same, h[m - 1], b.op("Add", h[m - 1], b.op("Mul", w, b.op("Sub", xb, x))))
            h[m] = b.op("Where", same, zero, b.op("Mul", w, b.op("Sub", x, xa)))
    # basis i takes h[i - ell + k]: position p = i - ell + k in [0, k]
    pos = b.op("Sub", b.const(np.arange(n, dtype=np.int64).reshape(1, -1) + k), ell)  # [N, n]
    out = b.const(np.zeros((1, n)))
    for a in range(k, -1, -1):
        out = b.op("Where", b.op("Equal", pos, b.const(np.array([[a]], np.int64))), h[a], out)
    return out


def _extrapolate(b, model, spl, t, k, n, x, values, f: int) -> str:
    """Rows outside [xmin, xmax] (and missing ones: zeros), as scikit-learn fills them."""
    degree = int(model.degree)
    if model.extrapolation == "linear" and degree <= 1 and f > 0:
        # scikit-learn's transform raises its local `degree` by one for the linear continuation
        # of a degree 0 or 1 spline, and keeps it raised for the features after the first
        # (their xmin and xmax move to the next knot): the original's arithmetic, reproduced
        degree += 1
    xmin, xmax = t[degree], t[-degree - 1]
    f_min, f_max = np.asarray(spl(xmin), np.float64), np.asarray(spl(xmax), np.float64)
    below, above = b.op("Less", x, b.const(np.array([[xmin]]))), b.op("Greater", x, b.const(np.array([[xmax]])))
    inside = b.op("And", b.op("GreaterOrEqual", x, b.const(np.array([[xmin]]))),
                  b.op("LessOrEqual", x, b.const(np.array([[xmax]]))))
    zeros = b.const(np.zeros((1, n)))
    if model.extrapolation == "constant":
        low, high = np.zeros((1, n)), np.zeros((1, n))
        if degree:
            low[0, :degree], high[0, n - degree:] = f_min[:degree], f_max[n - degree:]
        low_rows, high_rows = b.const(low), b.const(high)
    else:
        fp_min, fp_max = np.asarray(spl(xmin, nu=1), np.float64), np.asarray(spl(xmax, nu=1), np.float64)
        width = degree + 1 if degree <= 1 else degree
        low_mask, high_mask = np.zeros((1, n), bool), np.zeros((1, n), bool)
        low_mask[0, :width], high_mask[0, n - width:] = True, True
        low_rows = b.op("Where", b.const(low_mask), b.op("Add", b.const(f_min.reshape(1, -1)), b.op(
            "Mul", b.op("Sub", x, b.const(np.array([[xmin]]))), b.const(fp_min.reshape(1, -1)))), zeros)
        high_rows = b.op("Where", b.const(high_mask), b.op("Add", b.const(f_max.reshape(1, -1)), b.op(
            "Mul", b.op("Sub", x, b.const(np.array([[xmax]]))), b.const(fp_max.reshape(1, -1)))), zeros)
    outside = b.op("Where", below, low_rows, b.op("Where", above, high_rows, zeros))
    return b.op("Where", inside, values, outside)
