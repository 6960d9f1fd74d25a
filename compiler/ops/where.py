"""Where: https://onnx.ai/onnx/operators/onnx__Where.html"""
from ..kernel import ast as k
from . import _broadcast


def lower(ctx, node, ins, outs):
    cond, a, b = (_broadcast.loader(v, outs[0]) for v in ins)
    return [ctx.elementwise(outs[0], lambda r, i: k.Select(cond(r, i), a(r, i), b(r, i)))]
