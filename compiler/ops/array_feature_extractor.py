"""ArrayFeatureExtractor: https://onnx.ai/onnx/operators/onnx_aionnxml_ArrayFeatureExtractor.html

Selects elements of the last axis by constant indices, for every row and every leading position.
"""
import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k


def lower(ctx, node, ins, outs):
    x, idx, out = ins[0], ins[1], outs[0]
    if idx.batched or idx.value is None:
        raise UnsupportedError("ArrayFeatureExtractor with indices computed from the input is not supported")
    if not x.shape:
        raise UnsupportedError("ArrayFeatureExtractor on a one-dimensional input (across rows) is not supported")
    indices = np.asarray(idx.value, np.int64).reshape(-1)
    stride = x.shape[-1]
    if indices.size == 0 or np.any(indices < 0) or np.any(indices >= stride):
        raise UnsupportedError(f"ArrayFeatureExtractor indices must lie in [0, {stride})")
    n = indices.size
    outer = x.size // stride
    table = ctx.table("idx", indices, "i32")
    return [ctx.rows(lambda r: [ctx.loop(outer, lambda o: [ctx.loop(n, lambda j: out.put(
        r, o * n + j, x.at(r, o * stride + k.Cast(table[j], "idx"))))])])]
