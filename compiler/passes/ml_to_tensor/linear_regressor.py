"""LinearRegressor: https://onnx.ai/onnx/operators/onnx_aionnxml_LinearRegressor.html

As ONNX Runtime (linearregressor.cc): X coefficients^T + intercepts in float32; the
post-transform applies to several targets, and to a single one only when it is PROBIT.
"""
from __future__ import annotations

import numpy as np

from . import _scores
from ._builder import F32, Builder, attributes
from ...errors import UnsupportedError

OP = "LinearRegressor"


def lower(b: Builder, node, ins, strategy: str) -> None:
    a = attributes(node)
    x = ins[0]
    targets = int(a.get("targets", 1))
    nf = x.width
    coef = np.asarray(a.get("coefficients") or [], np.float32)
    if coef.size != targets * nf:
        raise UnsupportedError(f"{OP}: {coef.size} coefficients for {targets} targets and {nf} features")
    intercepts = np.asarray(a.get("intercepts") or [0.0] * targets, np.float32)
    post = _scores.post_transform(OP, a)
    xf = b.cast(b.rows(x), F32) if x.dtype != np.float32 else b.rows(x)
    y = b.op("Gemm", xf, b.const(coef.reshape(targets, nf), hint="coefficients"),
             b.const(intercepts, hint="intercepts"), transB=1)
    if targets == 1:
        y = _scores.probit(b, y) if post == "PROBIT" else y
    else:
        y = _scores.transform(b, y, post, logistic_op=True)
    b.op("Identity", y, out=node.output[0])
