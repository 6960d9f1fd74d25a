"""BernoulliNB in double, as scikit-learn computes it.

skl2onnx's converter computes log(1 - p) as log(1.000000001 - exp(feature_log_prob_)) in the
graph: an offset of 1e-9 that moves the probabilities by about as much as the double
tolerance allows. `install()` puts a converter in front of it: for a double input,
scikit-learn's joint log-likelihood with its own constants (neg_prob = log(1 - exp(
feature_log_prob_)) computed here as scikit-learn does):

    jll = binarize(X) @ (feature_log_prob_ - neg_prob).T + (class_log_prior_ + neg_prob.sum(1))

then `label`, the class of the first highest jll, and `probabilities`,
exp(jll - logsumexp(jll)). Other inputs go to skl2onnx's converter.
"""
from __future__ import annotations

import numpy as np

from modelport.passes.ml_to_tensor._builder import F64

from .sklearn_double_builder import converter, install_in_front, label_table


def install() -> None:
    """Put the converter in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.naive_bayes import BernoulliNB
    install_in_front({BernoulliNB: "SklearnBernoulliNB"}, converter("bernoulli_nb", _build))


def _build(b, model, operator, container):
    x = b.input(operator)
    if model.binarize is not None:
        x = b.cast(b.op("Greater", x, b.const(np.float64(model.binarize))), F64)
    log_p = np.asarray(model.feature_log_prob_, np.float64)
    neg_prob = np.log(1 - np.exp(log_p))
    jll = b.op("Add", b.op("MatMul", x, b.const((log_p - neg_prob).T, hint="log_ratio")),
               b.const((model.class_log_prior_ + neg_prob.sum(axis=1)).reshape(1, -1), hint="log_base"))
    label, probabilities = (o.full_name for o in operator.outputs)
    b.op("Gather", b.const(label_table(model), hint="classes"), b.op("ArgMax", jll, axis=1, keepdims=0),
         axis=0, out=label)
    # axes are an input at opset 18
    log_total = b.op("ReduceLogSumExp", jll, b.const([1], np.int64, hint="axes"), keepdims=1)
    b.op("Exp", b.op("Sub", jll, log_total), out=probabilities)
