"""Sqrt: https://onnx.ai/onnx/operators/onnx__Sqrt.html"""
from . import _unary


def lower(ctx, node, ins, outs):
    return _unary.math(ctx, node, ins, outs, "sqrt")
