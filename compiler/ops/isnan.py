"""IsNaN: https://onnx.ai/onnx/operators/onnx__IsNaN.html"""
from ..kernel import ast as k
from . import _unary


def lower(ctx, node, ins, outs):
    return _unary.lower(ctx, node, ins, outs, lambda x: k.call("isnan", x))
