"""ReduceSumSquare: https://onnx.ai/onnx/operators/onnx__ReduceSumSquare.html"""
from . import _reduce


def lower(ctx, node, ins, outs):
    return _reduce.lower(ctx, node, ins, outs, [(_reduce.zero, lambda acc, x, _: acc + x * x)],
                         lambda accs, n: accs[0])
