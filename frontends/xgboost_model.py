"""An XGBoost Booster read as data: its trees, the objective, the base margin, the features.

XGBoost's arithmetic, which the compiled model follows: the input is stored as float32 (a
DMatrix); an internal node sends a row left when `x < split_condition` (float32), a missing
value (NaN, or the `missing` value) to the learned default side; a row's margin for output k
is the base margin plus the leaf values of the trees of group k (float32, tree order; DART
scales each tree by its weight); the objective turns margins into predictions.

The Booster is read through its JSON form (`save_raw("json")`), so models from `xgb.train`,
the scikit-learn wrappers and model files (`.json`, `.ubj`, legacy binary) read the same way.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

from modelport.errors import UnsupportedError

# objective -> (how base_score becomes a margin, what turns margins into predictions)
#   base: "identity" | "logit" | "log";  transform: "identity" | "sigmoid" | "exp" | "softmax" |
#   "argmax" (multi:softmax: the class index) | "hinge" (1 where the margin > 0, else 0)
OBJECTIVES = {
    "reg:squarederror": ("identity", "identity"),
    "reg:linear": ("identity", "identity"),
    "reg:squaredlogerror": ("identity", "identity"),
    "reg:pseudohubererror": ("identity", "identity"),
    "reg:absoluteerror": ("identity", "identity"),
    "reg:quantileerror": ("identity", "identity"),
    "reg:logistic": ("logit", "sigmoid"),
    "binary:logistic": ("logit", "sigmoid"),
    "binary:logitraw": ("logit", "identity"),
    "binary:hinge": ("identity", "hinge"),
    "count:poisson": ("log", "exp"),
    "reg:gamma": ("log", "exp"),
    "reg:tweedie": ("log", "exp"),
    "survival:cox": ("log", "exp"),
    "multi:softprob": ("identity", "softmax"),
    "multi:softmax": ("identity", "argmax"),
    "rank:pairwise": ("identity", "identity"),
    "rank:ndcg": ("identity", "identity"),
    "rank:map": ("identity", "identity"),
}
BOOSTERS = ("gbtree", "dart")


@dataclass
class Tree:
    left: np.ndarray  # int per node; -1 at a leaf
    right: np.ndarray
    feature: np.ndarray
    condition: np.ndarray  # float32: split condition, or the leaf value at a leaf
    default_left: np.ndarray  # bool
    categorical: np.ndarray  # bool: a categorical split
    group: int  # the output (class or target) the tree adds to
    weight: float = 1.0  # DART's tree weight
    # node -> the category codes a categorical split sends right (the others go left)
    category_sets: dict = field(default_factory=dict)


@dataclass
class Model:
    objective: str
    booster: str
    trees: list
    n_outputs: int
    base_margin: np.ndarray  # float32 [n_outputs]
    n_features: int
    feature_names: list = field(default_factory=list)
    feature_types: list = field(default_factory=list)
    iteration_indptr: list = field(default_factory=list)  # trees of round r: indptr[r]:indptr[r + 1]
    best_iteration: int | None = None
    # feature -> its category names (index = the code XGBoost splits on), for the features of
    # type "c" trained from pandas category columns (those trained from codes have none)
    categories: dict = field(default_factory=dict)
    # the categorical features whose categories are integers (named by their decimal text)
    integer_categories: set = field(default_factory=set)

    @property
    def categorical_features(self) -> list:
        return [f for f, t in enumerate(self.feature_types) if t == "c"]

    @property
    def coded_features(self) -> list:
        """Categorical features without stored names: the model takes their codes."""
        return [f for f in self.categorical_features if f not in self.categories]

    @property
    def transform(self) -> str:
        return OBJECTIVES[self.objective][1]

    @property
    def rounds(self) -> int:
        return max(len(self.iteration_indptr) - 1, 0)

    def first_rounds(self, n: int | None) -> list:
        """The trees of the first `n` boosting rounds (all of them for None)."""
        if n is None or n >= self.rounds:
            return self.trees
        return self.trees[:self.iteration_indptr[n]]

    def thresholds(self, names: list) -> dict:
        """{column name: split conditions} of the numeric splits (`names`: the features' names)."""
        out = {}
        for t in self.trees:
            inner = (t.left >= 0) & ~t.categorical
            for f, v in zip(t.feature[inner], t.condition[inner]):
                if f < len(names):
                    out.setdefault(names[f], []).append(float(v))
        return out


def read(booster) -> Model:
    """The Booster's trees and parameters (UnsupportedError for what cannot compile)."""
    doc = json.loads(bytes(booster.save_raw("json")))
    learner = doc["learner"]
    objective = learner["objective"]["name"]
    if objective not in OBJECTIVES:
        raise UnsupportedError(f"the XGBoost objective {objective!r} is not supported; supported: "
                               f"{', '.join(sorted(OBJECTIVES))}")
    gb = learner["gradient_booster"]
    kind = gb["name"]
    if kind not in BOOSTERS:
        raise UnsupportedError(f"the XGBoost booster {kind!r} is not supported; supported: {', '.join(BOOSTERS)} "
                               "(train with booster='gbtree' or 'dart')")
    model = gb["gbtree"]["model"] if kind == "dart" else gb["model"]
    weights = gb.get("weight_drop") or [] if kind == "dart" else []
    param = learner["learner_model_param"]
    n_class = int(param.get("num_class", 0) or 0)
    n_target = int(param.get("num_target", 1) or 1)
    n_outputs = max(n_class, n_target, 1)
    trees = []
    for i, (t, group) in enumerate(zip(model["trees"], model["tree_info"])):
        if int(t["tree_param"].get("size_leaf_vector", "1") or 1) > 1:
            raise UnsupportedError("XGBoost trees with vector leaves (multi_strategy='multi_output_tree') are not "
                                   "supported; train with multi_strategy='one_output_per_tree' (the default)")
        left = np.asarray(t["left_children"], np.int64)
        trees.append(Tree(
            left=left, right=np.asarray(t["right_children"], np.int64),
            feature=np.asarray(t["split_indices"], np.int64),
            condition=np.asarray(t["split_conditions"], np.float64).astype(np.float32),
            default_left=np.asarray(t["default_left"], bool),
            categorical=np.asarray(t.get("split_type") or [0] * len(left), bool),
            group=int(group), weight=float(weights[i]) if i < len(weights) else 1.0,
            category_sets=_category_sets(t)))
    indptr = [int(v) for v in model.get("iteration_indptr") or []]
    if not indptr:
        per_round = int(model["gbtree_model_param"].get("num_parallel_tree", "1")) * n_outputs
        indptr = list(range(0, len(trees) + 1, max(per_round, 1)))
    attributes = learner.get("attributes", {})
    best = attributes.get("best_iteration")
    feature_types = list(learner.get("feature_types") or [])
    categories = _category_names(model.get("cats") or {}, feature_types)
    enc = (model.get("cats") or {}).get("enc") or []
    integers = {f for f in categories if f < len(enc) and not enc[f].get("offsets")}
    return Model(objective=objective, booster=kind, trees=trees, n_outputs=n_outputs,
                 base_margin=_base_margin(param["base_score"], objective, n_outputs),
                 n_features=int(param.get("num_feature", 0)),
                 feature_names=list(learner.get("feature_names") or []),
                 feature_types=feature_types, categories=categories, integer_categories=integers,
                 iteration_indptr=indptr, best_iteration=int(best) if best is not None else None)


def _category_sets(t: dict) -> dict:
    cats, nodes = t.get("categories") or [], t.get("categories_nodes") or []
    starts, sizes = t.get("categories_segments") or [], t.get("categories_sizes") or []
    return {int(n): frozenset(int(c) for c in cats[int(s):int(s) + int(k)]) for n, s, k in zip(nodes, starts, sizes)}


def _category_names(cats: dict, feature_types: list) -> dict:
    """{feature: names} from the model's stored category encodings (UTF-8 bytes with offsets;
    integers as their decimal text). Categorical features without stored names (trained from
    codes) are left out: the compiled model takes their codes."""
    enc = cats.get("enc") or []
    out = {}
    for f, kind in enumerate(feature_types):
        if kind != "c":
            continue
        e = enc[f] if f < len(enc) else {}
        if not e.get("values") and not e.get("offsets"):
            continue  # codes
        if not e.get("offsets"):
            # a pandas category column of integers (XGBoost refuses float categories): the
            # compiled model takes them as text, the names of a closed string column
            values = e["values"]
            if not all(float(v) == int(v) for v in values):
                raise UnsupportedError(f"XGBoost categorical feature {f} has categories {values[:5]} that are not "
                                       "integers; supported: strings, integers, and category codes")
            out[f] = [str(int(v)) for v in values]
            continue
        raw, offsets = bytes(int(v) & 0xFF for v in e["values"]), e["offsets"]  # signed chars
        out[f] = [raw[a:b].decode("utf-8") for a, b in zip(offsets[:-1], offsets[1:])]
    return out


def _base_margin(text: str, objective: str, n: int) -> np.ndarray:
    """base_score (in the objective's output space; one per output from XGBoost 3) as margins."""
    values = json.loads(text) if text.strip().startswith("[") else [float(text)]
    base = np.asarray(values, np.float64).reshape(-1)
    if base.size == 1:
        base = np.repeat(base, n)
    link = OBJECTIVES[objective][0]
    with np.errstate(divide="ignore"):
        if link == "logit":
            base = -np.log(1.0 / base - 1.0)
        elif link == "log":
            base = np.log(base)
    return base.astype(np.float32)


def regressor_attributes(trees: list, n_outputs: int, base_margin, split) -> dict:
    """TreeEnsembleRegressor (ai.onnx.ml 3) attributes: float32 thresholds compared with
    BRANCH_LT as XGBoost does, NaN to the default side, base_values = the base margin.
    `split(tree, node)` -> (column of the trees' input, threshold) of an internal node."""
    cols = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_modes", "nodes_values",
                            "nodes_truenodeids", "nodes_falsenodeids", "nodes_missing_value_tracks_true",
                            "target_treeids", "target_nodeids", "target_ids", "target_weights")}
    for i, t in enumerate(trees):
        n = len(t.left)
        leaf = t.left < 0
        cols["nodes_treeids"] += [i] * n
        cols["nodes_nodeids"] += list(range(n))
        for j in range(n):
            feature, value = (0, 0.0) if leaf[j] else split(t, j)
            cols["nodes_featureids"].append(int(feature))
            cols["nodes_values"].append(float(value))
        cols["nodes_modes"] += ["LEAF" if leaf[j] else "BRANCH_LT" for j in range(n)]
        cols["nodes_truenodeids"] += [0 if leaf[j] else int(t.left[j]) for j in range(n)]
        cols["nodes_falsenodeids"] += [0 if leaf[j] else int(t.right[j]) for j in range(n)]
        cols["nodes_missing_value_tracks_true"] += [0 if leaf[j] else int(t.default_left[j]) for j in range(n)]
        for j in np.flatnonzero(leaf):
            cols["target_treeids"].append(i)
            cols["target_nodeids"].append(int(j))
            cols["target_ids"].append(t.group)
            # DART: XGBoost adds weight * leaf, a float32 product
            value = t.condition[j] if t.weight == 1.0 else np.float32(t.weight) * t.condition[j]
            cols["target_weights"].append(float(np.float32(value)))
    cols.update(n_targets=int(n_outputs), aggregate_function="SUM", post_transform="NONE",
                base_values=[float(v) for v in np.asarray(base_margin, np.float32)])
    return cols
