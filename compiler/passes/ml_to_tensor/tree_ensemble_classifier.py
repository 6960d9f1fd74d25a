"""TreeEnsembleClassifier: https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsembleClassifier.html

Labels and scores follow ONNX Runtime (TreeAggregatorClassifier in tree_ensemble_aggregator.h):
a class is *scored* for a row when some leaf it reaches carries a weight for that class; an
unscored class without a base value is skipped by the argmax and written as 0. A two-class
model whose weights all name one class (the "binary case": decision trees, forests, gradient
boosting) scores that one value and expands it to two columns.
"""
from __future__ import annotations

import numpy as np

from . import _ensemble, _forest, _scores
from ._builder import F32, Builder, attributes
from ._ensemble import ALWAYS, VARIES
from .tree_ensemble_regressor import base_values
from ...errors import UnsupportedError

OP = "TreeEnsembleClassifier"


def lower(b: Builder, node, ins, strategy: str) -> None:
    a = attributes(node)
    labels = _scores.Labels(OP, a, "classlabels_int64s", "classlabels_strings")
    C = labels.n
    if C < 2:
        raise UnsupportedError(f"{OP} with fewer than two class labels is not supported")
    post = _scores.post_transform(OP, a)
    x, dtype = _ensemble.tree_input(b, ins[0])
    forest = _forest.from_v3(OP, a, "class", C, ins[0].width, dtype)
    sums, counts = forest.table(C)
    presence = _ensemble.presence(forest, counts)
    # Where presence varies per row, C more columns count the weights reached per class.
    varies = VARIES in presence
    table = np.concatenate([sums, counts.astype(np.float64)], axis=1) if varies else sums
    total = _ensemble.aggregate(b, forest, x, strategy, table, "SUM")
    scores = b.cast(b.columns(total, 0, C) if varies else total, F32)  # ONNX Runtime's float32 sums
    has = b.op("Greater", b.columns(total, C, 2 * C), b.const(np.float64(0.5))) if varies else None
    base = base_values(a)
    label, probabilities = node.output[0], node.output[1]
    if C > 2:
        _multiclass(b, scores, has, presence, base, labels, post, label, probabilities)
    else:
        ids = {int(i) for i in a.get("class_ids", [])}
        weights = _forest.float_values(a, "class_weights")
        _two_classes(b, scores, has, presence, base, len(ids) == 1, bool(np.all(weights >= 0)), labels, post,
                     label, probabilities)


def _multiclass(b, scores, has, presence, base, labels, post, label, probabilities):
    C = labels.n
    nb = min(len(base), C)
    if nb:  # a base value makes its class scored
        padded = np.zeros(C, np.float32)
        padded[:nb] = base[:nb]
        scores = b.op("Add", scores, b.const(padded, hint="base_values"))
    static = np.array([c < nb or presence[c] == ALWAYS for c in range(C)])
    if static.all():
        best = _scores.first_argmax(b, scores)
    else:
        valid = b.const(static)
        if has is not None:
            valid = b.op("Or", has, valid)
        masked = b.where(valid, scores, b.const(np.float32(-np.inf)))
        # No class scored at all: ONNX Runtime's label is undefined there; this takes class 0.
        best = _scores.first_argmax(b, masked)
    labels.emit(b, best, label)
    _scores.transform(b, scores, post, out=probabilities)


def _flag(b, has, presence, c):
    """Whether class c is scored: a Python bool when known for every row, else [N, 1] bool."""
    if presence[c] != VARIES:
        return presence[c] == ALWAYS
    return b.columns(has, c, c + 1)


def _select(b, cond, yes, no):
    if cond is True:
        return yes
    if cond is False:
        return no
    return b.where(cond, yes, no)


def _and(b, x, y):
    if x is False or y is False:
        return False
    if x is True:
        return y
    if y is True:
        return x
    return b.op("And", x, y)


def _two_classes(b, scores, has, presence, base, binary_case, all_positive, labels, post, label, probabilities):
    """FinalizeScores for two classes, as ONNX Runtime writes it (see the C++ op for the cases)."""
    f = lambda v: _scores.f32(b, v)  # noqa: E731
    s0, s1 = b.column(scores, 0), b.column(scores, 1)
    h0, h1 = _flag(b, has, presence, 0), _flag(b, has, presence, 1)
    p0, p1 = s0, s1
    if len(base) == 2:
        # With a score for class 1, ONNX Runtime sets class 1 to base[1] + score 0 and class 0 to
        # its negation (base[0] unused); otherwise both get their own base value.
        scored = b.op("Add", f(base[1]), s0)
        p1 = _select(b, h1, scored, b.op("Add", s1, f(base[1])))
        p0 = _select(b, h1, b.op("Neg", scored), b.op("Add", s0, f(base[0])))
    elif len(base) == 1:
        p0 = b.op("Add", s0, f(base[0]))
    # Without two base values, an unscored class 1 is dropped: one score is left.
    two = h1 if len(base) < 2 else True
    zero = b.zeros_rows(s0, 1)
    pos = _select(b, _and(b, two, h1), p1, _select(b, h0, p0, zero))
    if binary_case:
        cond = b.op("Greater", pos, f(0.5) if all_positive else f(0.0))
        labels.emit_choice(b, b.squeeze(cond, [1]), label)
    else:  # ONNX Runtime writes 1 or 0 here whatever the labels are
        labels.emit_literal(b, b.squeeze(b.op("Greater", pos, f(0.0)), [1]), label)
    # A class without a score is written (and transformed) as 0.
    v0, v1 = _select(b, h0, p0, zero), _select(b, h1, p1, zero)
    expand = ("01" if all_positive else "23") if binary_case else ("23" if not base else None)
    both = _scores.transform(b, b.op("Concat", v0, v1, axis=1), post) if two is not False else None
    one = _one_score(b, v0, post, expand, zero) if two is not True else None
    b.op("Identity", _select(b, two, both, one), out=probabilities)


def _one_score(b, v, post, expand, zero):
    """write_scores for a single score: expanded to two columns as ONNX Runtime does."""
    one = _scores.f32(b, 1.0)
    if post == "PROBIT":
        return b.op("Concat", _scores.probit(b, v), zero, axis=1)  # the second column is not written
    if expand == "01":
        return b.op("Concat", b.op("Sub", one, v), v, axis=1)
    if expand == "23":
        if post == "LOGISTIC":
            return b.op("Concat", _scores.logistic(b, b.op("Neg", v)), _scores.logistic(b, v), axis=1)
        return b.op("Concat", b.op("Neg", v), v, axis=1)
    return b.op("Concat", v, zero, axis=1)  # the second column is not written
