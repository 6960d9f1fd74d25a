"""Nested loops over strided index spaces, shared by the ops that move or reduce data.

A loop nest is a list of dims `(size, strides)`: `strides` holds one stride per buffer
walked together (input, output, ...). Loops carry offsets, so no element index is ever
recovered with a division or a modulo.
"""
from __future__ import annotations

import numpy as np

from ..kernel import ast as k


def strides_of(shape) -> list:
    out, acc = [], 1
    for d in reversed(tuple(shape)):
        out.append(acc)
        acc *= int(d)
    return list(reversed(out))


def offset(base, var, stride):
    """base + var * stride, folding constants."""
    return k.idx_add(k.as_idx(base), k.idx_mul(k.as_idx(var), stride))


def merge(dims) -> list:
    """Drop size-1 dims and fuse neighbours that walk every buffer contiguously together."""
    out = []
    for size, strides in dims:
        size, strides = int(size), tuple(int(s) for s in strides)
        if size == 1:
            continue
        if out:
            psize, pstrides = out[-1]
            if all(ps == s * size for ps, s in zip(pstrides, strides)):
                out[-1] = (psize * size, strides)
                continue
        out.append((size, strides))
    return out


def nest(ctx, dims, body, bases, hint="j") -> list:
    """Loops over `dims` (merged first); body(offsets) -> statements, offsets from `bases`."""
    dims = merge(dims)
    bases = tuple(k.as_idx(b) for b in bases)

    def build(level, offs):
        if level == len(dims):
            return body(offs)
        size, strides = dims[level]
        return [ctx.loop(size, lambda v: build(level + 1, tuple(
            offset(o, v, s) for o, s in zip(offs, strides))), hint)]
    return build(0, bases)


def split_axes(shape, axes):
    """(kept, reduced) dims of a row shape: kept as (size, (in_stride, out_stride)),
    reduced as (size, (in_stride,)); the output keeps the kept dims in order."""
    ist = strides_of(shape)
    kept_sizes = [d for a, d in enumerate(shape) if a not in axes]
    ost = iter(strides_of(kept_sizes))
    kept, reduced = [], []
    for a, d in enumerate(shape):
        if a in axes:
            reduced.append((d, (ist[a],)))
        else:
            kept.append((d, (ist[a], next(ost))))
    return kept, reduced


def size(shape) -> int:
    return int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
