"""SVMRegressor: https://onnx.ai/onnx/operators/onnx_aionnxml_SVMRegressor.html

As ONNX Runtime (svmregressor.cc): sum over support vectors of coefficient * kernel, plus
rho[0]; without support vectors, a linear model coefficients . x + rho[0]; one_class maps
the value to +1 / -1. ONNX Runtime ignores post_transform here, and so does this.
"""
import numpy as np

from . import _svm
from ..errors import UnsupportedError
from ..kernel import ast as k

OP = "SVMRegressor"


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    a = node.attrs
    nf = x.size
    coef = np.asarray(a["coefficients"], np.float32)
    rho = float(np.float32(a["rho"][0]))
    V = int(a.get("n_supports", 0))
    s = ctx.var("s", "f64")
    f = lambda v: k.Const(float(v), "f64")  # noqa: E731
    if V > 0:
        sv = np.asarray(a.get("support_vectors") or [], np.float32)
        if sv.size != V * nf or coef.size < V:
            raise UnsupportedError(f"{OP}: support_vectors/coefficients do not match {V} vectors of {nf} features")
        kind, gamma, coef0, degree = _svm.params(OP, a)
        sv_t = ctx.table("sv", sv, "f32")
        coef_t = ctx.table("coef", coef[:V], "f32")
        kb = ctx.scratch_buf("kern", "f64", V)

        def value(r):
            return _svm.kernel_values(ctx, x, r, sv_t, V, nf, kind, gamma, coef0, degree, kb, r * V) + [
                k.Let(s, f(0.0)),
                ctx.loop(V, lambda v: k.Assign(s, s + k.Cast(coef_t[v], "f64") * kb[r * V + v]), "v"),
                k.Assign(s, s + f(rho))]
    else:
        if coef.size != nf:
            raise UnsupportedError(f"{OP}: {coef.size} coefficients for {nf} features")
        coef_t = ctx.table("coef", coef, "f32")

        def value(r):
            return [k.Let(s, f(rho)),
                    ctx.loop(nf, lambda i: k.Assign(s, s + k.Cast(x.at(r, i), "f64") * k.Cast(coef_t[i], "f64")), "f")]
    one_class = int(a.get("one_class", 0)) != 0

    def row(r):
        result = k.Select(s > f(0.0), f(1.0), f(-1.0)) if one_class else s
        return value(r) + [out.put(r, 0, k.Cast(result, out.dtype))]
    return [ctx.rows(row)]
