"""OneHotEncoder: https://onnx.ai/onnx/operators/onnx_aionnxml_OneHotEncoder.html

Each input element becomes one row of len(cats) floats with a 1 at its category's position.
As ONNX Runtime (onehotencoder.cc): numbers are truncated to int64 before the lookup, and when a
category is listed twice its last position wins. ONNX Runtime fails on an unknown category when
zeros = 0; generated code cannot fail, so it writes all zeros then too.
"""
import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k

INT64_BOUND = 9.2e18  # beyond it a float does not convert to int64


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    a = node.attrs
    strings = list(a.get("cats_strings") or [])
    ints = [int(v) for v in a.get("cats_int64s") or []]
    if bool(strings) == bool(ints):
        raise UnsupportedError("OneHotEncoder needs exactly one of cats_strings and cats_int64s")
    cats = strings or ints
    if (x.dtype == "str") != bool(strings):
        raise UnsupportedError(f"OneHotEncoder on {x.dtype} input with "
                               f"{'cats_strings' if strings else 'cats_int64s'} is not supported")
    n = len(cats)
    last = {c: i for i, c in enumerate(cats)}
    live = [last[c] == i for i, c in enumerate(cats)]
    table = ctx.table("cats", np.asarray(cats, dtype=object if strings else np.int64), "str" if strings else "i64")
    live_t = ctx.table("live", live, "bool") if not all(live) else None
    v = ctx.var("v", "str" if strings else "i64")
    ok = ctx.var("ok", "bool")

    def element(r, e):
        xe = x.at(r, e)
        if strings or x.dtype in ("i64", "i32"):
            head = [k.Let(v, xe if xe.dtype == v.dtype else k.Cast(xe, "i64")), k.Let(ok, k.Const(True, "bool"))]
        else:
            inside = k.land(xe >= k.Const(-INT64_BOUND, xe.dtype), xe <= k.Const(INT64_BOUND, xe.dtype))
            head = [k.Let(ok, inside), k.Let(v, k.Select(ok, k.Cast(xe, "i64"), k.Const(0, "i64")))]

        def cat(j):
            hit = k.land(ok, k.eq(v, table[j]))
            if live_t is not None:
                hit = k.land(hit, live_t[j])
            return out.put(r, e * n + j, k.Select(hit, k.Const(1.0, out.dtype), k.Const(0.0, out.dtype)))
        return head + [ctx.loop(n, cat, "c")]
    return [ctx.rows(lambda r: [ctx.loop(x.size, lambda e: element(r, e), "e")])]
