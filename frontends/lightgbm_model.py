"""A LightGBM Booster read as data: flat node tables of its trees, the objective, the features.

LightGBM's arithmetic, which the compiled model follows: inputs are doubles, and those with
|x| <= 1e-35 are 0 (a dense row is read as its non-zero values); a numerical split
sends a row left when `x <= threshold` (double), after its missing-value rule:
  - missing type "None": NaN counts as 0.0;
  - "Zero": NaN and |x| <= 1e-35 (kZeroThreshold, a float) take the default side;
  - "NaN": NaN takes the default side;
a categorical split sends a row left when int(x) is one of its categories (NaN and negative
values go right). A row's raw score for class k is the sum of the leaf values of the trees of
class k, in double, in tree order (averaged over the iterations for boosting="rf"); the
objective turns raw scores into predictions. A linear tree's leaf (linear_tree=True) gives
leaf_const + coeff_1 * x_f1 + ... (added in that order), or its leaf_value where one of those
features is NaN.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelport.errors import UnsupportedError

# objective -> transform: "identity" | "sigmoid" (sigmoid(s * x), s = the objective's sigmoid
# parameter) | "exp" | "softmax" | "sqrt" (regression with reg_sqrt: sign(x) * x^2)
OBJECTIVES = {
    "regression": "identity", "regression_l1": "identity", "huber": "identity", "fair": "identity",
    "quantile": "identity", "mape": "identity", "lambdarank": "identity", "rank_xendcg": "identity",
    "poisson": "exp", "gamma": "exp", "tweedie": "exp",
    "binary": "sigmoid", "cross_entropy": "sigmoid", "multiclassova": "sigmoid",
    "multiclass": "softmax",
}
MISSING_TYPES = ("None", "Zero", "NaN")
ZERO_THRESHOLD = float(np.float32(1e-35))  # LightGBM's kZeroThreshold (1e-35f, read as a double)


@dataclass
class Forest:
    """Every node of every tree (ids local to each tree, 0 the root)."""
    tree: list = field(default_factory=list)
    node: list = field(default_factory=list)
    internal: list = field(default_factory=list)
    feature: list = field(default_factory=list)
    threshold: list = field(default_factory=list)  # float; categorical: 0
    categories: list = field(default_factory=list)  # categorical split: frozenset sent left; else None
    missing: list = field(default_factory=list)  # missing type of an internal node
    default_left: list = field(default_factory=list)
    left: list = field(default_factory=list)
    right: list = field(default_factory=list)
    leaf_tree: list = field(default_factory=list)
    leaf_node: list = field(default_factory=list)
    leaf_target: list = field(default_factory=list)
    leaf_value: list = field(default_factory=list)
    # linear trees (linear_tree=True): each leaf's linear model, leaf_value its fallback
    leaf_const: list = field(default_factory=list)
    leaf_features: list = field(default_factory=list)
    leaf_coeff: list = field(default_factory=list)

    @property
    def linear(self) -> bool:
        return any(self.leaf_features)


@dataclass
class Model:
    objective: str
    transform: str
    sigmoid: float
    n_outputs: int
    n_features: int
    feature_names: list
    forest: Forest
    n_iterations: int
    average: bool  # boosting="rf": the sum is divided by the number of iterations
    # categorical feature -> its category values (pandas_categorical), for models trained on
    # pandas category columns
    categories: dict = field(default_factory=dict)
    categorical_features: list = field(default_factory=list)

    def thresholds(self, names: list) -> dict:
        """{column name: thresholds} of the numerical splits (`names`: the features' names)."""
        out = {}
        f = self.forest
        for i, inner in enumerate(f.internal):
            if inner and f.categories[i] is None and f.feature[i] < len(names):
                out.setdefault(names[f.feature[i]], []).append(f.threshold[i])
        return out


def read(booster, iterations: int | None = None) -> Model:
    """The Booster's first `iterations` iterations (all for None or <= 0)."""
    d = booster.dump_model(num_iteration=iterations if iterations and iterations > 0 else None)
    words = str(d.get("objective", "")).split()
    objective = words[0] if words else ""
    params = dict(w.split(":", 1) for w in words[1:] if ":" in w)
    if objective not in OBJECTIVES:
        raise UnsupportedError(f"the LightGBM objective {objective!r} is not supported; supported: "
                               f"{', '.join(sorted(OBJECTIVES))}")
    transform = "sqrt" if objective == "regression" and "sqrt" in words[1:] else OBJECTIVES[objective]
    k = int(d.get("num_tree_per_iteration", 1))
    forest = Forest()
    for i, info in enumerate(d["tree_info"]):
        _add_tree(forest, i, i % k, info["tree_structure"])
    n_features = int(d["max_feature_idx"]) + 1
    pandas_categorical = d.get("pandas_categorical") or []
    categorical = _categorical_features(booster, n_features)
    categories = {}
    if pandas_categorical:
        if len(pandas_categorical) != len(categorical):
            raise UnsupportedError("LightGBM model: its pandas categories do not match its categorical features")
        for f, values in zip(categorical, pandas_categorical):
            if not all(isinstance(v, str) for v in values):
                raise UnsupportedError(f"LightGBM categorical feature {f} has categories that are not strings; "
                                       "supported: pandas category columns of strings, or integer codes")
            categories[f] = list(values)
    return Model(objective=objective, transform=transform, sigmoid=float(params.get("sigmoid", 1.0)),
                 n_outputs=k, n_features=n_features, feature_names=list(d.get("feature_names") or []),
                 forest=forest, n_iterations=len(d["tree_info"]) // max(k, 1),
                 average=bool(d.get("average_output")), categories=categories, categorical_features=categorical)


def _categorical_features(booster, n_features: int) -> list:
    """Features declared categorical (categorical_feature / pandas category columns)."""
    text = booster.model_to_string(num_iteration=1)
    for line in text.splitlines():
        if line.startswith("[categorical_feature: "):
            body = line[len("[categorical_feature: "):-1].strip()
            return sorted(int(v) for v in body.split(",") if v.strip() != "")
    return []


def _threshold(t: float) -> float:
    """dump_model writes an infinite threshold as +-1e300 (LightGBM's AvoidInf); the model keeps
    the infinity (its text form too), and a value past 1e300 goes left of it."""
    return float(np.copysign(np.inf, t)) if abs(t) >= 1e300 else t


def _add_tree(forest: Forest, tree: int, target: int, root: dict) -> None:
    """Append one tree's nodes (preorder ids) to the flat tables."""
    ids = {}

    def number(node):
        ids[id(node)] = len(ids)
        if "leaf_index" not in node:
            number(node["left_child"])
            number(node["right_child"])
    number(root)
    stack = [root]
    while stack:
        node = stack.pop()
        me = ids[id(node)]
        forest.tree.append(tree)
        forest.node.append(me)
        if "leaf_index" in node:
            forest.internal.append(False)
            for col in ("feature", "left", "right"):
                getattr(forest, col).append(0)
            forest.threshold.append(0.0)
            forest.categories.append(None)
            forest.missing.append("None")
            forest.default_left.append(False)
            forest.leaf_tree.append(tree)
            forest.leaf_node.append(me)
            forest.leaf_target.append(target)
            forest.leaf_value.append(float(node["leaf_value"]))
            forest.leaf_const.append(float(node.get("leaf_const", node["leaf_value"])))
            forest.leaf_features.append([int(v) for v in node.get("leaf_features") or []])
            forest.leaf_coeff.append([float(v) for v in node.get("leaf_coeff") or []])
            continue
        missing = node.get("missing_type", "None")
        if missing not in MISSING_TYPES:
            raise UnsupportedError(f"LightGBM missing type {missing!r} is not supported ({', '.join(MISSING_TYPES)})")
        forest.internal.append(True)
        forest.feature.append(int(node["split_feature"]))
        if node["decision_type"] == "==":
            forest.categories.append(frozenset(int(v) for v in str(node["threshold"]).split("||")))
            forest.threshold.append(0.0)
        elif node["decision_type"] == "<=":
            forest.categories.append(None)
            forest.threshold.append(_threshold(float(node["threshold"])))
        else:
            raise UnsupportedError(f"LightGBM decision type {node['decision_type']!r} is not supported (<=, ==)")
        forest.missing.append(missing)
        forest.default_left.append(bool(node.get("default_left", False)))
        forest.left.append(ids[id(node["left_child"])])
        forest.right.append(ids[id(node["right_child"])])
        stack += [node["right_child"], node["left_child"]]
