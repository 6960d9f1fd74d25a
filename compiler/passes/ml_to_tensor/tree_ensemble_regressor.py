"""TreeEnsembleRegressor: https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsembleRegressor.html"""
from __future__ import annotations

import numpy as np

from . import _ensemble, _forest, _scores
from ._builder import Builder, attributes

OP = "TreeEnsembleRegressor"


def base_values(a: dict) -> list:
    if a.get("base_values_as_tensor") is not None:
        return [float(v) for v in np.asarray(a["base_values_as_tensor"], np.float64).reshape(-1)]
    return [float(np.float32(v)) for v in a.get("base_values") or []]


def lower(b: Builder, node, ins, strategy: str) -> None:
    a = attributes(node)
    n_targets = int(a.get("n_targets", 1))
    x, dtype = _ensemble.tree_input(b, ins[0])
    forest = _forest.from_v3(OP, a, "target", n_targets, ins[0].width, dtype)
    y = _ensemble.regress(b, OP, forest, n_targets, a.get("aggregate_function", "SUM"),
                          _scores.post_transform(OP, a), base_values(a), x, strategy)
    b.op("Identity", y, out=node.output[0])
