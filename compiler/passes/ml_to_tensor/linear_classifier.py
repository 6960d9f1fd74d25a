"""LinearClassifier: https://onnx.ai/onnx/operators/onnx_aionnxml_LinearClassifier.html

As ONNX Runtime (linearclassifier.cc): scores = X coefficients^T + intercepts in float32, one
per intercept. With a single score and two class labels, the label is the second class where
the score is above 0 and the scores are [1 - s, s] (s after LOGISTIC, the only post-transform
that changes a single score); with several scores the label is the first class with the
highest raw score and the post-transform applies to all of them.
"""
from __future__ import annotations

import numpy as np

from . import _scores
from ._builder import F32, Builder, attributes
from ...errors import UnsupportedError

OP = "LinearClassifier"


def lower(b: Builder, node, ins, strategy: str) -> None:
    a = attributes(node)
    x = ins[0]
    labels = _scores.Labels(OP, a, "classlabels_ints", "classlabels_strings")
    post = _scores.post_transform(OP, a)
    intercepts = np.asarray(a.get("intercepts") or [], np.float32)
    T, nf = len(intercepts), x.width
    coef = np.asarray(a.get("coefficients") or [], np.float32)
    if T == 0 or coef.size != T * nf:
        raise UnsupportedError(f"{OP}: {coef.size} coefficients for {T} intercepts and {nf} features")
    if T > 1 and labels.n < T:
        raise UnsupportedError(f"{OP}: {T} scores but only {labels.n} class labels")
    if T == 1 and (labels.n != 2 or post == "PROBIT"):
        raise UnsupportedError(f"{OP} with one score is supported with two class labels and without PROBIT")
    xf = b.cast(b.rows(x), F32) if x.dtype != np.float32 else b.rows(x)
    scores = b.op("Gemm", xf, b.const(coef.reshape(T, nf), hint="coefficients"),
                  b.const(intercepts, hint="intercepts"), transB=1)  # [N, T]
    label, probabilities = node.output[0], node.output[1]
    if T == 1:
        labels.emit_choice(b, b.squeeze(b.op("Greater", scores, _scores.f32(b, 0.0)), [1]), label)
        v = b.op("Sigmoid", scores) if post == "LOGISTIC" else scores
        b.op("Concat", b.op("Sub", _scores.f32(b, 1.0), v), v, axis=1, out=probabilities)
        return
    labels.emit(b, _scores.first_argmax(b, scores), label)
    _scores.transform(b, scores, post, out=probabilities, logistic_op=True)
