"""Elementwise unary ops: out[r, i] = fn(x[r, i])."""
from ..errors import UnsupportedError
from ..kernel import ast as k


def lower(ctx, node, ins, outs, fn, floats_only=True):
    x, out = ins[0], outs[0]
    if floats_only and x.dtype not in k.FLOATS:
        raise UnsupportedError(f"{node.op_type} node {node.name!r}: input type {x.dtype} is not supported "
                               "(float and double are)")
    return [ctx.elementwise(out, lambda r, i: fn(x.at(r, i)))]


def math(ctx, node, ins, outs, name):
    """A function of the kernel's math table (exp, log, sqrt, tanh, ...)."""
    return lower(ctx, node, ins, outs, lambda x: k.call(name, x))
