"""Reciprocal: https://onnx.ai/onnx/operators/onnx__Reciprocal.html"""
from ..kernel import ast as k
from . import _unary


def lower(ctx, node, ins, outs):
    return _unary.lower(ctx, node, ins, outs, lambda x: k.Const(1, x.dtype) / x)
