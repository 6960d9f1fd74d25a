"""SVMClassifier: https://onnx.ai/onnx/operators/onnx_aionnxml_SVMClassifier.html

As ONNX Runtime (svmclassifier.cc). With support vectors: one-vs-one decision values, one vote
per pair (to the pair's first class when the value is above 0); the label is the first class
with the most votes. The scores are the pairwise values (for two classes [-s, s], or [1 - s, s]
under a post-transform, s through the logistic function under LOGISTIC), or with prob_a/prob_b
the pairs' Platt probabilities coupled into class probabilities by libsvm's iterative method
(see _svm_probability). Without support vectors (liblinear mode): one linear score per class
plus rho[0].
"""
from __future__ import annotations

import numpy as np

from . import _scores, _svm, _svm_probability
from ._builder import F32, F64, Builder, attributes
from ...errors import UnsupportedError

OP = "SVMClassifier"


def lower(b: Builder, node, ins, strategy: str) -> None:
    a = attributes(node)
    labels = _scores.Labels(OP, a, "classlabels_ints", "classlabels_strings")
    if labels.n < 2:
        raise UnsupportedError(f"{OP} with fewer than two classes is not supported")
    post = _scores.post_transform(OP, a)
    per_class = [int(v) for v in a.get("vectors_per_class") or []]
    if sum(per_class) > 0:
        _svc(b, node, ins[0], a, labels, post, per_class)
    else:
        _linear(b, node, ins[0], a, labels, post)


def _linear(b, node, x, a, labels, post):
    C, nf = labels.n, x.width
    coef = np.asarray(a["coefficients"], np.float32)
    if coef.size != C * nf:
        raise UnsupportedError(f"{OP}: {coef.size} coefficients for {C} classes and {nf} features")
    xf = b.cast(b.rows(x), F32) if x.dtype != np.float32 else b.rows(x)
    rho = np.float32(a["rho"][0])
    scores = b.op("Gemm", xf, b.const(coef.reshape(C, nf), hint="coefficients"), b.const(np.asarray([rho])),
                  transB=1)
    best = _scores.first_argmax(b, scores)
    if C == 2 and not a.get("prob_a"):
        # ChooseClass: the second class when the top score passes 0.5 (all coefficients >= 0)
        # or 0 (some negative), else the top class.
        top = b.reduce("ReduceMax", scores, [1], keepdims=0)
        positive = bool(np.all(coef >= 0))
        second = b.op("GreaterOrEqual" if positive else "Greater", top, _scores.f32(b, 0.5 if positive else 0.0))
        best = b.where(second, b.const(np.int64(1)), best)
    labels.emit(b, best, node.output[0])
    _scores.transform(b, scores, post, out=node.output[1], logistic_op=True)


def _pair_values(b, kern, C, per_class, coef, rho, V):
    """[N, P] float64 decision values, one pair (i, j) at a time over only its two classes'
    vectors (as ONNX Runtime sums them: a NaN kernel value of a third class must not reach
    the pair, which a product with a zero coefficient would do). libsvm's layout: class i's
    vectors weigh with coefficient row j - 1, class j's with row i."""
    starts = np.concatenate([[0], np.cumsum(per_class)[:-1]]).astype(int)
    pairs = [(i, j) for i in range(C - 1) for j in range(i + 1, C)]
    rows = coef[:(C - 1) * V].reshape(C - 1, V).astype(np.float64)
    values = []
    for i, j in pairs:
        own_i = np.arange(starts[i], starts[i] + per_class[i])
        own_j = np.arange(starts[j], starts[j] + per_class[j])
        weights = np.concatenate([rows[j - 1, own_i], rows[i, own_j]])[:, None]
        picked = b.op("Gather", kern, b.const(np.concatenate([own_i, own_j]).astype(np.int64), hint="vectors"), axis=1)
        values.append(b.op("MatMul", picked, b.const(weights, hint="pair_coefficients")))
    dec = b.op("Concat", *values, axis=1) if len(values) > 1 else values[0]
    return b.op("Add", dec, b.const(rho[:len(pairs)].astype(np.float64), hint="rho")), pairs


def _svc(b, node, x, a, labels, post, per_class):
    C, nf, V = labels.n, x.width, sum(per_class)
    if len(per_class) != C:
        raise UnsupportedError(f"{OP}: vectors_per_class has {len(per_class)} entries for {C} classes")
    sv = np.asarray(a.get("support_vectors") or [], np.float32)
    coef = np.asarray(a["coefficients"], np.float32)
    rho = np.asarray(a["rho"], np.float32)
    P = C * (C - 1) // 2
    if sv.size != V * nf or coef.size < (C - 1) * V or rho.size < P:
        raise UnsupportedError(f"{OP}: support_vectors/coefficients/rho do not match {V} vectors of {nf} "
                               f"features and {C} classes")
    kern = _svm.kernel(b, _svm.input64(b, x), sv.reshape(V, nf), *_svm.params(OP, a))
    dec, pairs = _pair_values(b, kern, C, per_class, coef, rho, V)
    # Votes: pair p gives one to its first class when its value is above 0, else to its second.
    first, second = np.zeros((P, C)), np.zeros((P, C))
    for p, (i, j) in enumerate(pairs):
        first[p, i], second[p, j] = 1.0, 1.0
    above = b.cast(b.op("Greater", dec, b.const(np.float64(0.0))), F64)
    votes = b.op("Add", b.op("MatMul", above, b.const(first - second, hint="votes")),
                 b.const(second.sum(axis=0), hint="votes"))
    labels.emit(b, _scores.first_argmax(b, votes), node.output[0])
    dec32 = b.cast(dec, F32)  # ONNX Runtime keeps the pair values as float32
    prob_a = np.asarray(a.get("prob_a") or [], np.float32)
    if prob_a.size:
        prob_b = np.asarray(a.get("prob_b") or [], np.float32)
        if prob_a.size < P or prob_b.size < P:
            raise UnsupportedError(f"{OP}: prob_a/prob_b need {P} values")
        probs = _svm_probability.couple(b, dec32, prob_a[:P], prob_b[:P], pairs, C)
        _scores.transform(b, probs, post, out=node.output[1], logistic_op=True)
    elif C > 2:
        _scores.transform(b, dec32, post, out=node.output[1], logistic_op=True)
    else:
        _two_scores(b, dec32, post, node.output[1])


def _two_scores(b, s, post, out):
    """One pair value s [N, 1] written as two columns (batched_update_scores_inplace)."""
    if post == "PROBIT":  # the second column is left unwritten by ONNX Runtime
        b.op("Concat", _scores.probit(b, s), b.zeros_rows(s, 1), axis=1, out=out)
    elif post == "NONE":
        b.op("Concat", b.op("Neg", s), s, axis=1, out=out)
    else:  # [1 - s, s], s through the logistic function under LOGISTIC
        v = b.op("Sigmoid", s) if post == "LOGISTIC" else s
        b.op("Concat", b.op("Sub", _scores.f32(b, 1.0), v), v, axis=1, out=out)
