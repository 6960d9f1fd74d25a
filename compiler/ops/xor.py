"""Xor: https://onnx.ai/onnx/operators/onnx__Xor.html (bool tensors, broadcast)"""
from ..kernel import ast as k
from . import _broadcast


def lower(ctx, node, ins, outs):
    return _broadcast.binary(ctx, ins, outs, k.ne)
