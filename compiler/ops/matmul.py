"""MatMul: https://onnx.ai/onnx/operators/onnx__MatMul.html"""
from . import _matmul


def lower(ctx, node, ins, outs):
    return _matmul.matmul(ctx, node, ins[0], ins[1], outs[0])
