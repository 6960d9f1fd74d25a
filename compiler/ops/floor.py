"""Floor: https://onnx.ai/onnx/operators/onnx__Floor.html"""
from . import _unary


def lower(ctx, node, ins, outs):
    return _unary.math(ctx, node, ins, outs, "floor")
