"""TreeEnsemble (ai.onnx.ml 5): https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsemble.html

The same aggregation as TreeEnsembleRegressor (ONNX Runtime runs both on one implementation);
the output has the input's type.
"""
from __future__ import annotations

from . import _ensemble, _forest
import numpy as np

from ._builder import Builder, attributes
from ...errors import UnsupportedError

OP = "TreeEnsemble"
AGGREGATES = {0: "AVERAGE", 1: "SUM", 2: "MIN", 3: "MAX"}
# ONNX Runtime reads post_transform in its own enum order (1 = LOGISTIC, 2 = SOFTMAX), where the
# operator's documentation lists SOFTMAX (1) before LOGISTIC (2); this follows ONNX Runtime.
POST_TRANSFORMS = {0: "NONE", 1: "LOGISTIC", 2: "SOFTMAX", 3: "SOFTMAX_ZERO", 4: "PROBIT"}


def lower(b: Builder, node, ins, strategy: str) -> None:
    a = attributes(node)
    agg = AGGREGATES.get(int(a.get("aggregate_function", 1)))
    post = POST_TRANSFORMS.get(int(a.get("post_transform", 0)))
    if agg is None or post is None:
        raise UnsupportedError(f"{OP}: aggregate_function {a.get('aggregate_function')} / post_transform "
                               f"{a.get('post_transform')} is not a known value")
    if ins[0].dtype not in (np.float32, np.float64):
        raise UnsupportedError(f"{OP} on {ins[0].dtype} input is not supported by the TVM targets yet "
                               "(float and double are); use the cpp, java or onnx targets")
    double = ins[0].dtype == np.float64
    if double and post != "NONE":
        raise UnsupportedError(f"{OP} on double input with post_transform {post} is not supported by the TVM "
                               "targets yet; use the cpp, java or onnx targets")
    x, dtype = _ensemble.tree_input(b, ins[0])
    forest, n_targets = _forest.from_v5(OP, a, ins[0].width, dtype)
    y = _ensemble.regress(b, OP, forest, n_targets, agg, post, [], x, strategy, double=double)
    b.op("Identity", y, out=node.output[0])
