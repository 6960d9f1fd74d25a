"""ArgMin: https://onnx.ai/onnx/operators/onnx__ArgMin.html"""
from . import _reduce


def lower(ctx, node, ins, outs):
    return _reduce.arg(ctx, node, ins, outs, lambda v, best, or_equal: v <= best if or_equal else v < best)
