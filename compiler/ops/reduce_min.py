"""ReduceMin: https://onnx.ai/onnx/operators/onnx__ReduceMin.html"""
from ..kernel import ast as k
from . import _reduce


def _step(acc, x, _):
    return k.land(acc, x) if acc.dtype == "bool" else k.minimum(acc, x)


def lower(ctx, node, ins, outs):
    return _reduce.lower(ctx, node, ins, outs, [(_reduce.first, _step)], lambda accs, n: accs[0])
