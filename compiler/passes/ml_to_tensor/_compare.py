"""The split test of a tree node, as ONNX Runtime makes it: one float comparison of the input
with the node's threshold (see _forest for how every branch mode becomes LE, LT or EQ)."""
from __future__ import annotations

import numpy as np

from ._builder import Builder
from ._forest import EQ, LE, LT

OPS = {LE: "LessOrEqual", LT: "Less", EQ: "Equal"}


def compare(b: Builder, x: str, threshold: str, kinds: set, kind: str | None, nan_left: str | None) -> str:
    """bool: whether each value of `x` goes left at its node. `kinds`: the comparisons the
    forest uses; `kind` (int64, shaped like x) picks one per node when it uses several;
    `nan_left` (bool) sends NaN left where set (None: NaN goes right everywhere)."""
    kinds = sorted(kinds) or [LE]
    if len(kinds) == 1:
        cond = b.op(OPS[kinds[0]], x, threshold)
    else:  # each node's own test: OR over kinds of (node has kind k AND test k) (Where has no bool form)
        picked = [b.op("And", b.op("Equal", kind, b.const(np.int64(k))), b.op(OPS[k], x, threshold)) for k in kinds]
        cond = picked[0]
        for p in picked[1:]:
            cond = b.op("Or", cond, p)
    if nan_left is not None:
        cond = b.op("Or", cond, b.op("And", b.op("IsNaN", x), nan_left))
    return cond
