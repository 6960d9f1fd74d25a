"""SVMRegressor: https://onnx.ai/onnx/operators/onnx_aionnxml_SVMRegressor.html

As ONNX Runtime (svmregressor.cc): the sum over support vectors of coefficient x kernel plus
rho[0]; without support vectors a linear model coefficients . x + rho[0]; one_class maps the
value to +1 / -1 by its sign. ONNX Runtime ignores post_transform here, and so does this.
"""
from __future__ import annotations

import numpy as np

from . import _svm
from ._builder import F32, Builder, attributes
from ...errors import UnsupportedError

OP = "SVMRegressor"


def lower(b: Builder, node, ins, strategy: str) -> None:
    a = attributes(node)
    x = ins[0]
    nf = x.width
    coef = np.asarray(a.get("coefficients") or [], np.float32).astype(np.float64)
    rho = float(np.float32((a.get("rho") or [0.0])[0]))
    V = int(a.get("n_supports", 0))
    x64 = _svm.input64(b, x)
    if V > 0:
        sv = np.asarray(a.get("support_vectors") or [], np.float32)
        if sv.size != V * nf or coef.size < V:
            raise UnsupportedError(f"{OP}: support_vectors/coefficients do not match {V} vectors of {nf} features")
        k = _svm.kernel(b, x64, sv.reshape(V, nf), *_svm.params(OP, a))
        y = b.op("MatMul", k, b.const(coef[:V].reshape(V, 1), hint="coefficients"))
    else:
        if coef.size != nf:
            raise UnsupportedError(f"{OP}: {coef.size} coefficients for {nf} features")
        y = b.op("MatMul", x64, b.const(coef.reshape(nf, 1), hint="coefficients"))
    y = b.op("Add", y, b.const(np.float64(rho)))
    if int(a.get("one_class", 0)):
        y = b.where(b.op("Greater", y, b.const(np.float64(0.0))), b.const(np.float64(1.0)), b.const(np.float64(-1.0)))
    b.cast(y, F32, out=node.output[0])
