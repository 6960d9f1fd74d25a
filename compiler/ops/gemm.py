"""Gemm: https://onnx.ai/onnx/operators/onnx__Gemm.html

Y = alpha * A' B' + beta * C with A batched and B constant (any other placement would
contract over, or move, the batch axis). A transposed B is transposed at compile time so
that the product walks it row by row.
"""
import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _broadcast, _matmul


def lower(ctx, node, ins, outs):
    a, b = ins[0], ins[1]
    c = ins[2] if len(ins) > 2 else None
    out = outs[0]
    alpha, beta = float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0))
    if not a.batched or int(node.attrs.get("transA", 0)) or b.value is None:
        raise UnsupportedError(f"Gemm node {node.name!r}: only a batched, untransposed A with a constant B "
                               "is supported (other forms mix rows of the batch)")
    weights = np.asarray(b.value)
    if int(node.attrs.get("transB", 0)):
        weights = weights.T
    table = ctx.table("w", weights, b.dtype)
    bias = _broadcast.loader(c, out) if c is not None and beta != 0.0 else None

    def scaled_bias(r, o):
        return bias(r, o) if beta == 1.0 else k.Const(beta, out.dtype) * bias(r, o)

    # With alpha = 1 the sums start from the bias; otherwise the bias is added after scaling.
    init = scaled_bias if bias is not None and alpha == 1.0 else None
    stmts = _matmul.matmul(ctx, node, a, b, out, load_b=lambda r, i: table[i], init=init,
                           b_shape=weights.shape)
    if alpha != 1.0:
        scale = k.Const(alpha, out.dtype)
        stmts.append(ctx.elementwise(out, lambda r, i: scale * out.at(r, i) + scaled_bias(r, i)
                                     if bias is not None else scale * out.at(r, i)))
    return stmts
