"""VotingClassifier with flatten_transform=True (scikit-learn's default).

flatten_transform only shapes what `transform` returns; `predict` and `predict_proba` do not
depend on it. skl2onnx's converter refuses it all the same, so the converter put in front of
skl2onnx's hands it the classifier with flatten_transform=False for the time of the
conversion (and puts the user's value back); weights given as a list become an array then
(skl2onnx's converter needs one).
"""
from __future__ import annotations

import numpy as np

from .sklearn_double_builder import install_in_front


def install() -> None:
    """Put the converter in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.ensemble import VotingClassifier
    from skl2onnx._supported_operators import sklearn_operator_name_map
    install_in_front({VotingClassifier: sklearn_operator_name_map[VotingClassifier]}, _make)


def _make(original):
    def convert(scope, operator, container):
        model = operator.raw_operator
        kept = model.flatten_transform, model.weights
        model.flatten_transform = False
        if model.weights is not None:  # skl2onnx calls weights.sum(): a list has none
            model.weights = np.asarray(model.weights, dtype=np.float64)
        try:
            return original(scope, operator, container)
        finally:
            model.flatten_transform, model.weights = kept
    return convert
