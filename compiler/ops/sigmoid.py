"""Sigmoid: https://onnx.ai/onnx/operators/onnx__Sigmoid.html"""
from ..kernel import ast as k
from . import _unary


def lower(ctx, node, ins, outs):
    # 1 / (1 + exp(-x)): exp overflows to inf for very negative x, giving 0 as it should.
    return _unary.lower(ctx, node, ins, outs,
                        lambda x: k.Const(1, x.dtype) / (k.Const(1, x.dtype) + k.call("exp", -x)))
