"""LightGBM's prediction as ONNX nodes in double, on a graph Builder: the trees' input (each
split's missing-value rule and categorical sets made into plain columns), the raw scores (one
TreeEnsemble, ai.onnx.ml 5, double thresholds and sums), and what the objective makes of them.
Used by the Booster frontend (frontends/lightgbm.py) and by the scikit-learn wrappers'
converters (frontends/sklearn_lightgbm.py).

Values with |x| <= 1e-35 are 0 first (LightGBM keeps a dense row's non-zero values only). The
trees' input is then [x | x with NaN as 0 | x with NaN and |x| <= 1e-35 as NaN | one column
per categorical split], each block only when some split reads it; every split is then
`column <= threshold` with NaN to its default side. A categorical split's column is 0.0 where
int(x) is in its set (it goes left) and 1.0 elsewhere (NaN, negative, other categories).
"""
from __future__ import annotations

import numpy as np

from modelport.passes.ml_to_tensor._builder import F64, I64

from . import tree_ensemble_v5
from .lightgbm_model import ZERO_THRESHOLD, Model


def codes(b, column: str, names: list) -> str:
    """A string column [N, 1] as LightGBM codes a pandas category column: the index of the
    name among the model's categories, NaN for a missing or unknown one (double)."""
    code = b.op("LabelEncoder", column, domain="ai.onnx.ml", keys_strings=list(names),
                values_floats=[float(i) for i in range(len(names))], default_float=float("nan"))
    return b.cast(code, F64)  # small integers and NaN: exact


def raw(b, model: Model, x: str) -> str:
    """[N, classes] double raw scores from `x` [N, features] double."""
    f = model.forest
    n = model.n_features
    x = _zeroed(b, x)
    internal = np.asarray(f.internal, bool)
    numeric = internal & np.asarray([c is None for c in f.categories])
    missing = np.asarray(f.missing)
    blocks, offset = [x], {"NaN": 0}
    width = n
    for kind in ("None", "Zero"):
        if np.any(numeric & (missing == kind)):
            offset[kind] = width
            blocks.append(_missing_block(b, x, kind))
            width += n
    column = np.asarray(f.feature, np.int64).copy()
    for i in np.flatnonzero(numeric):
        column[i] = offset[missing[i]] + f.feature[i]
    sets = {}  # (feature, set) -> column
    for i in np.flatnonzero(internal & ~numeric):
        key = (int(f.feature[i]), f.categories[i])
        if key not in sets:
            sets[key] = width + len(sets)
        column[i] = sets[key]
    if sets:
        blocks.append(_membership(b, x, model, list(sets)))
    trees_in = blocks[0] if len(blocks) == 1 else b.op("Concat", *blocks, axis=1)
    threshold = np.where(numeric, np.asarray(f.threshold, np.float64), 0.5)
    nan_left = np.asarray(f.default_left, bool) & numeric & (missing != "None")
    if f.linear:
        scores = _linear(b, model, trees_in, x, internal, column, threshold, nan_left)
    else:
        attrs = tree_ensemble_v5.attributes(f.tree, f.node, internal, column, threshold, f.left, f.right,
                                            nan_left, False, f.leaf_tree, f.leaf_node, f.leaf_target,
                                            f.leaf_value, model.n_outputs)
        scores = b.op("TreeEnsemble", trees_in, domain="ai.onnx.ml", **attrs)
    if model.average and model.n_iterations > 1:
        scores = b.op("Div", scores, b.const(np.float64(model.n_iterations), hint="iterations"))
    return scores


def _linear(b, model: Model, trees_in: str, x: str, internal, column, threshold, nan_left) -> str:
    """Raw scores of linear trees: one TreeEnsemble finds every tree's leaf (target t = tree t,
    value = the leaf's number), the leaves' linear models are looked up by that number and
    evaluated on the (zeroed) x as LightGBM does, and each class sums its trees in order."""
    f = model.forest
    n_trees = max(f.leaf_tree) + 1
    attrs = tree_ensemble_v5.attributes(f.tree, f.node, internal, column, threshold, f.left, f.right, nan_left,
                                        False, f.leaf_tree, f.leaf_node, f.leaf_tree,
                                        [float(i) for i in range(len(f.leaf_tree))], n_trees)
    leaf = b.cast(b.op("TreeEnsemble", trees_in, domain="ai.onnx.ml", **attrs), I64)  # [N, trees]
    width = max(len(v) for v in f.leaf_features)
    feats = np.zeros((len(f.leaf_features), width), np.int64)
    coeffs = np.zeros((len(f.leaf_features), width), np.float64)
    used = np.zeros((len(f.leaf_features), width), bool)
    for i, (fs, cs) in enumerate(zip(f.leaf_features, f.leaf_coeff)):
        feats[i, :len(fs)], coeffs[i, :len(cs)], used[i, :len(fs)] = fs, cs, True

    def per_tree(table, hint):  # [N, trees, width] of a [leaves, width] table
        return b.op("Gather", b.const(table, hint=hint), leaf, axis=0)
    at = b.op("Reshape", per_tree(feats, "leaf_features"), b.const(np.asarray([-1, n_trees * width], np.int64)))
    values = b.op("Reshape", b.op("GatherElements", x, at, axis=1),
                  b.const(np.asarray([-1, n_trees, width], np.int64)))
    coeff, mask = per_tree(coeffs, "leaf_coeff"), per_tree(used, "leaf_used")
    out = b.op("Gather", b.const(np.asarray(f.leaf_const, np.float64), hint="leaf_const"), leaf, axis=0)
    nan = None
    for j in range(width):
        v, c, u = (b.squeeze(b.op("Slice", t, b.const([j], np.int64), b.const([j + 1], np.int64),
                                  b.const([2], np.int64)), [2]) for t in (values, coeff, mask))
        out = b.op("Add", out, b.op("Where", u, b.op("Mul", c, v), b.const(np.float64(0))))
        hit = b.op("And", u, b.op("IsNaN", v))
        nan = hit if nan is None else b.op("Or", nan, hit)
    fallback = b.op("Gather", b.const(np.asarray(f.leaf_value, np.float64), hint="leaf_value"), leaf, axis=0)
    per = b.op("Where", nan, fallback, out)  # [N, trees]
    k = model.n_outputs
    by_class = b.op("Reshape", per, b.const(np.asarray([-1, n_trees // k, k], np.int64)))
    return b.reduce("ReduceSum", by_class, [1], keepdims=0)


def _zeroed(b, x: str) -> str:
    """LightGBM reads a row of a dense matrix as its non-zero values: |x| <= kZeroThreshold is
    0, NaN stays (tested, not computed: a compiler may fold NaN * 0 to 0)."""
    keep = b.op("Or", b.op("Greater", b.op("Abs", x), b.const(np.float64(ZERO_THRESHOLD), hint="zero_threshold")),
                b.op("IsNaN", x))
    return b.op("Where", keep, x, b.const(np.float64(0.0), hint="zero"))


def _missing_block(b, x: str, kind: str) -> str:
    if kind == "None":  # NaN counts as 0.0
        return b.op("Where", b.op("IsNaN", x), b.const(np.float64(0.0), hint="zero"), x)
    # Zero: NaN and |x| <= kZeroThreshold are missing (NaN > t is false: NaN stays NaN)
    keep = b.op("Greater", b.op("Abs", x), b.const(np.float64(ZERO_THRESHOLD), hint="zero_threshold"))
    return b.op("Where", keep, x, b.const(np.float64(np.nan), hint="nan"))


def _membership(b, x: str, model: Model, keys: list) -> str:
    """[N, len(keys)]: 0.0 where int(x[feature]) is in the set, else 1.0 (one Gather of a
    constant table per feature; NaN, negative values and values past the largest category
    index the table's last row)."""
    parts = []
    by_feature = {}
    for j, (feat, s) in enumerate(keys):
        by_feature.setdefault(feat, []).append((j, s))
    order = []
    for feat, items in by_feature.items():
        top = max(max(s) for _, s in items) + 1  # the row for "no category of any set"
        table = np.ones((top + 1, len(items)), np.float64)
        for col, (_, s) in enumerate(items):
            table[sorted(s), col] = 0.0
        v = b.column(x, feat)
        # int(v) as LightGBM takes it (truncation), NaN and v <= -1 to the last row, and large
        # values clamped there first (a cast of a huge double is undefined)
        top_c = b.const(np.float64(top), hint="top")
        v = b.op("Where", b.op("Greater", v, b.const(np.float64(-1.0), hint="minus_one")), b.op("Min", v, top_c), top_c)
        index = b.op("Reshape", b.cast(v, I64), b.const(np.asarray([-1], np.int64), hint="flat"))
        parts.append(b.op("Gather", b.const(table, hint=f"sets_{feat}"), index, axis=0))
        order += [j for j, _ in items]
    out = parts[0] if len(parts) == 1 else b.op("Concat", *parts, axis=1)
    if order != sorted(order):
        out = b.op("Gather", out, b.const(np.argsort(order).astype(np.int64), hint="order"), axis=1)
    return out


def predict(b, model: Model, scores: str) -> str:
    """What Booster.predict returns, from the raw scores: [N, classes] double."""
    kind = model.transform
    if kind == "identity":
        return scores
    if kind == "exp":
        return b.op("Exp", scores)
    if kind == "softmax":
        return b.op("Softmax", scores, axis=1)
    if kind == "sqrt":  # sign(x) * x^2
        return b.op("Mul", scores, b.op("Abs", scores))
    if kind == "sigmoid":
        if model.sigmoid != 1.0:
            scores = b.op("Mul", scores, b.const(np.float64(model.sigmoid), hint="sigmoid"))
        return b.op("Sigmoid", scores)
    raise AssertionError(kind)


def classifier(b, model: Model, scores: str, classes) -> tuple:
    """(label, probabilities [N, classes] double) as LGBMClassifier's predict / predict_proba:
    binary [1 - p, p] and the second class where p > 0.5; otherwise the first class of highest
    probability."""
    p = predict(b, model, scores)
    if model.n_outputs == 1:
        p = b.op("Concat", b.op("Sub", b.const(np.ones((1, 1), np.float64), hint="one"), p), p, axis=1)
    best = b.op("ArgMax", p, axis=1, keepdims=0)
    return b.op("Gather", b.const(classes, hint="classes"), best, axis=0), p


def as_double(b, x: str, is_double: bool) -> str:
    return x if is_double else b.cast(x, F64)
