"""One TreeEnsemble node (ai.onnx.ml 5) from flat node tables, for the frontends that need a
forest whose thresholds and sums stay double (R's trees, scikit-learn's HistGradientBoosting):
TreeEnsembleRegressor, the older operator, always outputs float.

The tables describe every node of every tree, leaves included, with ids local to each tree
and node 0 as each tree's root; an internal node sends a row to `left` when x <= threshold
(x < threshold where `strict`), a missing value goes left where `nan_left`.
"""
from __future__ import annotations

import numpy as np
from onnx import numpy_helper

LEQ, LT = 0, 1  # nodes_modes


def attributes(tree, node, internal, feature, threshold, left, right, nan_left, strict,
               leaf_tree, leaf_node, leaf_target, leaf_weight, n_targets: int) -> dict:
    """The node's attributes. Leaves add to one target each in this operator: a forest whose
    leaves carry weights for several targets becomes one copy of each tree per target (the
    compiled kernels then walk every copy)."""
    n = len(tree)
    tree, node = np.asarray(tree, np.int64), np.asarray(node, np.int64)
    internal = np.asarray(internal, bool)
    strict = np.broadcast_to(np.asarray(strict, bool), (n,))
    nan_left = np.broadcast_to(np.asarray(nan_left, bool), (n,))
    weights = {}  # (tree, node) -> {target: weight}
    for t, nd, c, w in zip(leaf_tree, leaf_node, leaf_target, leaf_weight):
        per = weights.setdefault((int(t), int(nd)), {})
        per[int(c)] = per.get(int(c), 0.0) + float(w)
    single = all(len(v) <= 1 for v in weights.values())
    copies = [None] if single else sorted({int(c) for c in leaf_target})
    index = {(int(t), int(nd)): i for i, (t, nd) in enumerate(zip(tree, node))}
    cols = {k: [] for k in ("feat", "mode", "split", "mtt", "tid", "tleaf", "fid", "fleaf", "root",
                            "leaf_target", "leaf_weight")}
    rows = np.where(internal)[0]
    for target in copies:
        base = len(cols["feat"])
        slot = {j: base + i for i, j in enumerate(rows)}
        leaf_of = {}
        for j in np.where(~internal)[0]:
            ws = weights.get((int(tree[j]), int(node[j])), {})
            c = target if target is not None else next(iter(ws), 0)
            leaf_of[j] = len(cols["leaf_target"])
            cols["leaf_target"].append(c)
            cols["leaf_weight"].append(ws.get(c, 0.0))

        def split(f, mode, value, mtt, true, false):
            for key, v in (("feat", f), ("mode", mode), ("split", value), ("mtt", mtt)):
                cols[key].append(v)
            for (ids, leafs), child in (((cols["tid"], cols["tleaf"]), true), ((cols["fid"], cols["fleaf"]), false)):
                ids.append(slot[child] if internal[child] else leaf_of[child])
                leafs.append(0 if internal[child] else 1)
        for j in rows:
            split(int(feature[j]), LT if strict[j] else LEQ, float(threshold[j]), int(nan_left[j]),
                  index[(int(tree[j]), int(left[j]))], index[(int(tree[j]), int(right[j]))])
        for t in sorted(set(tree.tolist())):
            r = index[(t, 0)]
            if internal[r]:
                cols["root"].append(slot[r])
            else:  # a tree that is one leaf: a split whose both sides reach it
                cols["root"].append(len(cols["feat"]))
                split(0, LEQ, 0.0, 0, r, r)
    return dict(n_targets=int(n_targets), aggregate_function=1, post_transform=0, tree_roots=cols["root"],
                nodes_featureids=cols["feat"],
                nodes_modes=numpy_helper.from_array(np.asarray(cols["mode"], np.uint8)),
                nodes_splits=numpy_helper.from_array(np.asarray(cols["split"], np.float64)),
                nodes_truenodeids=cols["tid"], nodes_trueleafs=cols["tleaf"],
                nodes_falsenodeids=cols["fid"], nodes_falseleafs=cols["fleaf"],
                nodes_missing_value_tracks_true=cols["mtt"], leaf_targetids=cols["leaf_target"],
                leaf_weights=numpy_helper.from_array(np.asarray(cols["leaf_weight"], np.float64)))
