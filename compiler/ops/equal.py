"""Equal: https://onnx.ai/onnx/operators/onnx__Equal.html"""
from ..kernel import ast as k
from . import _broadcast


def lower(ctx, node, ins, outs):
    return _broadcast.binary(ctx, ins, outs, k.eq)
