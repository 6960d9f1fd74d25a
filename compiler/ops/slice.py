"""Slice: https://onnx.ai/onnx/operators/onnx__Slice.html

Starts, ends, axes and steps are constants: inputs since opset 10, attributes before.
The batch axis may only be 'sliced' whole.
"""
import numpy as np

from ..errors import UnsupportedError
from . import _strided


def _param(node, ins, i, name):
    if len(ins) > i and ins[i] is not None:
        if ins[i].value is None:
            raise UnsupportedError(f"Slice node {node.name!r}: {name} must be a constant")
        return [int(v) for v in np.asarray(ins[i].value).reshape(-1)]
    return [int(v) for v in node.attrs[name]] if name in node.attrs else None


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    rank = 1 + len(x.shape)
    starts, ends = _param(node, ins, 1, "starts"), _param(node, ins, 2, "ends")
    axes = _param(node, ins, 3, "axes") or list(range(len(starts)))
    steps = _param(node, ins, 4, "steps") or [1] * len(starts)
    begin, step = [0] * len(x.shape), [1] * len(x.shape)
    for s, e, a, st in zip(starts, ends, axes, steps):
        a %= rank
        if a == 0:
            if s == 0 and st == 1 and e >= 2**31 - 1:
                continue  # the whole batch
            raise UnsupportedError(f"Slice node {node.name!r} slices the batch axis: not supported")
        if st == 0:
            raise UnsupportedError(f"Slice node {node.name!r}: step 0 is not valid")
        # Python's slice clamps starts and ends exactly as the ONNX spec does.
        begin[a - 1], _, step[a - 1] = slice(s, e, st).indices(x.shape[a - 1])
    ist, ost = _strided.strides_of(x.shape), _strided.strides_of(out.shape)
    base = sum(b * s for b, s in zip(begin, ist))
    dims = [(n, (st * s, o)) for n, st, s, o in zip(out.shape, step, ist, ost)]
    return [ctx.rows(lambda r: _strided.nest(
        ctx, dims, lambda offs: [out.put(r, offs[1], x.at(r, offs[0]))], (base, 0)))]
