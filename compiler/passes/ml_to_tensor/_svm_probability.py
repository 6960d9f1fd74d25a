"""SVMClassifier's class probabilities from pairwise decision values, as ONNX Runtime computes
them (sigmoid_probability, then multiclass_probability in ml_common.h, libsvm's method 2 of
Wu, Lin and Weng), in float32 and in its order of operations.

The coupling is an iteration that stops once the row's error falls under 0.005 / classes, at
most ITERATIONS times. Its result depends on where it stops (it is only that close to the fixed
point), so the graph unrolls every iteration and, from the first one whose error is small
enough, makes the updates of a row zero: exactly where ONNX Runtime stops, row by row.
"""
from __future__ import annotations

import numpy as np

from . import _scores
from ._builder import Builder

ITERATIONS = 100  # ONNX Runtime's (and libsvm's) maximum


def couple(b: Builder, dec: str, prob_a: np.ndarray, prob_b: np.ndarray, pairs: list, C: int) -> str:
    """[N, C] float32 class probabilities from the pairs' decision values dec [N, P] float32."""
    q = _q_matrix(b, _pairwise(b, dec, prob_a, prob_b, pairs, C), C)
    q_rows = [b.op("Gather", q, b.const(np.int64(t)), axis=1) for t in range(C)]  # [N, C] each
    q_diag = [b.column(q_rows[t], t) for t in range(C)]  # [N, 1] each
    f = lambda v: _scores.f32(b, v)  # noqa: E731
    eps = f(np.float32(0.005) / np.float32(C))
    one, two, zero = f(1.0), f(2.0), f(0.0)
    unit = [b.const(np.eye(C, dtype=np.float32)[t]) for t in range(C)]
    p = b.filled_rows(dec, C, np.float32(1.0) / np.float32(C))
    for _ in range(ITERATIONS):
        qp = b.squeeze(b.op("MatMul", q, b.unsqueeze(p, [2])), [2])  # [N, C]
        pqp = b.reduce("ReduceSum", b.op("Mul", p, qp), [1], keepdims=1)  # [N, 1]
        error = b.reduce("ReduceMax", b.op("Abs", b.op("Sub", qp, pqp)), [1], keepdims=1)
        stop = b.op("Less", error, eps)  # ONNX Runtime leaves the loop here: no more updates
        for t in range(C):
            qp_t = b.column(qp, t)
            diff = b.where(stop, zero, b.op("Div", b.op("Sub", pqp, qp_t), q_diag[t]))
            p = b.op("Add", p, b.op("Mul", diff, unit[t]))
            grow = b.op("Add", one, diff)
            inner = b.op("Add", b.op("Mul", diff, q_diag[t]), b.op("Mul", two, qp_t))
            pqp = b.op("Div", b.op("Div", b.op("Add", pqp, b.op("Mul", diff, inner)), grow), grow)
            qp = b.op("Div", b.op("Add", qp, b.op("Mul", diff, q_rows[t])), grow)
            p = b.op("Div", p, grow)
    return p


def _pairwise(b: Builder, dec: str, prob_a, prob_b, pairs, C: int) -> str:
    """[N, C, C] float32: r[i][j] the probability of class i against j (sigmoid_probability,
    clipped to [1e-7, 1 - 1e-7]), r[j][i] = 1 - r[i][j], zero diagonal."""
    v = b.op("Add", b.op("Mul", dec, b.const(prob_a, hint="prob_a")), b.const(prob_b, hint="prob_b"))
    one = _scores.f32(b, 1.0)
    val = b.op("Sub", one, _scores.logistic(b, v))
    val = b.op("Min", b.op("Max", val, _scores.f32(b, 1e-7)), _scores.f32(b, np.float32(1) - np.float32(1e-7)))
    upper, lower = np.zeros((len(pairs), C * C), np.float32), np.zeros((len(pairs), C * C), np.float32)
    for p, (i, j) in enumerate(pairs):
        upper[p, i * C + j], lower[p, j * C + i] = 1.0, 1.0
    # Products with 0/1 matrices place each value exactly.
    flat = b.op("Add", b.op("MatMul", val, b.const(upper)), b.op("MatMul", b.op("Sub", one, val), b.const(lower)))
    return b.op("Reshape", flat, b.const([-1, C, C], np.int64))


def _q_matrix(b: Builder, r: str, C: int) -> str:
    """Q[i][i] = sum over j of r[j][i]^2, Q[i][j] = -r[j][i] r[i][j]."""
    rt = b.op("Transpose", r, perm=[0, 2, 1])
    diag = b.reduce("ReduceSum", b.op("Mul", rt, rt), [2], keepdims=1)  # [N, C, 1]
    off = b.op("Neg", b.op("Mul", rt, r))
    return b.op("Add", off, b.op("Mul", diag, b.const(np.eye(C, dtype=np.float32))))
