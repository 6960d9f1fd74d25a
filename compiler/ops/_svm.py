"""Shared by SVMClassifier and SVMRegressor: the kernel between a row and every support vector.

As ONNX Runtime's SVMCommon (svmclassifier.h): LINEAR x.v, POLY (gamma x.v + coef0)^degree,
RBF exp(-gamma |x - v|^2), SIGMOID tanh(gamma x.v + coef0); evaluated in double.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k

KERNELS = ("LINEAR", "POLY", "RBF", "SIGMOID")


def params(op: str, attrs: dict):
    kind = attrs.get("kernel_type", "LINEAR")
    if kind not in KERNELS:
        raise UnsupportedError(f"{op} kernel_type {kind} is not supported ({', '.join(KERNELS)})")
    p = [float(np.float32(v)) for v in attrs.get("kernel_params") or []]
    gamma, coef0, degree = (p + [0.0, 0.0, 0.0])[:3] if p else (0.0, 0.0, 0.0)
    return kind, gamma, coef0, degree


def power(ctx, base: k.Var, degree: float):
    """(stmts, expr) for base ** degree as std::pow gives it (integral degrees by multiplication)."""
    f = lambda v: k.Const(float(v), "f64")  # noqa: E731
    if float(degree).is_integer() and abs(degree) <= 64:
        d = int(abs(degree))
        acc, sq, stmts = None, base, []
        while d:
            if d & 1:
                acc = sq if acc is None else acc * sq
            d >>= 1
            if d:
                nxt = ctx.var("sq", "f64")
                stmts.append(k.Let(nxt, sq * sq))
                sq = nxt
        acc = f(1.0) if acc is None else acc
        return stmts, (f(1.0) / acc if degree < 0 else acc)
    # Non-integral degree: NaN below zero, as std::pow.
    mag = k.call("exp", f(degree) * k.call("log", base))
    return [], k.Select(base < f(0.0), f(float("nan")), mag)


def kernel_values(ctx, x, r, vectors: k.Buf, n_vectors, nf: int, kind, gamma, coef0, degree, out: k.Buf, out_base):
    """Statements: out[out_base + v] = K(x[r], vectors[v]) for v in [0, n_vectors)."""
    f = lambda v: k.Const(float(v), "f64")  # noqa: E731
    s = ctx.var("kd", "f64")

    def one(v):
        xv = lambda i: k.Cast(x.at(r, i), "f64")  # noqa: E731
        sv = lambda i: k.Cast(vectors[v * nf + i], "f64")  # noqa: E731
        if kind == "RBF":
            d = ctx.var("kdiff", "f64")
            body = [k.Let(s, f(0.0)), ctx.loop(nf, lambda i: [k.Let(d, xv(i) - sv(i)), k.Assign(s, s + d * d)], "f")]
            return body + [k.Store(out, out_base + v, k.call("exp", -(f(gamma) * s)))]
        body = [k.Let(s, f(0.0)), ctx.loop(nf, lambda i: k.Assign(s, s + xv(i) * sv(i)), "f")]
        if kind == "LINEAR":
            return body + [k.Store(out, out_base + v, s)]
        t = ctx.var("kt", "f64")
        body.append(k.Let(t, f(gamma) * s + f(coef0)))
        if kind == "SIGMOID":
            return body + [k.Store(out, out_base + v, k.call("tanh", t))]
        pre, e = power(ctx, t, degree)
        return body + pre + [k.Store(out, out_base + v, e)]
    return [ctx.loop(n_vectors, one, "v")]
