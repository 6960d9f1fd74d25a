"""ReduceProd: https://onnx.ai/onnx/operators/onnx__ReduceProd.html

The product in element order (1 times the first element, times the second, and so on), as
ONNX Runtime multiplies."""
from . import _reduce


def lower(ctx, node, ins, outs):
    return _reduce.lower(ctx, node, ins, outs, [(_reduce.one, lambda acc, x, _: acc * x)],
                         lambda accs, n: accs[0])
