"""modelport.libsvm:MulticlassProbability: libsvm's multiclass_probability in double.

An ONNX model-local function (its body, the unrolled iteration, is in
passes/ml_to_tensor/_svm_probability.py): input r [N, P], each one-vs-one pair's probability
of its first class in libsvm's pair order (0-1, 0-2, ..., 1-2, ...); output [N, C] class
probabilities, P = C (C - 1) / 2. Lowered here to libsvm's own loop, max(100, C) sweeps.
"""

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _svm


def lower(ctx, node, ins, outs):
    r_pairs, out = ins[0], outs[0]
    C = out.size
    P = r_pairs.size
    if P != C * (C - 1) // 2 or C < 2 or r_pairs.dtype != "f64" or out.dtype != "f64":
        raise UnsupportedError(f"MulticlassProbability node {node.name!r}: expected double [N, C(C-1)/2] pair "
                               f"probabilities and [N, C] classes, got {P} pairs for {C} classes")
    f = lambda v: k.Const(float(v), "f64")  # noqa: E731
    CC = C * C
    rr = ctx.scratch_buf("rpair", "f64", CC)
    pr = ctx.scratch_buf("prob", "f64", C)
    pairs = [(i, j) for i in range(C - 1) for j in range(i + 1, C)]
    pi = ctx.table("pi", [i for i, _ in pairs], "i32")
    pj = ctx.table("pj", [j for _, j in pairs], "i32")

    def row(r):
        rb = r * CC
        i, j, v = ctx.var("i", "idx"), ctx.var("j", "idx"), ctx.var("pv", "f64")
        stmts = [ctx.loop(CC, lambda e: k.Store(rr, rb + e, f(0.0)), "e"),
                 ctx.loop(P, lambda p: [
                     k.Let(i, k.Cast(pi[p], "idx")), k.Let(j, k.Cast(pj[p], "idx")), k.Let(v, r_pairs.at(r, p)),
                     k.Store(rr, rb + i * C + j, v), k.Store(rr, rb + j * C + i, f(1.0) - v)], "p")]
        stmts += _svm.multiclass_probability(ctx, r, rr, pr, C, max(100, C))
        return stmts + [ctx.loop(C, lambda c: out.put(r, c, pr[r * C + c]), "c")]
    return [ctx.rows(row)]
