"""OneHotEncoder: https://onnx.ai/onnx/operators/onnx_aionnxml_OneHotEncoder.html

Each input element becomes len(cats) floats with a 1 at its category's position (output shape:
the input's plus one axis). As ONNX Runtime (onehotencoder.cc): numbers are truncated to int64
before the lookup, and a category listed twice counts at its last position. ONNX Runtime fails
on an unknown category when zeros = 0; a compiled graph cannot fail, so it writes zeros then too.
Only numeric categories: string inputs never reach the TVM targets.
"""
from __future__ import annotations

import numpy as np

from ._builder import F32, I64, Builder, attributes
from ...errors import UnsupportedError

OP = "OneHotEncoder"
INT64_BOUND = 9.2e18  # beyond it a float has no int64 value (the conversion would be undefined)


def lower(b: Builder, node, ins, strategy: str) -> None:
    x = ins[0]
    a = attributes(node)
    cats = [int(v) for v in a.get("cats_int64s") or []]
    if not cats or a.get("cats_strings") or x.dtype == np.object_ or x.classes is not None:
        raise UnsupportedError(f"{OP} over strings is not supported by the TVM targets yet (numeric categories "
                               "are); use the cpp or java targets")
    last = {c: i for i, c in enumerate(cats)}
    live = np.array([last[c] == i for i, c in enumerate(cats)])
    if x.dtype.kind == "f":
        inside = b.op("And", b.op("GreaterOrEqual", x.name, b.const(np.asarray(-INT64_BOUND, x.dtype))),
                      b.op("LessOrEqual", x.name, b.const(np.asarray(INT64_BOUND, x.dtype))))  # NaN: outside
        v = b.cast(b.where(inside, x.name, b.const(np.asarray(0, x.dtype))), I64)
    else:
        inside, v = None, (x.name if x.dtype == np.int64 else b.cast(x.name, I64))
    hit = b.op("Equal", b.unsqueeze(v, [-1]), b.const(np.asarray(cats, np.int64), hint="categories"))
    if not live.all():
        hit = b.op("And", hit, b.const(live))
    if inside is not None:
        hit = b.op("And", hit, b.unsqueeze(inside, [-1]))
    b.cast(hit, F32, out=node.output[0])
