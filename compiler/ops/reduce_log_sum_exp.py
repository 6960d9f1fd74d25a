"""ReduceLogSumExp: https://onnx.ai/onnx/operators/onnx__ReduceLogSumExp.html

Computed as ONNX Runtime does, stably: m + log(sum(exp(x - m))) with m the finite maximum
(0 when the maximum is infinite).
"""
from ..kernel import ast as k
from . import _reduce


def _shift(m):
    return k.Select(k.call("isinf", m), k.Const(0, m.dtype), m)


def lower(ctx, node, ins, outs):
    passes = [(_reduce.first, lambda acc, x, _: k.maximum(acc, x)),
              (_reduce.zero, lambda acc, x, done: acc + k.call("exp", x - _shift(done[0])))]
    return _reduce.lower(ctx, node, ins, outs, passes,
                         lambda accs, n: k.call("log", accs[1]) + _shift(accs[0]))
