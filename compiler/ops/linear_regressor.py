"""LinearRegressor: https://onnx.ai/onnx/operators/onnx_aionnxml_LinearRegressor.html"""
import numpy as np

from . import _dot
from ..errors import UnsupportedError
from ..kernel import ast as k


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    a = node.attrs
    targets = int(a.get("targets", 1))
    if a.get("post_transform", "NONE") != "NONE":
        raise UnsupportedError(f"LinearRegressor post_transform {a['post_transform']} is not supported")
    nf = x.size
    coef = ctx.table("coef", np.asarray(a["coefficients"], np.float32).reshape(targets, nf), "f32")
    bias = ctx.table("bias", np.asarray(a.get("intercepts") or [0.0] * targets, np.float32), "f32")
    s = ctx.var("s", "f64")

    def row(r):
        return [ctx.loop(targets, lambda t: [
            k.Let(s, k.Cast(bias[t], "f64")),
            *_dot.accumulate(ctx, s, nf, lambda f: k.Cast(x.at(r, f), "f64") * k.Cast(coef[t * nf + f], "f64")),
            out.put(r, t, k.Cast(s, out.dtype)),
        ], "t")]
    return [ctx.rows(row)]
