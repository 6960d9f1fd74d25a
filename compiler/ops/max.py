"""Max: https://onnx.ai/onnx/operators/onnx__Max.html"""
from ..kernel import ast as k
from . import _minmax


def lower(ctx, node, ins, outs):
    return _minmax.lower(ctx, ins, outs, k.maximum)
