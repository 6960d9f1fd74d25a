"""Sum: https://onnx.ai/onnx/operators/onnx__Sum.html (any number of broadcasting inputs)."""
from . import _broadcast


def lower(ctx, node, ins, outs):
    return _broadcast.fold(ctx, ins, outs, lambda acc, x: acc + x)
