"""Tanh: https://onnx.ai/onnx/operators/onnx__Tanh.html"""
from . import _unary


def lower(ctx, node, ins, outs):
    return _unary.math(ctx, node, ins, outs, "tanh")
