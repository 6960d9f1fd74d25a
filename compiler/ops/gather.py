"""Gather: https://onnx.ai/onnx/operators/onnx__Gather.html

Two forms keep the batch first: batched data with constant indices (axis >= 1), and
constant data (a lookup table) with batched indices (axis 0). Batched indices out of
range, which ONNX Runtime rejects, are clamped so that generated code never reads
outside the table.
"""
import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _strided


def _constant_indices(ctx, node, x, idx, out, axis):
    if axis == 0:
        raise UnsupportedError(f"Gather node {node.name!r}: gathering along the batch axis is not supported")
    n = x.shape[axis - 1]
    positions = np.asarray(idx.value, dtype=np.int64).reshape(-1)
    if positions.size and (positions.min() < -n or positions.max() >= n):
        raise UnsupportedError(f"Gather node {node.name!r}: an index is out of range for axis size {n}")
    positions = np.where(positions < 0, positions + n, positions)
    outer = _strided.size(x.shape[:axis - 1])
    inner = _strided.size(x.shape[axis:])
    table = ctx.table("at", positions * inner, "i32")
    j_count = positions.size
    # out[o, j, i] = x[o, idx[j], i]
    return [ctx.rows(lambda r: [ctx.loop(outer, lambda o: [ctx.loop(j_count, lambda j: [ctx.loop(
        inner, lambda i: out.put(
            r, _strided.offset(_strided.offset(_strided.offset(0, o, j_count * inner), j, inner), i, 1),
            x.at(r, _strided.offset(_strided.offset(k.as_idx(table[j]), o, n * inner), i, 1))), "i")],
        "j")], "o")])]


def _batched_indices(ctx, node, data, idx, out, axis):
    if axis != 0:
        raise UnsupportedError(f"Gather node {node.name!r}: batched indices into a constant are supported "
                               "along axis 0 only")
    values = np.asarray(data.value)
    n = values.shape[0]
    inner = _strided.size(values.shape[1:])
    table = ctx.table("data", values, data.dtype)
    pos = ctx.var("pos", "idx")
    zero, last = k.Const(0, "idx"), k.Const(n - 1, "idx")

    def per_index(r, j):
        raw = k.as_idx(idx.at(r, j))
        wrapped = k.Select(raw < 0, raw + n, raw)
        return [k.Let(pos, k.minimum(k.maximum(wrapped, zero), last)),
                ctx.loop(inner, lambda i: out.put(r, _strided.offset(_strided.offset(0, j, inner), i, 1),
                                                  table[_strided.offset(_strided.offset(0, pos, inner), i, 1)]),
                         "i")]
    return [ctx.rows(lambda r: [ctx.loop(idx.size, lambda j: per_index(r, j), "j")])]


def lower(ctx, node, ins, outs):
    data, idx = ins
    rank = len(data.shape) + (1 if data.batched else 0)
    axis = int(node.attrs.get("axis", 0)) % rank
    if data.batched and idx.value is not None:
        return _constant_indices(ctx, node, data, idx, outs[0], axis)
    if not data.batched and idx.batched:
        return _batched_indices(ctx, node, data, idx, outs[0], axis)
    raise UnsupportedError(f"Gather node {node.name!r}: batched data with batched indices is not supported")
