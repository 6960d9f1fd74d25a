"""Shared by the tree-ensemble ops: a normalized compact forest and its branch-free kernel.

Layout: each tree's nodes are renumbered breadth-first so that an internal node's two
children are adjacent (left = taken when `x <= threshold`, right = left + 1). Every
comparison is normalized to `<=` (LT, GTE and GT thresholds are moved one float step or
their children swapped). A leaf points to itself and tests a constant 0 against +inf, so
every row walks a tree in the same fixed number of steps (the tree's depth) without a
branch, and several rows walk the same tree at once while its tables stay in cache.
"""
from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass

import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k

ROWS_IN_FLIGHT = 8  # rows walking one tree together: enough independent loads, few registers
EARLY_EXIT_DEPTH = 12  # trees at least this deep may stop early (shallower: the checks cost more)
EARLY_EXIT_SLACK = 6  # ... when their deepest and shallowest leaves are this far apart
EXIT_CHUNK = 4  # steps between two checks of an early-stopping walk


@dataclass
class Forest:
    feature: np.ndarray  # int32 per node (leaves: the constant slot = n_features)
    threshold: np.ndarray  # per node (leaves: +inf)
    child: np.ndarray  # int32 per node: left child (right = left + 1); leaves: itself
    nan_right: np.ndarray  # bool per node: a NaN input goes right
    roots: np.ndarray  # int32 per tree
    depths: np.ndarray  # int32 per tree
    leaf_weights: np.ndarray  # float64 [n_nodes, n_outputs]
    n_outputs: int
    min_depths: np.ndarray | None = None  # int32 per tree: its shallowest leaf

    @property
    def any_nan_left(self) -> bool:
        internal = self.child != np.arange(len(self.child))
        return bool(np.any(~self.nan_right[internal]))


def _values(attrs, prefix):
    if f"{prefix}_as_tensor" in attrs:
        return np.asarray(attrs[f"{prefix}_as_tensor"], dtype=np.float64).reshape(-1)
    return np.asarray(attrs.get(prefix, []), dtype=np.float32).astype(np.float64)


def build(attrs: dict, weight_prefix: str, n_outputs: int, n_features: int, dtype: str) -> Forest:
    """Normalize the ONNX node lists; `weight_prefix` is "target" or "class"."""
    np_t = np.float32 if dtype == "f32" else np.float64
    tree_ids = attrs["nodes_treeids"]
    node_ids = attrs["nodes_nodeids"]
    modes = attrs["nodes_modes"]
    feats = attrs["nodes_featureids"]
    values = _values(attrs, "nodes_values")
    trues = attrs["nodes_truenodeids"]
    falses = attrs["nodes_falsenodeids"]
    mtt = attrs.get("nodes_missing_value_tracks_true") or [0] * len(node_ids)
    nodes = {}
    per_tree = defaultdict(list)
    for j, key in enumerate(zip(tree_ids, node_ids)):
        nodes[key] = (modes[j], feats[j], values[j], trues[j], falses[j], mtt[j])
        per_tree[key[0]].append(key[1])
    weights = defaultdict(list)
    w_ids = attrs[f"{weight_prefix}_ids"]
    w_vals = _values(attrs, f"{weight_prefix}_weights")
    for t, n, i, w in zip(attrs[f"{weight_prefix}_treeids"], attrs[f"{weight_prefix}_nodeids"], w_ids, w_vals):
        weights[(t, n)].append((i, w))
    trees = sorted(per_tree)
    feature, threshold, child, nan_right, roots, depths, leaf_rows = [], [], [], [], [], [], []
    min_depths = []
    for tree in trees:
        ids = per_tree[tree]
        children = set()
        for n in ids:
            mode, _, _, tr, fa, _ = nodes[(tree, n)]
            if mode != "LEAF":
                children.update((tr, fa))
        root = min(set(ids) - children)
        base = len(feature)
        roots.append(base)
        order = {root: base}
        queue = deque([(root, 0)])
        feature.append(0), threshold.append(0), child.append(0), nan_right.append(True), leaf_rows.append(None)
        max_depth, min_depth = 0, None
        while queue:
            n, depth = queue.popleft()
            me = order[n]
            mode, f, v, tr, fa, mt = nodes[(tree, n)]
            if mode == "LEAF":
                feature[me], threshold[me], child[me], nan_right[me] = n_features, np.inf, me, False
                leaf_rows[me] = weights.get((tree, n), [])
                max_depth = max(max_depth, depth)
                min_depth = depth if min_depth is None else min(min_depth, depth)
                continue
            thr = np_t(v)
            if mode in ("BRANCH_LEQ", "BRANCH_LT"):
                left, right, nan_to_right = tr, fa, not mt
                if mode == "BRANCH_LT":
                    thr = np.nextafter(thr, np_t(-np.inf))
            elif mode in ("BRANCH_GT", "BRANCH_GTE"):
                # x > t  <=>  !(x <= t): swap the children
                left, right, nan_to_right = fa, tr, bool(mt)
                if mode == "BRANCH_GTE":
                    thr = np.nextafter(thr, np_t(-np.inf))
            else:
                raise UnsupportedError(f"tree node mode {mode} is not supported (supported: BRANCH_LEQ, "
                                       "BRANCH_LT, BRANCH_GTE, BRANCH_GT, LEAF)")
            pos = len(feature)
            for _ in range(2):
                feature.append(0), threshold.append(0), child.append(0), nan_right.append(True)
                leaf_rows.append(None)
            order[left], order[right] = pos, pos + 1
            feature[me], threshold[me], child[me], nan_right[me] = f, thr, pos, nan_to_right
            queue.append((left, depth + 1))
            queue.append((right, depth + 1))
        depths.append(max_depth)
        min_depths.append(min_depth or 0)
    n_nodes = len(feature)
    leaf_weights = np.zeros((n_nodes, n_outputs), dtype=np.float64)
    for i, row in enumerate(leaf_rows):
        for out, w in row or []:
            leaf_weights[i, out] += w
    return Forest(np.asarray(feature, np.int32), np.asarray(threshold, np_t), np.asarray(child, np.int32),
                  np.asarray(nan_right, bool), np.asarray(roots, np.int32), np.asarray(depths, np.int32),
                  leaf_weights, n_outputs, np.asarray(min_depths, np.int32))


def accumulate(ctx, forest: Forest, x, acc: k.Buf, dtype: str) -> list:
    """Emit: acc[r * n_outputs + j] = sum over trees of the leaf weight row r reaches (f64)."""
    nf = x.size
    C = forest.n_outputs
    internal = forest.child != np.arange(len(forest.child))
    # Missing values without a test in the loop: each row is copied with NaN as +inf (it
    # then goes right: `x > t`) and, when some split sends NaN left, once more with NaN as
    # -inf; such a split reads the second copy. A constant-zero slot serves the leaves.
    # (A split at t = +inf would send an input +inf the wrong way: then test NaN explicitly.)
    explicit_nan = bool(np.any(np.isposinf(forest.threshold[internal])))
    copies = 1 if explicit_nan or not forest.any_nan_left else 2
    fp = copies * nf + 1
    feature = forest.feature.astype(np.int64)
    if copies == 2:
        feature = np.where(internal & ~forest.nan_right, feature + nf, feature)
    feature = np.where(internal, feature, copies * nf)
    xb = ctx.scratch_buf("xb", dtype, fp)
    feat = ctx.table("feat", feature, "i32")
    thr = ctx.table("thr", forest.threshold, dtype)
    child = ctx.table("child", forest.child, "i32")
    nanr = ctx.table("nanr", forest.nan_right, "bool") if explicit_nan and forest.any_nan_left else None
    roots = ctx.table("roots", forest.roots, "i32")
    depths = ctx.table("depths", forest.depths, "i32")
    # Leaf weights are stored as float32 when that is exact (it is for float attributes);
    # sums are taken in float64 either way.
    exact32 = np.array_equal(forest.leaf_weights.astype(np.float32).astype(np.float64), forest.leaf_weights)
    leaf = ctx.table("leaf", forest.leaf_weights, "f32" if exact32 else "f64")
    v = ctx.var("x", dtype)
    inf, ninf = k.Const(float("inf"), dtype), k.Const(float("-inf"), dtype)

    def copy(r, f):
        out = [k.Let(v, _as(x.at(r, f), dtype))]
        if explicit_nan:
            return out + [k.Store(xb, r * fp + f, v)]
        out.append(k.Store(xb, r * fp + f, k.Select(k.call("isnan", v), inf, v)))
        if copies == 2:
            out.append(k.Store(xb, r * fp + nf + f, k.Select(k.call("isnan", v), ninf, v)))
        return out

    stmts = [
        ctx.rows(lambda r: [
            ctx.loop(nf, lambda f: copy(r, f)),
            k.Store(xb, r * fp + copies * nf, k.Const(0, dtype)),
            ctx.loop(C, lambda c: k.Store(acc, r * C + c, k.Const(0.0, "f64"))),
        ])
    ]

    def step(node: k.Var, row_base: k.Expr):
        xv = xb[row_base + k.Cast(feat[node], "idx")]
        t = thr[node]
        if not explicit_nan:
            go_right = xv > t
        elif nanr is None:
            go_right = k.lnot(xv <= t)
        else:  # branch-free: both sides of the NaN test are always evaluated
            go_right = k.bor(xv > t, k.band(k.call("isnan", xv), nanr[node]))
        return k.Assign(node, k.Cast(child[node], "idx") + k.Cast(go_right, "idx"))

    def add_leaf(node, r):
        return ctx.loop(C, lambda c: k.Store(acc, r * C + c, acc[r * C + c] + _as(leaf[node * C + c], "f64")))

    R = ROWS_IN_FLIGHT
    n_trees = len(forest.roots)
    # Deep, uneven trees (R's randomForest grows leaves at depth 10 to 30): walking every row
    # to the deepest leaf wastes most steps. There the walk takes the shallowest leaf's depth
    # in one run, then goes on in chunks of EXIT_CHUNK steps only while some row of the group
    # is still at an internal node. Shallow or balanced trees keep the fixed trip count.
    mins = forest.min_depths if forest.min_depths is not None else forest.depths
    early = bool(n_trees) and int(np.max(forest.depths)) >= EARLY_EXIT_DEPTH and \
        int(np.max(forest.depths - mins)) >= EARLY_EXIT_SLACK
    min_t = ctx.table("mindepth", mins, "i32") if early else None

    def walk(nodes, bases, lo, hi):
        """Steps for `nodes` (row bases `bases`): `lo` surely needed, up to `hi` in all."""
        steps = (lambda d: [step(n, b) for n, b in zip(nodes, bases)])
        if not early:
            return [ctx.loop(hi, steps, "d")]
        active = ctx.var("active", "bool")
        more = None
        for n in nodes:
            inner = k.ne(k.Cast(child[n], "idx"), n)
            more = inner if more is None else k.bor(more, inner)
        chunks = k.Bin("/", k.Bin("+", k.Bin("-", hi, lo), k.Const(EXIT_CHUNK - 1, "idx")), k.Const(EXIT_CHUNK, "idx"))
        return [
            ctx.loop(lo, steps, "d"),
            k.Let(active, more),
            ctx.loop(chunks, lambda c: [k.If(active, [ctx.loop(EXIT_CHUNK, steps, "d"), k.Assign(active, more)])],
                     "c"),
        ]

    def rows_in_flight(t):
        """Groups of R rows walk tree t together."""
        rb = ctx.var("rb", "idx")
        nodes = [ctx.var(f"n{j}", "idx") for j in range(R)]
        bases = [ctx.var(f"xr{j}", "idx") for j in range(R)]
        root = ctx.var("root", "idx")
        depth = ctx.var("depth", "idx")
        g = ctx.var("g", "idx")
        group = [k.Let(rb, g * R)]
        group += [k.Let(b, (rb + j) * fp) for j, b in enumerate(bases)]
        group += [k.Let(n, root) for n in nodes]
        lo = ctx.var("lo", "idx")
        group += walk(nodes, bases, lo, depth)
        group += [add_leaf(n, rb + j) for j, n in enumerate(nodes)]
        return [
            k.Let(root, k.Cast(roots[t], "idx")),
            k.Let(depth, k.Cast(depths[t], "idx")),
            k.Let(lo, k.Cast(min_t[t], "idx") if early else k.Const(0, "idx")),
            k.For(g, k.Const(0, "idx"), k.Bin("/", ctx.nb, k.Const(R, "idx")), group),
        ]

    def trees_in_flight(r):
        """A leftover row walks R trees at once (the single-row case), in the same tree
        order as above, so a row's result does not depend on its place in the batch."""
        base = ctx.var("xr", "idx")
        out = [k.Let(base, r * fp)]
        n_groups = n_trees // R
        if n_groups:
            gdepth = ctx.table("gdepth", [int(forest.depths[i * R:(i + 1) * R].max()) for i in range(n_groups)], "i32")
            gmin = ctx.table("gmin", [int(mins[i * R:(i + 1) * R].min()) for i in range(n_groups)], "i32") \
                if early else None
            nodes = [ctx.var(f"m{j}", "idx") for j in range(R)]

            def group(tg):
                body = [k.Let(n, k.Cast(roots[tg * R + j], "idx")) for j, n in enumerate(nodes)]
                body += walk(nodes, [base] * R, k.Cast(gmin[tg], "idx") if early else k.Const(0, "idx"),
                             k.Cast(gdepth[tg], "idx"))
                body += [add_leaf(n, r) for n in nodes]
                return body
            out.append(ctx.loop(n_groups, group, "tg"))
        if n_trees % R:
            one, t = ctx.var("m", "idx"), ctx.var("t", "idx")
            out.append(k.For(t, k.Const(n_groups * R, "idx"), k.Const(n_trees, "idx"), [
                k.Let(one, k.Cast(roots[t], "idx")),
                ctx.loop(k.Cast(depths[t], "idx"), lambda d: [step(one, base)], "d"),
                add_leaf(one, r),
            ]))
        return out

    stmts.append(ctx.loop(n_trees, rows_in_flight, "tree"))
    first = ctx.var("first", "idx")
    stmts.append(k.Let(first, k.Bin("*", k.Bin("/", ctx.nb, k.Const(R, "idx")), k.Const(R, "idx"))))
    left = ctx.var("r", "idx")
    stmts.append(k.For(left, first, ctx.nb, trees_in_flight(left)))
    return stmts


def _as(e, dtype):
    return e if e.dtype == dtype else k.Cast(e, dtype)
