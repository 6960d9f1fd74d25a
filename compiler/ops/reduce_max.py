"""ReduceMax: https://onnx.ai/onnx/operators/onnx__ReduceMax.html"""
from ..kernel import ast as k
from . import _reduce


def _step(acc, x, _):
    return k.lor(acc, x) if acc.dtype == "bool" else k.maximum(acc, x)


def lower(ctx, node, ins, outs):
    return _reduce.lower(ctx, node, ins, outs, [(_reduce.first, _step)], lambda accs, n: accs[0])
