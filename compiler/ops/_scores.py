"""Shared by the classifier ops: class labels and ONNX Runtime's score post-transforms.

The transforms follow ONNX Runtime's ml_common.h (ComputeLogistic, ComputeProbit with its
ErfInv approximation, ComputeSoftmax, ComputeSoftmaxZero), evaluated in double.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k

POST_TRANSFORMS = ("NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT")
FLT_MAX = float(np.finfo(np.float32).max)
SOFTMAX_ZERO_EPS = float(np.float32(1e-7))


def f64(v) -> k.Const:
    return k.Const(float(v), "f64")


def post_transform(op: str, attrs: dict) -> str:
    post = attrs.get("post_transform", "NONE")
    if post not in POST_TRANSFORMS:
        raise UnsupportedError(f"{op} post_transform {post} is not supported ({', '.join(POST_TRANSFORMS)})")
    return post


class Labels:
    """Class labels from classlabels_int64s/ints or classlabels_strings, as a constant table."""

    def __init__(self, ctx, op: str, attrs: dict, ints_key: str, strings_key: str, out):
        strings = list(attrs.get(strings_key) or [])
        ints = [int(v) for v in (attrs.get(ints_key) or [])]
        self.strings = bool(strings)
        self.values = strings if strings else ints
        self.n = len(self.values)
        if self.n == 0:
            raise UnsupportedError(f"{op} has neither {ints_key} nor {strings_key}")
        self.dtype = "str" if self.strings else "i64"
        if out is not None and out.dtype != self.dtype:
            raise UnsupportedError(f"{op} label output has type {out.dtype}, expected {self.dtype}")
        self.table = ctx.table("labels", np.asarray(self.values, dtype=object if self.strings else np.int64),
                               self.dtype)

    def at(self, index: k.Expr) -> k.Expr:
        return self.table[index]

    def const(self, value) -> k.Expr:
        """A fixed label: an int64 value, or for string labels the string of that index."""
        if self.strings:
            return self.table[int(value)]
        return k.Const(int(value), "i64")


def logistic(ctx, x: k.Expr):
    """(stmts, expr): ComputeLogistic(x) = x < 0 ? 1 - v : v with v = 1 / (1 + exp(-|x|))."""
    v = ctx.var("lg", "f64")
    return [k.Let(v, f64(1.0) / (f64(1.0) + k.call("exp", -k.call("abs", x))))], \
        k.Select(x < f64(0.0), f64(1.0) - v, v)


def probit(ctx, x: k.Expr):
    """(stmts, expr): ComputeProbit(x) = sqrt(2) * ErfInv(2x - 1), ErfInv as ONNX Runtime approximates it."""
    t, lg, v, v3 = (ctx.var(n, "f64") for n in ("pt", "plog", "pv", "pv3"))
    a = float(np.float32(0.147))
    stmts = [
        k.Let(t, f64(2.0) * x - f64(1.0)),
        k.Let(lg, k.call("log", (f64(1.0) - t) * (f64(1.0) + t))),
        k.Let(v, f64(2.0 / (math.pi * a)) + f64(0.5) * lg),
        k.Let(v3, -v + k.call("sqrt", v * v - f64(1.0 / a) * lg)),
    ]
    sgn = k.Select(t < f64(0.0), f64(-1.0), f64(1.0))
    return stmts, f64(math.sqrt(2.0)) * (sgn * k.call("sqrt", v3))


def transform(ctx, buf: k.Buf, base: k.Expr, n: int, post: str) -> list:
    """Apply `post` in place to the f64 scores buf[base:base+n], as write_scores does for n >= 2."""
    at = lambda j: base + j  # noqa: E731
    if post == "NONE":
        return []
    if post in ("LOGISTIC", "PROBIT"):
        fn = logistic if post == "LOGISTIC" else probit

        def each(j):
            stmts, e = fn(ctx, buf[at(j)])
            return stmts + [k.Store(buf, at(j), e)]
        return [ctx.loop(n, each, "c")]
    m, s = ctx.var("smax", "f64"), ctx.var("ssum", "f64")
    stmts = [k.Let(m, f64(-FLT_MAX)), k.Let(s, f64(0.0)),
             ctx.loop(n, lambda j: k.If(buf[at(j)] > m, [k.Assign(m, buf[at(j)])]), "c")]
    if post == "SOFTMAX":
        stmts.append(ctx.loop(n, lambda j: [
            k.Store(buf, at(j), k.call("exp", buf[at(j)] - m)),
            k.Assign(s, s + buf[at(j)])], "c"))
    else:  # SOFTMAX_ZERO: values near zero are scaled, not exponentiated, and left out of the sum
        e = ctx.var("emax", "f64")
        stmts.append(k.Let(e, k.call("exp", -m)))
        eps = f64(SOFTMAX_ZERO_EPS)
        stmts.append(ctx.loop(n, lambda j: k.If(
            k.lor(buf[at(j)] > eps, buf[at(j)] < -eps),
            [k.Store(buf, at(j), k.call("exp", buf[at(j)] - m)), k.Assign(s, s + buf[at(j)])],
            [k.Store(buf, at(j), buf[at(j)] * e)]), "c"))
    stmts.append(ctx.loop(n, lambda j: k.Store(buf, at(j), buf[at(j)] / s), "c"))
    return stmts


def first_max(ctx, n: int, score, best: k.Var, best_score: k.Var, valid=None) -> list:
    """best = the first j in [0, n) with the largest score(j) (strictly greater replaces), among valid(j)."""
    if valid is None:
        return [k.Let(best, k.Const(0, "idx")), k.Let(best_score, score(k.Const(0, "idx"))),
                ctx.loop(n, lambda j: k.If(score(j) > best_score, [k.Assign(best, j), k.Assign(best_score, score(j))]),
                         "c")]
    return [k.Let(best, k.Const(-1, "idx")), k.Let(best_score, f64(0.0)),
            ctx.loop(n, lambda j: k.If(k.land(valid(j), k.lor(k.eq(best, k.Const(-1, "idx")), score(j) > best_score)),
                                       [k.Assign(best, j), k.Assign(best_score, score(j))]), "c")]
