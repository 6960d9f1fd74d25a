"""Pow: https://onnx.ai/onnx/operators/onnx__Pow.html

A constant integer exponent becomes multiplications (x*x is exact, as pow(x, 2) is), 0.5
a square root. Other float powers are exp(y * log|x|) in double with the sign rule for
negative bases; integer powers of integers are square-and-multiply.
"""
import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _broadcast


def _int_power(x, n: int):
    """x**n for a constant integer n, by repeated squaring."""
    result, base, m = None, x, abs(n)
    while m:
        if m & 1:
            result = base if result is None else result * base
        m >>= 1
        if m:
            base = base * base
    result = k.Const(1, x.dtype) if result is None else result
    return k.Const(1, x.dtype) / result if n < 0 else result


def _float_power(ctx, r, i, x, y, out):
    """Statements storing x**y (x, y as doubles) into out[r, i]."""
    mag = ctx.var("mag", "f64")
    integral = k.eq(k.call("floor", y), y)
    odd = k.ne(k.call("floor", y * 0.5) * 2.0, y)
    negative = k.Select(integral, k.Select(odd, -mag, mag), k.Const(float("nan"), "f64"))
    value = k.Select(x < 0.0, negative, mag)
    # x**0 is 1 and 1**y is 1, NaN included, as C's pow has it.
    value = k.Select(k.lor(k.eq(y, 0.0), k.eq(x, 1.0)), k.Const(1.0, "f64"), value)
    return [k.Let(mag, k.call("exp", y * k.call("log", k.call("abs", x)))),
            out.put(r, i, value if out.dtype == "f64" else k.Cast(value, out.dtype))]


def lower(ctx, node, ins, outs):
    x, y = ins
    out = outs[0]
    lx, ly = _broadcast.loader(x, out), _broadcast.loader(y, out)
    if y.value is not None and np.asarray(y.value).size == 1:
        e = float(np.asarray(y.value).reshape(-1)[0])
        if np.isfinite(e) and e == int(e) and abs(e) <= 64 and (e >= 0 or x.dtype in k.FLOATS):
            return [ctx.elementwise(out, lambda r, i: _int_power(lx(r, i), int(e)))]
        if e == 0.5 and x.dtype in k.FLOATS:
            return [ctx.elementwise(out, lambda r, i: k.call("sqrt", lx(r, i)))]
    if x.dtype in k.FLOATS or y.dtype in k.FLOATS:
        # Float power in double; an integer base's result is truncated, as ONNX Runtime does.
        def as_f64(e):
            return e if e.dtype == "f64" else k.Cast(e, "f64")
        return [ctx.rows(lambda r: [ctx.loop(out.size, lambda i: _float_power(
            ctx, r, i, as_f64(lx(r, i)), as_f64(ly(r, i)), out))])]
    if x.dtype not in k.INTEGERS or y.dtype not in k.INTEGERS:
        raise UnsupportedError(f"Pow node {node.name!r}: types {x.dtype} and {y.dtype} are not supported")
    # Integer base and exponent: square-and-multiply over at most 64 exponent bits; the
    # base is squared only while bits remain, so nothing overflows unless the result does.
    # A negative exponent: 1 / x**-y truncated, as ONNX Runtime computes it in double: 1 for
    # x = 1, +-1 for x = -1, 0 for other x but 0, where the infinity converts to the
    # type's minimum (x86).
    acc, b, e = ctx.var("p", x.dtype), ctx.var("b", x.dtype), ctx.var("e", y.dtype)
    one = k.Const(1, x.dtype)
    step = [k.If(k.eq(e % 2, k.Const(1, y.dtype)), [k.Assign(acc, acc * b)]),
            k.Assign(e, e / 2),
            k.If(e > 0, [k.Assign(b, b * b)])]
    odd = k.ne(e % 2, k.Const(0, y.dtype))
    bits = 64 if x.dtype == "i64" else 32
    lowest = k.Const(-2 ** (bits - 1) + 1, x.dtype) - one  # the minimum has no literal in C++
    negative = k.Select(k.eq(b, one), one, k.Select(k.eq(b, -one), k.Select(odd, -one, one), k.Select(
        k.eq(b, k.Const(0, x.dtype)), lowest, k.Const(0, x.dtype))))
    return [ctx.rows(lambda r: [ctx.loop(out.size, lambda i: [
        k.Let(acc, one), k.Let(b, lx(r, i)), k.Let(e, ly(r, i)),
        k.If(e < 0, [k.Assign(acc, negative)], [ctx.loop(64, lambda t: [k.If(e > 0, step)], "t")]),
        out.put(r, i, acc)])])]
