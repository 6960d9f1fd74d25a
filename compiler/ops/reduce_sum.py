"""ReduceSum: https://onnx.ai/onnx/operators/onnx__ReduceSum.html"""
from . import _reduce


def lower(ctx, node, ins, outs):
    return _reduce.lower(ctx, node, ins, outs, [(_reduce.zero, lambda acc, x, _: acc + x)],
                         lambda accs, n: accs[0])
