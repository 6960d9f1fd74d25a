"""LabelEncoder (numeric keys and values): https://onnx.ai/onnx/operators/onnx_aionnxml_LabelEncoder.html

Each element is looked up among the keys; a match gives the value at the key's position, no
match the default. Keys listed twice: the first counts (ONNX Runtime's map keeps the first).
From ai.onnx.ml 4 on a NaN key matches NaN inputs (before, NaN matched nothing).
"""
from __future__ import annotations

import numpy as np

from ._builder import F32, Builder, attributes
from ...errors import UnsupportedError
from ...ops.label_encoder import default, entries

OP = "LabelEncoder"
NUMPY = {"i64": np.int64, "f32": np.float32, "f64": np.float64}


def _table(a: dict, what: str):
    """(numpy values, dtype) of keys_* / values_* (or the *_tensor form); (None, "strings") for strings."""
    values, kind = entries(a, what)
    if kind == "str":
        return None, "strings"
    return np.asarray(values, NUMPY[kind]), np.dtype(NUMPY[kind])


def _default(a: dict, dtype):
    return np.asarray(default(a, "f64" if np.dtype(dtype).kind == "f" else "i64"), dtype)


def lower(b: Builder, node, ins, strategy: str) -> None:
    x = ins[0]
    a = attributes(node)
    keys, key_kind = _table(a, "keys")
    values, value_kind = _table(a, "values")
    if keys is None or values is None or x.dtype == np.object_ or x.classes is not None:
        raise UnsupportedError(f"{OP} over strings is not supported by the TVM targets yet (numeric keys and "
                               "values are); use the cpp, java or onnx targets")
    if len(keys) != len(values):
        raise UnsupportedError(f"{OP}: {len(keys)} keys but {len(values)} values")
    keys = keys.astype(x.dtype)
    eq = b.op("Equal", b.unsqueeze(x.name, [-1]), b.const(keys, hint="keys"))  # [..., K]
    if keys.dtype.kind == "f" and np.isnan(keys).any() and b.ml_opset >= 4:
        eq = b.op("Or", eq, b.op("And", b.unsqueeze(b.op("IsNaN", x.name), [-1]), b.const(np.isnan(keys))))
    hits = b.cast(eq, F32)
    first = b.op("ArgMax", hits, axis=-1, keepdims=0, select_last_index=0)
    found = b.op("Greater", b.reduce("ReduceMax", hits, [-1], keepdims=0), b.const(np.float32(0.5)))
    picked = b.op("Gather", b.const(values, hint="values"), first, axis=0)
    b.op("Where", found, picked, b.const(_default(a, values.dtype)), out=node.output[0])
