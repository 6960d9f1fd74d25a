"""TreeEnsembleClassifier: https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsembleClassifier.html

Scores and labels follow ONNX Runtime (TreeAggregatorClassifier in tree_ensemble_aggregator.h):
a class that no reached leaf scores and that has no base value is skipped by the argmax, and a
two-class model whose weights all name one class (the "binary case") scores that one value and
expands it to two columns.
"""
import numpy as np

from . import _scores, _trees
from ..errors import UnsupportedError
from ..kernel import ast as k

ALWAYS, NEVER, VARIES = "always", "never", "varies"


def _base_values(a):
    if "base_values_as_tensor" in a:
        return [float(v) for v in np.asarray(a["base_values_as_tensor"], np.float64).reshape(-1)]
    return [float(np.float32(v)) for v in a.get("base_values") or []]


def _presence(forest, C):
    """Per class: does every row, no row or some rows reach a leaf that carries a weight for it."""
    leaf = forest.child == np.arange(len(forest.child))
    bounds = list(forest.roots) + [len(forest.child)]
    out = []
    for c in range(C):
        has = forest.leaf_weights[:, C + c] > 0
        if not has[leaf].any():
            out.append(NEVER)
        elif any(has[lo:hi][leaf[lo:hi]].all() for lo, hi in zip(bounds[:-1], bounds[1:])):
            out.append(ALWAYS)
        else:
            out.append(VARIES)
    return out


def lower(ctx, node, ins, outs):
    x, (yl, z) = ins[0], outs
    a = node.attrs
    labels = _scores.Labels(ctx, "TreeEnsembleClassifier", a, "classlabels_int64s", "classlabels_strings", yl)
    C = labels.n
    if C < 2:
        raise UnsupportedError("TreeEnsembleClassifier with fewer than two class labels is not supported")
    post = _scores.post_transform("TreeEnsembleClassifier", a)
    base = _base_values(a)
    ids = [int(i) for i in a.get("class_ids", [])]
    if any(i < 0 or i >= C for i in ids):
        raise UnsupportedError(f"TreeEnsembleClassifier class_ids must lie in [0, {C})")
    weights = _trees._values(a, "class_weights")
    dtype = x.dtype if x.dtype in k.FLOATS else "f32"
    # Columns C..2C-1 count the weights a leaf carries per class: they tell whether a class
    # has a score at all, which ONNX Runtime distinguishes from a score of zero.
    attrs = dict(a)
    attrs.pop("class_weights", None)
    attrs["class_ids"] = ids + [i + C for i in ids]
    attrs["class_nodeids"] = list(a["class_nodeids"]) * 2
    attrs["class_treeids"] = list(a["class_treeids"]) * 2
    attrs["class_weights_as_tensor"] = np.concatenate([weights, np.ones(len(ids))])
    forest = _trees.build(attrs, "class", 2 * C, x.size, dtype)
    presence = _presence(forest, C)
    if VARIES in presence:
        K = 2 * C
    else:
        K = C
        forest = _trees.Forest(forest.feature, forest.threshold, forest.child, forest.nan_right, forest.roots,
                               forest.depths, forest.leaf_weights[:, :C].copy(), C, forest.min_depths)
    acc = ctx.scratch_buf("acc", "f64", K)
    stmts = _trees.accumulate(ctx, forest, x, acc, dtype)

    def has(r, c):
        if presence[c] == VARIES:
            return acc[r * K + (C + c)] > k.Const(0.5, "f64")
        return k.Const(presence[c] == ALWAYS, "bool")

    if C > 2:
        row = _multiclass(ctx, acc, K, C, base, presence, has, labels, post, yl, z)
    else:
        row = _two_classes(ctx, acc, K, base, ids, weights, has, labels, post, yl, z)
    stmts.append(ctx.rows(row))
    return stmts


def _multiclass(ctx, acc, K, C, base, presence, has, labels, post, yl, z):
    nb = min(len(base), C)
    base_t = ctx.table("base", base[:nb], "f64") if nb else None
    all_scored = all(c < nb or presence[c] == ALWAYS for c in range(C))
    varies = VARIES in presence
    never = ctx.table("never", [c >= nb and presence[c] == NEVER for c in range(C)], "bool") \
        if any(c >= nb and presence[c] == NEVER for c in range(C)) else None

    def row(r):
        b = r * K
        stmts = []
        if nb:
            stmts.append(ctx.loop(nb, lambda c: k.Store(acc, b + c, acc[b + c] + base_t[c]), "c"))
        best, best_w = ctx.var("best", "idx"), ctx.var("bestw", "f64")
        if all_scored:
            stmts += _scores.first_max(ctx, C, lambda c: acc[b + c], best, best_w)
        else:
            def valid(c):
                cond = k.Const(True, "bool")
                if varies:
                    cond = k.lor(acc[b + C + c] > k.Const(0.5, "f64"), c < k.Const(nb, "idx"))
                elif never is not None:
                    cond = k.lnot(never[c])
                return cond
            stmts += _scores.first_max(ctx, C, lambda c: acc[b + c], best, best_w, valid)
        # No class scored at all (no base values, no weights reached): ONNX Runtime's label is undefined.
        stmts.append(yl.put(r, 0, labels.at(k.Select(best < k.Const(0, "idx"), k.Const(0, "idx"), best))))
        stmts += _scores.transform(ctx, acc, b, C, post)
        stmts.append(ctx.loop(C, lambda c: z.put(r, c, k.Cast(acc[b + c], z.dtype)), "c"))
        return stmts
    return row


def _two_classes(ctx, acc, K, base, ids, weights, has, labels, post, yl, z):
    f = _scores.f64
    binary_case = len(set(ids)) == 1
    all_positive = bool(np.all(weights >= 0))
    # write_additional_scores when only one score is left: 0/1 and 2/3 expand it alike.
    if binary_case:
        expand = "01" if all_positive else "23"
    else:
        expand = "23" if not base else None

    def row(r):
        b = r * K
        s0, s1 = acc[b + 0], acc[b + 1]
        h0, h1 = _static(has(r, 0)), _static(has(r, 1))
        p0, p1 = ctx.var("p0", "f64"), ctx.var("p1", "f64")
        stmts = [k.Let(p0, s0), k.Let(p1, s1)]
        if len(base) == 2:
            # As ONNX Runtime: with a score for class 1, class 1 becomes base[1] + score 0.
            scored = [k.Assign(p1, f(base[1]) + s0), k.Assign(p0, -p1)]
            unscored = [k.Assign(p1, s1 + f(base[1])), k.Assign(p0, s0 + f(base[0]))]
            stmts += _if(h1, scored, unscored)  # class 1's flag is unchanged either way
        elif len(base) == 1:
            stmts.append(k.Assign(p0, s0 + f(base[0])))
        two = h1 if len(base) < 2 else True
        # _set_score_binary: the positive score is class 1's when kept and scored, else class 0's.
        pos = _sel(_and(two, h1), p1, _sel(h0, p0, f(0.0)))
        if binary_case:
            cond = pos > f(0.5) if all_positive else pos > f(0.0)
            label = k.Select(cond, labels.at(k.Const(1, "idx")), labels.at(k.Const(0, "idx")))
        else:
            # ONNX Runtime answers 1 or 0 here (a class index), whatever classlabels_int64s holds.
            label = k.Select(pos > f(0.0), labels.const(1), labels.const(0))
        stmts.append(yl.put(r, 0, label))
        # A class without a score is written (and transformed) as 0, whatever was added to it.
        v0, v1 = _sel(h0, p0, f(0.0)), _sel(h1, p1, f(0.0))
        if two is False:
            return stmts + _one_score(ctx, v0, post, expand, z, r)
        sc = ctx.scratch_buf("sc", "f64", 2)
        sb = r * 2
        both = [k.Store(sc, sb, v0), k.Store(sc, sb + 1, v1)] + _scores.transform(ctx, sc, sb, 2, post) + [
            z.put(r, 0, k.Cast(sc[sb], z.dtype)), z.put(r, 1, k.Cast(sc[sb + 1], z.dtype))]
        return stmts + _if(two, both, lambda: _one_score(ctx, v0, post, expand, z, r))
    return row


def _static(e):
    """A bool known when compiling, or the kernel expression that decides it per row."""
    return bool(e.value) if isinstance(e, k.Const) else e


def _if(cond, then, orelse):
    if cond is True:
        return then
    if cond is False:
        return orelse() if callable(orelse) else orelse
    return [k.If(cond, then, orelse() if callable(orelse) else orelse)]


def _sel(cond, a, b):
    if isinstance(cond, bool):
        return a if cond else b
    return k.Select(cond, a, b)


def _and(a, b):
    if a is False or b is False:
        return False
    if a is True:
        return b
    if b is True:
        return a
    return k.land(a, b)


def _one_score(ctx, v, post, expand, z, r):
    """write_scores for a single score: expand it to the two columns as ONNX Runtime does."""
    f = _scores.f64
    p0 = ctx.var("v", "f64")
    head = [k.Let(p0, v)]

    def put(v0, v1):
        return [z.put(r, 0, k.Cast(v0, z.dtype)), z.put(r, 1, k.Cast(v1, z.dtype))]
    if post == "PROBIT":
        stmts, e = _scores.probit(ctx, p0)
        return head + stmts + put(e, f(0.0))  # ONNX Runtime leaves the second column unwritten
    if expand == "01":
        return head + put(f(1.0) - p0, p0)
    if expand == "23":
        if post == "LOGISTIC":
            s1, e1 = _scores.logistic(ctx, p0)
            s0, e0 = _scores.logistic(ctx, -p0)
            return head + s1 + s0 + put(e0, e1)
        return head + put(-p0, p0)
    return head + put(p0, f(0.0))  # ONNX Runtime leaves the second column unwritten
