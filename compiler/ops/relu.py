"""Relu: https://onnx.ai/onnx/operators/onnx__Relu.html"""
from ..kernel import ast as k
from . import _unary


def lower(ctx, node, ins, outs):
    # x < 0 ? 0 : x lets NaN through, as max(0, x) does in the spec's reference.
    return _unary.lower(ctx, node, ins, outs, lambda x: k.Select(x < 0, k.Const(0, x.dtype), x),
                        floats_only=False)
