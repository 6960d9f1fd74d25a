"""Neg: https://onnx.ai/onnx/operators/onnx__Neg.html"""
from ..kernel import ast as k
from . import _unary


def lower(ctx, node, ins, outs):
    return _unary.lower(ctx, node, ins, outs, lambda x: k.call("neg", x), floats_only=False)
