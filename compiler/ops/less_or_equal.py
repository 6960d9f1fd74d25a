"""LessOrEqual: https://onnx.ai/onnx/operators/onnx__LessOrEqual.html (false where either side is NaN)"""
from . import _broadcast


def lower(ctx, node, ins, outs):
    return _broadcast.binary(ctx, ins, outs, lambda a, b: a <= b)
