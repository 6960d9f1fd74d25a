"""Not: https://onnx.ai/onnx/operators/onnx__Not.html"""
from ..kernel import ast as k
from . import _unary


def lower(ctx, node, ins, outs):
    return _unary.lower(ctx, node, ins, outs, k.lnot, floats_only=False)
