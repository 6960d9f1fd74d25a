"""Erf: https://onnx.ai/onnx/operators/onnx__Erf.html"""
from . import _unary


def lower(ctx, node, ins, outs):
    return _unary.math(ctx, node, ins, outs, "erf")
