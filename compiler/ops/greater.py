"""Greater: https://onnx.ai/onnx/operators/onnx__Greater.html"""
from . import _broadcast


def lower(ctx, node, ins, outs):
    return _broadcast.binary(ctx, ins, outs, lambda a, b: a > b)
