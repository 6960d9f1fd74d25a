"""LinearClassifier: https://onnx.ai/onnx/operators/onnx_aionnxml_LinearClassifier.html

As ONNX Runtime (linearclassifier.cc): one score per intercept. With a single score (two class
labels) the label is the second class when the score is above 0 and the scores are [1 - s, s],
s after LOGISTIC if that is the post-transform (the others leave a single score as it is);
with several scores the label is the first class with the highest raw score and the
post-transform applies to all of them.
"""
import numpy as np

from . import _dot, _scores
from ..errors import UnsupportedError
from ..kernel import ast as k


def lower(ctx, node, ins, outs):
    x, (yl, z) = ins[0], outs
    a = node.attrs
    labels = _scores.Labels(ctx, "LinearClassifier", a, "classlabels_ints", "classlabels_strings", yl)
    post = _scores.post_transform("LinearClassifier", a)
    intercepts = list(a.get("intercepts") or [])
    T = len(intercepts)
    nf = x.size
    coef = np.asarray(a["coefficients"], np.float32)
    if T == 0 or coef.size != T * nf:
        raise UnsupportedError(f"LinearClassifier: {coef.size} coefficients for {T} intercepts and {nf} features")
    if T > 1 and labels.n < T:
        raise UnsupportedError(f"LinearClassifier: {T} scores but only {labels.n} class labels")
    if T == 1 and labels.n != 2:
        raise UnsupportedError("LinearClassifier with one score needs exactly two class labels")
    if T == 1 and post == "PROBIT":
        raise UnsupportedError("LinearClassifier with one score and PROBIT is not supported")
    coef_t = ctx.table("coef", coef.reshape(T, nf), "f32")
    bias = ctx.table("bias", np.asarray(intercepts, np.float32), "f32")
    sc = ctx.scratch_buf("sc", "f64", T)
    s = ctx.var("s", "f64")
    f = _scores.f64

    def row(r):
        b = r * T
        stmts = [ctx.loop(T, lambda t: [
            k.Let(s, k.Cast(bias[t], "f64")),
            *_dot.accumulate(ctx, s, nf, lambda i: k.Cast(x.at(r, i), "f64") * k.Cast(coef_t[t * nf + i], "f64")),
            k.Store(sc, b + t, s),
        ], "t")]
        if T == 1:
            stmts.append(yl.put(r, 0, k.Select(sc[b] > f(0.0), labels.at(k.Const(1, "idx")),
                                               labels.at(k.Const(0, "idx")))))
            v = sc[b]
            if post == "LOGISTIC":
                pre, v = _scores.logistic(ctx, sc[b])
                stmts += pre
            return stmts + [z.put(r, 0, k.Cast(f(1.0) - v, z.dtype)), z.put(r, 1, k.Cast(v, z.dtype))]
        best, best_w = ctx.var("best", "idx"), ctx.var("bestw", "f64")
        stmts += _scores.first_max(ctx, T, lambda t: sc[b + t], best, best_w)
        stmts.append(yl.put(r, 0, labels.at(best)))
        stmts += _scores.transform(ctx, sc, b, T, post)
        stmts.append(ctx.loop(T, lambda t: z.put(r, t, k.Cast(sc[b + t], z.dtype)), "t"))
        return stmts
    return [ctx.rows(row)]

