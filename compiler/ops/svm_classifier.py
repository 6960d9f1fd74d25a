"""SVMClassifier: https://onnx.ai/onnx/operators/onnx_aionnxml_SVMClassifier.html

As ONNX Runtime (svmclassifier.cc). With support vectors: one-vs-one decision values, one
vote per pair (to the first class of the pair when the value is above 0), the label is the
first class with the most votes; the scores are the pairwise values (for two classes
[-s, s], or [1 - s, s] with s after LOGISTIC if that is the post-transform), or with
prob_a/prob_b the Platt probabilities of each pair coupled into class probabilities by
libsvm's iterative method (multiclass_probability). Without support vectors (liblinear
mode): one linear score per class plus rho[0].
"""
import numpy as np

from . import _scores, _svm
from ..errors import UnsupportedError
from ..kernel import ast as k

OP = "SVMClassifier"


def lower(ctx, node, ins, outs):
    x, (yl, z) = ins[0], outs
    a = node.attrs
    labels = _scores.Labels(ctx, OP, a, "classlabels_ints", "classlabels_strings", yl)
    C = labels.n
    if C < 2:
        raise UnsupportedError(f"{OP} with fewer than two classes is not supported")
    post = _scores.post_transform(OP, a)
    coef = np.asarray(a["coefficients"], np.float32)
    rho = np.asarray(a["rho"], np.float32)
    per_class = [int(v) for v in a.get("vectors_per_class") or []]
    if sum(per_class) > 0:
        return _svc(ctx, x, yl, z, a, labels, C, post, coef, rho, per_class)
    return _linear(ctx, x, yl, z, labels, C, post, coef, rho, a)


def _linear(ctx, x, yl, z, labels, C, post, coef, rho, a):
    nf = x.size
    if coef.size != C * nf:
        raise UnsupportedError(f"{OP}: {coef.size} coefficients for {C} classes and {nf} features")
    coef_t = ctx.table("coef", coef, "f32")
    sc = ctx.scratch_buf("sc", "f64", C)
    s = ctx.var("s", "f64")
    f = _scores.f64
    have_proba = bool(a.get("prob_a"))
    all_positive = bool(np.all(coef >= 0))

    def row(r):
        b = r * C
        stmts = [ctx.loop(C, lambda c: [
            k.Let(s, f(rho[0])),
            ctx.loop(nf, lambda i: k.Assign(s, s + k.Cast(x.at(r, i), "f64") * k.Cast(coef_t[c * nf + i], "f64"))),
            k.Store(sc, b + c, s)], "c")]
        best, best_w = ctx.var("best", "idx"), ctx.var("bestw", "f64")
        stmts += _scores.first_max(ctx, C, lambda c: sc[b + c], best, best_w)
        label = labels.at(best)
        if C == 2 and not have_proba:
            cond = best_w >= f(0.5) if all_positive else best_w > f(0.0)
            label = k.Select(cond, labels.at(k.Const(1, "idx")), label)
        stmts.append(yl.put(r, 0, label))
        stmts += _scores.transform(ctx, sc, b, C, post)
        stmts.append(ctx.loop(C, lambda c: z.put(r, c, k.Cast(sc[b + c], z.dtype)), "c"))
        return stmts
    return [ctx.rows(row)]


def _svc(ctx, x, yl, z, a, labels, C, post, coef, rho, per_class):
    nf = x.size
    V = sum(per_class)
    if len(per_class) != C:
        raise UnsupportedError(f"{OP}: vectors_per_class has {len(per_class)} entries for {C} classes")
    sv = np.asarray(a.get("support_vectors") or [], np.float32)
    if sv.size != V * nf or coef.size < (C - 1) * V:
        raise UnsupportedError(f"{OP}: support_vectors/coefficients do not match {V} vectors of {nf} features")
    P = C * (C - 1) // 2
    if rho.size < P:
        raise UnsupportedError(f"{OP}: rho has {rho.size} values for {P} class pairs")
    kind, gamma, coef0, degree = _svm.params(OP, a)
    prob_a = np.asarray(a.get("prob_a") or [], np.float32)
    prob_b = np.asarray(a.get("prob_b") or [], np.float32)
    have_proba = prob_a.size > 0
    if have_proba and (prob_a.size < P or prob_b.size < P):
        raise UnsupportedError(f"{OP}: prob_a/prob_b need {P} values")
    starts = np.concatenate([[0], np.cumsum(per_class)[:-1]]).astype(np.int32)
    pairs = [(i, j) for i in range(C - 1) for j in range(i + 1, C)]
    sv_t = ctx.table("sv", sv, "f32")
    coef_t = ctx.table("coef", coef[:(C - 1) * V], "f32")
    rho_t = ctx.table("rho", rho[:P], "f32")
    pi = ctx.table("pi", [p[0] for p in pairs], "i32")
    pj = ctx.table("pj", [p[1] for p in pairs], "i32")
    start_t = ctx.table("start", starts, "i32")
    count_t = ctx.table("count", per_class, "i32")
    kb = ctx.scratch_buf("kern", "f64", V)
    ps = ctx.scratch_buf("pair", "f64", P)
    votes = ctx.scratch_buf("votes", "i32", C)
    f = _scores.f64
    s = ctx.var("s", "f64")

    def pair_score(r, p):
        i, j = ctx.var("i", "idx"), ctx.var("j", "idx")
        si, sj = ctx.var("si", "idx"), ctx.var("sj", "idx")
        kbase = r * V
        return [
            k.Let(i, k.Cast(pi[p], "idx")), k.Let(j, k.Cast(pj[p], "idx")),
            k.Let(si, k.Cast(start_t[i], "idx")), k.Let(sj, k.Cast(start_t[j], "idx")),
            k.Let(s, f(0.0)),
            # class i's vectors weigh with coefficient row j - 1, class j's with row i
            ctx.loop(k.Cast(count_t[i], "idx"), lambda m: k.Assign(
                s, s + k.Cast(coef_t[(j - 1) * V + si + m], "f64") * kb[kbase + si + m]), "m"),
            ctx.loop(k.Cast(count_t[j], "idx"), lambda m: k.Assign(
                s, s + k.Cast(coef_t[i * V + sj + m], "f64") * kb[kbase + sj + m]), "m"),
            k.Assign(s, s + k.Cast(rho_t[p], "f64")),
            k.Store(ps, r * P + p, s),
            k.If(s > f(0.0), [k.Store(votes, r * C + i, votes[r * C + i] + k.Const(1, "i32"))],
                 [k.Store(votes, r * C + j, votes[r * C + j] + k.Const(1, "i32"))]),
        ]

    def row(r):
        stmts = _svm.kernel_values(ctx, x, r, sv_t, V, nf, kind, gamma, coef0, degree, kb, r * V)
        stmts.append(ctx.loop(C, lambda c: k.Store(votes, r * C + c, k.Const(0, "i32")), "c"))
        stmts.append(ctx.loop(P, lambda p: pair_score(r, p), "p"))
        best, best_v = ctx.var("best", "idx"), ctx.var("bestv", "i32")
        stmts += [k.Let(best, k.Const(0, "idx")), k.Let(best_v, votes[r * C]),
                  ctx.loop(C, lambda c: k.If(votes[r * C + c] > best_v,
                                             [k.Assign(best, c), k.Assign(best_v, votes[r * C + c])]), "c")]
        stmts.append(yl.put(r, 0, labels.at(best)))
        if have_proba:
            return stmts + _probabilities(ctx, r, ps, P, C, pairs, prob_a, prob_b, post, z)
        b = r * P
        if C > 2:
            stmts += _scores.transform(ctx, ps, b, P, post)
            return stmts + [ctx.loop(P, lambda p: z.put(r, p, k.Cast(ps[b + p], z.dtype)), "p")]
        v = ps[b]
        if post == "PROBIT":
            pre, e = _scores.probit(ctx, v)
            return stmts + pre + [z.put(r, 0, k.Cast(e, z.dtype)), z.put(r, 1, k.Cast(f(0.0), z.dtype))]
        if post == "NONE":
            return stmts + [z.put(r, 0, k.Cast(-v, z.dtype)), z.put(r, 1, k.Cast(v, z.dtype))]
        if post == "LOGISTIC":
            pre, v = _scores.logistic(ctx, v)
            stmts += pre
        return stmts + [z.put(r, 0, k.Cast(f(1.0) - v, z.dtype)), z.put(r, 1, k.Cast(v, z.dtype))]
    return [ctx.rows(row)]


def _probabilities(ctx, r, ps, P, C, pairs, prob_a, prob_b, post, z):
    """Platt-scaled pairwise probabilities coupled as ONNX Runtime's multiclass_probability."""
    f = _scores.f64
    pa = ctx.table("proba", prob_a[:P], "f32")
    pb = ctx.table("probb", prob_b[:P], "f32")
    pi = ctx.table("pi", [p[0] for p in pairs], "i32")
    pj = ctx.table("pj", [p[1] for p in pairs], "i32")
    CC = C * C
    rr = ctx.scratch_buf("rpair", "f64", CC)
    pr = ctx.scratch_buf("prob", "f64", C)
    rb, cb = r * CC, r * C
    stmts = [ctx.loop(CC, lambda i: k.Store(rr, rb + i, f(0.0)), "i")]

    def pair(p):
        i, j, v = ctx.var("i", "idx"), ctx.var("j", "idx"), ctx.var("pv", "f64")
        pre, lg = _scores.logistic(ctx, ps[r * P + p] * k.Cast(pa[p], "f64") + k.Cast(pb[p], "f64"))
        return [k.Let(i, k.Cast(pi[p], "idx")), k.Let(j, k.Cast(pj[p], "idx"))] + pre + [
            k.Let(v, f(1.0) - lg),  # sigmoid_probability
            k.Assign(v, k.minimum(k.maximum(v, f(1e-7)), f(1.0 - 1e-7))),
            k.Store(rr, rb + i * C + j, v),
            k.Store(rr, rb + j * C + i, f(1.0) - v),
        ]
    stmts.append(ctx.loop(P, pair, "p"))
    stmts += _svm.multiclass_probability(ctx, r, rr, pr, C, _svm.ORT_ITERATIONS)
    stmts += _scores.transform(ctx, pr, cb, C, post)
    stmts.append(ctx.loop(C, lambda c: z.put(r, c, k.Cast(pr[cb + c], z.dtype)), "c"))
    return stmts
