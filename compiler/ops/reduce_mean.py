"""ReduceMean: https://onnx.ai/onnx/operators/onnx__ReduceMean.html"""
from ..kernel import ast as k
from . import _reduce


def lower(ctx, node, ins, outs):
    return _reduce.lower(ctx, node, ins, outs, [(_reduce.zero, lambda acc, x, _: acc + x)],
                         lambda accs, n: accs[0] / k.Const(n, accs[0].dtype))
