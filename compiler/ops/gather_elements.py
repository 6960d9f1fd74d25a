"""GatherElements: https://onnx.ai/onnx/operators/onnx__GatherElements.html

out[..., j, ...] = data[..., indices[..., j, ...], ...] along one row axis, data and indices
both of the batch (the output has the indices' shape). Negative indices count from the end;
indices out of range, which ONNX Runtime rejects, are clamped so that generated code never
reads outside the row.
"""
from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _reduce, _strided


def lower(ctx, node, ins, outs):
    data, idx = ins
    out = outs[0]
    if not (data.batched and idx.batched) or len(data.shape) != len(idx.shape):
        raise UnsupportedError(f"GatherElements node {node.name!r}: supported are data and indices of the batch "
                               "of one rank")
    axis = _reduce.row_axes(node, data, [int(node.attrs.get("axis", 0))], "GatherElements")[0]
    n = data.shape[axis]
    dstr, istr = _strided.strides_of(data.shape), _strided.strides_of(idx.shape)
    # walk the indices (and the output, of their shape) and, off the axis, the data
    dims = [(d, (istr[a], 0 if a == axis else dstr[a])) for a, d in enumerate(idx.shape)]
    pos = ctx.var("pos", "idx")
    zero, last = k.Const(0, "idx"), k.Const(n - 1, "idx")

    def element(r, io, do):
        raw = k.as_idx(idx.at(r, io))
        wrapped = k.Select(raw < 0, raw + n, raw)
        return [k.Let(pos, k.minimum(k.maximum(wrapped, zero), last)),
                out.put(r, io, data.at(r, _strided.offset(do, pos, dstr[axis])))]

    return [ctx.rows(lambda r: _strided.nest(ctx, dims, lambda offs: element(r, *offs), (0, 0)))]
