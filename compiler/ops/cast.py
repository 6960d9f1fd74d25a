"""Cast: https://onnx.ai/onnx/operators/onnx__Cast.html"""
from . import _broadcast
from ..errors import UnsupportedError
from ..kernel import ast as k


def lower(ctx, node, ins, outs):
    src, dst = ins[0].dtype, outs[0].dtype
    if "str" in (src, dst) and src != dst:
        raise UnsupportedError(f"Cast between {src} and {dst} is not supported")
    return _broadcast.unary(ctx, ins, outs, lambda x: x if src == dst else k.Cast(x, dst))
