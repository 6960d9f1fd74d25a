"""Normalizer: https://onnx.ai/onnx/operators/onnx_aionnxml_Normalizer.html

As ONNX Runtime (normalizer.cc), per row: MAX divides by the largest value (not the largest
magnitude), L1 by the sum of magnitudes, L2 gives sign(x) * sqrt(x^2 / sum of squares); a row
whose divisor is 0 is copied unchanged.
"""
from ..errors import UnsupportedError
from ..kernel import ast as k

NORMS = ("MAX", "L1", "L2")


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    norm = node.attrs.get("norm", "MAX")
    if norm not in NORMS:
        raise UnsupportedError(f"Normalizer norm {norm} is not supported ({', '.join(NORMS)})")
    n = x.size
    f = lambda v: k.Const(float(v), "f64")  # noqa: E731
    d = ctx.var("d", "f64")
    xv = lambda r, i: k.Cast(x.at(r, i), "f64")  # noqa: E731

    def row(r):
        if norm == "MAX":
            start = f(-3.4028234663852886e38)  # std::numeric_limits<float>::lowest()
            reduce = lambda i: k.Assign(d, k.maximum(d, xv(r, i)))  # noqa: E731
            value = lambda i: xv(r, i) / d  # noqa: E731
        elif norm == "L1":
            start = f(0.0)
            reduce = lambda i: k.Assign(d, d + k.call("abs", xv(r, i)))  # noqa: E731
            value = lambda i: xv(r, i) / d  # noqa: E731
        else:
            start = f(0.0)
            reduce = lambda i: k.Assign(d, d + xv(r, i) * xv(r, i))  # noqa: E731

            def value(i):
                mag = k.call("sqrt", xv(r, i) * xv(r, i) / d)
                return k.Select(xv(r, i) < f(0.0), -mag, mag)
        return [
            k.Let(d, start),
            ctx.loop(n, reduce),
            k.If(k.ne(d, f(0.0)),
                 [ctx.loop(n, lambda i: out.put(r, i, k.Cast(value(i), out.dtype)))],
                 [ctx.loop(n, lambda i: out.put(r, i, k.Cast(xv(r, i), out.dtype)))]),
        ]
    return [ctx.rows(row)]
