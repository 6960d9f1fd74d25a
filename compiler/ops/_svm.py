"""Shared by SVMClassifier, SVMRegressor and MulticlassProbability: the kernel between a row and
every support vector, and libsvm's coupling of pairwise probabilities into class probabilities.

Kernels as ONNX Runtime's SVMCommon (svmclassifier.h): LINEAR x.v, POLY (gamma x.v + coef0)^degree,
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


ORT_ITERATIONS = 100  # ONNX Runtime's cap on the coupling; libsvm's is max(100, classes)


def multiclass_probability(ctx, r, rr: k.Buf, pr: k.Buf, C: int, iterations: int) -> list:
    """Statements: pr[r * C + i] = libsvm's multiclass_probability (method 2 of Wu, Lin and Weng,
    svm.cpp) of row r's pairwise probabilities rr[r * C * C + i * C + j], in double and in
    libsvm's order of operations: at most `iterations` sweeps, stopping once every
    |(Qp)_t - pQp| is under 0.005 / C."""
    f = lambda v: k.Const(float(v), "f64")  # noqa: E731
    CC = C * C
    Q = ctx.scratch_buf("q", "f64", CC)
    Qp = ctx.scratch_buf("qp", "f64", C)
    rb, qb, cb = r * CC, r * CC, r * C
    at = lambda buf, base, i, j: buf[base + i * C + j]  # noqa: E731
    stmts = [ctx.loop(CC, lambda i: k.Store(Q, qb + i, f(0.0)), "i")]

    def init(i):
        return [
            k.Store(pr, cb + i, f(1.0 / C)),
            ctx.loop(C, lambda j: k.If(k.ne(j, i), [
                k.Store(Q, qb + i * C + i, at(Q, qb, i, i) + at(rr, rb, j, i) * at(rr, rb, j, i)),
                k.Store(Q, qb + i * C + j, k.Select(j < i, at(Q, qb, j, i), -(at(rr, rb, j, i) * at(rr, rb, i, j))))]),
                "j"),
        ]
    stmts.append(ctx.loop(C, init, "i"))
    done, pqp, err, diff = ctx.var("done", "bool"), ctx.var("pqp", "f64"), ctx.var("err", "f64"), ctx.var("diff", "f64")
    eps = f(0.005 / C)

    def step(t):
        return [
            k.Let(diff, (-Qp[cb + t] + pqp) / at(Q, qb, t, t)),
            k.Store(pr, cb + t, pr[cb + t] + diff),
            k.Assign(pqp, (pqp + diff * (diff * at(Q, qb, t, t) + f(2.0) * Qp[cb + t]))
                     / (f(1.0) + diff) / (f(1.0) + diff)),
            ctx.loop(C, lambda j: [
                k.Store(Qp, cb + j, (Qp[cb + j] + diff * at(Q, qb, t, j)) / (f(1.0) + diff)),
                k.Store(pr, cb + j, pr[cb + j] / (f(1.0) + diff))], "j"),
        ]
    iteration = k.If(k.lnot(done), [
        k.Assign(pqp, f(0.0)),
        ctx.loop(C, lambda t: [
            k.Store(Qp, cb + t, f(0.0)),
            ctx.loop(C, lambda j: k.Store(Qp, cb + t, Qp[cb + t] + at(Q, qb, t, j) * pr[cb + j]), "j"),
            k.Assign(pqp, pqp + pr[cb + t] * Qp[cb + t])], "t"),
        k.Assign(err, f(0.0)),
        ctx.loop(C, lambda t: k.Assign(err, k.maximum(err, k.call("abs", Qp[cb + t] - pqp))), "t"),
        k.If(err < eps, [k.Assign(done, k.Const(True, "bool"))], [ctx.loop(C, step, "t")]),
    ])
    return stmts + [k.Let(done, k.Const(False, "bool")), k.Let(pqp, f(0.0)), k.Let(err, f(0.0)),
                    ctx.loop(iterations, lambda _: [iteration], "it")]
