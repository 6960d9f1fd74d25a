"""LabelEncoder: https://onnx.ai/onnx/operators/onnx_aionnxml_LabelEncoder.html

Each input element is looked up among the keys (strings, int64s, floats, or from ai.onnx.ml 4
typed tensors); a match gives the value at the key's position, no match the default. As ONNX
Runtime (label_encoder.h): a key listed twice maps to its first value; from ai.onnx.ml 4 a NaN
key matches NaN inputs (before, NaN matched nothing). Keys that are small non-negative
integers are looked up in a dense table; others by a scan.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k

OP = "LabelEncoder"
DENSE_LIMIT = 1 << 16  # integer keys in [0, DENSE_LIMIT): a direct table
KINDS = (("strings", "str"), ("int64s", "i64"), ("floats", "f32"))
DEFAULTS = {"str": ("default_string", "_Unused"), "i64": ("default_int64", -1), "f32": ("default_float", -0.0),
            "f64": ("default_float", -0.0)}


def entries(attrs: dict, what: str) -> tuple:
    """(values as a list, kernel dtype) of keys_* or values_* (or their *_tensor form)."""
    tensor = attrs.get(f"{what}_tensor")
    if tensor is not None:
        arr = np.asarray(tensor).reshape(-1)
        if arr.dtype.kind in "OUS":
            return [v.decode() if isinstance(v, bytes) else str(v) for v in arr], "str"
        dtype = {"i": "i64", "u": "i64", "f": "f64" if arr.dtype == np.float64 else "f32"}[arr.dtype.kind]
        return arr.tolist(), dtype
    for suffix, dtype in KINDS:
        vals = attrs.get(f"{what}_{suffix}")
        if vals is not None and len(vals):
            if dtype == "str":
                return [v.decode() if isinstance(v, bytes) else str(v) for v in vals], dtype
            return list(vals), dtype
    raise UnsupportedError(f"{OP}: no {what}")


def default(attrs: dict, dtype: str):
    tensor = attrs.get("default_tensor")
    if tensor is not None:
        v = np.asarray(tensor).reshape(-1)[0]
        return v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v
    name, fallback = DEFAULTS[dtype]
    v = attrs.get(name, fallback)
    return v.decode() if isinstance(v, bytes) else v


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    a = node.attrs
    keys, key_t = entries(a, "keys")
    values, value_t = entries(a, "values")
    if len(keys) != len(values):
        raise UnsupportedError(f"{OP}: {len(keys)} keys but {len(values)} values")
    if (key_t == "str") != (x.dtype == "str"):
        raise UnsupportedError(f"{OP}: {key_t} keys on a {x.dtype} input are not supported")
    if (value_t == "str") != (out.dtype == "str"):
        raise UnsupportedError(f"{OP}: {value_t} values for a {out.dtype} output are not supported")
    # The first of duplicate keys counts.
    first = {}
    for i, key in enumerate(keys):
        if not (isinstance(key, float) and key != key):
            first.setdefault(key, i)
    nan_at = next((i for i, key in enumerate(keys) if isinstance(key, float) and key != key), None)
    if ctx.opset("ai.onnx.ml") < 4:
        nan_at = None
    order = sorted(first.values()) + ([nan_at] if nan_at is not None else [])
    ints = key_t == "i64" and all(0 <= keys[i] < DENSE_LIMIT for i in order) and x.dtype in ("i64", "i32")
    if ints:
        return _dense(ctx, x, out, {keys[i]: values[i] for i in order}, default(a, out.dtype))
    fallback = ctx.table("default", [default(a, out.dtype)], out.dtype)[k.Const(0, "idx")]
    key_tab = ctx.table("keys", [keys[i] for i in order], x.dtype if key_t != "str" else "str")
    val_tab = ctx.table("values", [values[i] for i in order], out.dtype)
    n = len(order) - (nan_at is not None)
    res = ctx.var("v", out.dtype)

    def element(r, e):
        xe = x.at(r, e)
        # Scan from the last key to the first, so that the first match is the one kept.
        stmts = [k.Let(res, fallback),
                 ctx.loop(n, lambda j: k.Assign(res, k.Select(k.eq(xe, key_tab[k.Const(n - 1, "idx") - j]),
                                                             val_tab[k.Const(n - 1, "idx") - j], res)), "j")]
        if nan_at is not None:
            stmts.append(k.Assign(res, k.Select(k.call("isnan", xe), val_tab[k.Const(n, "idx")], res)))
        return stmts + [out.put(r, e, res)]
    return [ctx.rows(lambda r: [ctx.loop(x.size, lambda e: element(r, e), "e")])]


def _dense(ctx, x, out, mapping: dict, default_value):
    """Small non-negative integer keys: value = table[key] where the key is listed."""
    size = max(mapping) + 1
    vals = [default_value] * (size + 1)  # the last: the default, for keys outside the table
    for key, v in mapping.items():
        vals[key] = v
    table = ctx.table("values", vals, out.dtype)
    v = ctx.var("key", "i64")

    def element(r, e):
        inside = k.land(v >= k.Const(0, "i64"), v < k.Const(size, "i64"))
        pos = k.Select(inside, v, k.Const(0, "i64"))
        return [k.Let(v, k.Cast(x.at(r, e), "i64") if x.dtype != "i64" else x.at(r, e)),
                out.put(r, e, k.Select(inside, table[k.Cast(pos, "idx")], table[k.Const(size, "idx")]))]
    return [ctx.rows(lambda r: [ctx.loop(x.size, lambda e: element(r, e), "e")])]
