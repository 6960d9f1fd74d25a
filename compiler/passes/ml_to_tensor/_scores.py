"""Shared by the classifiers: class labels and ONNX Runtime's score post-transforms as tensor ops.

The transforms follow ONNX Runtime's ml_common.h (ComputeLogistic, ComputeProbit with its ErfInv
approximation, ComputeSoftmax, ComputeSoftmaxZero), in float32 as it evaluates them, on [N, K]
scores along the last axis.
"""
from __future__ import annotations

import math

import numpy as np

from ._builder import I64, Builder
from ...errors import UnsupportedError

POST_TRANSFORMS = ("NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT")
SOFTMAX_ZERO_EPS = 1e-7  # ComputeSoftmaxZero leaves |v| <= 1e-7 out of the exponentials


def post_transform(op: str, attrs: dict) -> str:
    post = attrs.get("post_transform", "NONE")
    if post not in POST_TRANSFORMS:
        raise UnsupportedError(f"{op} post_transform {post} is not supported ({', '.join(POST_TRANSFORMS)})")
    return post


def f32(b: Builder, v) -> str:
    return b.const(np.float32(v))


def logistic(b: Builder, x: str) -> str:
    """ComputeLogistic: v = 1 / (1 + exp(-|x|)), then 1 - v below zero. (Sigmoid rounds
    differently far from zero, where 1 - v is exactly 0 in float32.)"""
    one = f32(b, 1.0)
    v = b.op("Div", one, b.op("Add", one, b.op("Exp", b.op("Neg", b.op("Abs", x)))))
    return b.where(b.op("Less", x, f32(b, 0.0)), b.op("Sub", one, v), v)


def probit(b: Builder, x: str) -> str:
    """ComputeProbit: sqrt(2) * ErfInv(2x - 1) with ONNX Runtime's closed-form ErfInv."""
    one, a = f32(b, 1.0), np.float32(0.147)
    t = b.op("Sub", b.op("Mul", x, f32(b, 2.0)), one)
    sgn = b.where(b.op("Less", t, f32(b, 0.0)), f32(b, -1.0), one)
    lg = b.op("Log", b.op("Mul", b.op("Sub", one, t), b.op("Add", one, t)))
    v = b.op("Add", f32(b, np.float32(2) / (np.float32(math.pi) * a)), b.op("Mul", f32(b, 0.5), lg))
    v2 = b.op("Mul", f32(b, np.float32(1) / a), lg)
    v3 = b.op("Sub", b.op("Sqrt", b.op("Sub", b.op("Mul", v, v), v2)), v)
    return b.op("Mul", f32(b, np.float32(math.sqrt(2.0))), b.op("Mul", sgn, b.op("Sqrt", v3)))


def softmax_zero(b: Builder, x: str) -> str:
    """ComputeSoftmaxZero: values within 1e-7 of zero are scaled by exp(-max), not
    exponentiated, and left out of the sum."""
    m = b.reduce("ReduceMax", x, [-1], keepdims=1)
    eps = f32(b, SOFTMAX_ZERO_EPS)
    live = b.op("Or", b.op("Greater", x, eps), b.op("Less", x, b.op("Neg", eps)))
    e = b.op("Exp", b.op("Sub", x, m))
    value = b.where(live, e, b.op("Mul", x, b.op("Exp", b.op("Neg", m))))
    total = b.reduce("ReduceSum", b.where(live, e, f32(b, 0.0)), [-1], keepdims=1)
    return b.op("Div", value, total)


def transform(b: Builder, x: str, post: str, out: str | None = None, logistic_op: bool = False) -> str:
    """`post` applied to float32 scores [N, K] (K >= 2), as write_scores does. `logistic_op`:
    use Sigmoid, as ONNX Runtime's batched path (MLAS) does for linear classifiers."""
    if post == "NONE":
        y = x
    elif post == "LOGISTIC":
        y = b.op("Sigmoid", x) if logistic_op else logistic(b, x)
    elif post == "SOFTMAX":
        y = b.op("Softmax", x, axis=-1)
    elif post == "SOFTMAX_ZERO":
        y = softmax_zero(b, x)
    else:
        y = probit(b, x)
    if out is None:
        return y
    return b.op("Identity", y, out=out)


def first_argmax(b: Builder, x: str) -> str:
    """[N] int64: the first position of the largest value per row (ONNX Runtime's scans keep the
    first maximum, as ArgMax does with select_last_index = 0)."""
    return b.op("ArgMax", x, axis=-1, keepdims=0, select_last_index=0)


class Labels:
    """Class labels from classlabels_int64s / classlabels_ints or classlabels_strings.

    Integer labels come out as themselves; string labels as the int64 class index (the lowered
    graph holds no strings), with the strings recorded for the output.
    """

    def __init__(self, op: str, attrs: dict, ints_key: str, strings_key: str):
        self.strings = [s.decode() if isinstance(s, bytes) else str(s) for s in attrs.get(strings_key) or []]
        self.ints = [int(v) for v in attrs.get(ints_key) or []]
        self.n = len(self.strings or self.ints)
        if self.n == 0:
            raise UnsupportedError(f"{op} has neither {ints_key} nor {strings_key}")

    def emit(self, b: Builder, index: str, out: str) -> None:
        """The label of class position `index` ([N] int64) written to `out`."""
        if self.strings:
            b.op("Identity", index, out=out)
            b.label_strings(out, self.strings)
        else:
            b.op("Gather", b.const(np.asarray(self.ints, np.int64), hint="labels"), index, out=out, axis=0)

    def emit_literal(self, b: Builder, cond: str, out: str) -> None:
        """`1 if cond else 0`, as ONNX Runtime writes some two-class labels: the integer itself
        whatever the labels are (for string labels: class 1 or 0, which is the same index)."""
        b.cast(cond, I64, out=out)
        if self.strings:
            b.label_strings(out, self.strings)

    def emit_choice(self, b: Builder, cond: str, out: str) -> None:
        """labels[1] where cond, else labels[0]."""
        self.emit(b, b.cast(cond, I64), out)
