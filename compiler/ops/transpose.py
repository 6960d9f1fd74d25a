"""Transpose: https://onnx.ai/onnx/operators/onnx__Transpose.html

Of batched values only, with permutations that keep the batch axis first (constants are
folded at compile time). The output is written in order, the input read with strides.
"""
from ..errors import UnsupportedError
from . import _strided


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    rank = 1 + len(x.shape)
    perm = [int(p) for p in node.attrs.get("perm", range(rank - 1, -1, -1))]
    if not perm or perm[0] != 0:
        raise UnsupportedError(f"Transpose node {node.name!r} with perm {perm} moves the batch axis: only "
                               "permutations that keep axis 0 first are supported")
    ist, ost = _strided.strides_of(x.shape), _strided.strides_of(out.shape)
    dims = [(x.shape[p - 1], (ist[p - 1], ost[d])) for d, p in enumerate(perm[1:])]
    return [ctx.rows(lambda r: _strided.nest(
        ctx, dims, lambda offs: [out.put(r, offs[1], x.at(r, offs[0]))], (0, 0)))]
