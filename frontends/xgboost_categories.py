"""XGBoost's categorical splits as numeric ones, with standard ONNX ops.

XGBoost sends a row right at a categorical split when its category is in the split's set,
left otherwise; a missing category takes the split's default side. The compiled model takes
the category names (a string column; XGBoost refuses a name it was not trained on) or, for a
feature trained from codes (a DMatrix with feature_types "c"), the codes: a negative value is
no category, a fractional one counts by its integer part.

Every distinct (feature, set) pair of the trees becomes one column of the trees' input:
1.0 where the row's category is in the set, 0.0 where it is another known category, NaN
where it is missing or unknown; the split becomes `column < 0.5` (left: not in the set) with
the split's own default side. Per categorical feature that is one string lookup
(LabelEncoder: name -> code, anything else -> one code past the names) and one Gather of a
constant [codes + 1, sets] table: numeric features keep their own columns, in front.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from onnx import TensorProto

from .xgboost_model import Model


@dataclass
class Layout:
    """Where each split reads in the trees' input."""
    position: dict  # numeric feature -> column
    derived: dict = field(default_factory=dict)  # (feature, frozenset of codes) -> column
    sets: dict = field(default_factory=dict)  # categorical feature -> [frozenset] in column order

    def split(self, tree, j) -> tuple:
        f = int(tree.feature[j])
        if tree.categorical[j]:
            return self.derived[(f, tree.category_sets.get(j, frozenset()))], 0.5
        return self.position[f], float(tree.condition[j])


def layout(model: Model, trees: list) -> Layout:
    cats = set(model.categorical_features)
    if not cats:
        return Layout({f: f for f in range(model.n_features)})
    numeric = [f for f in range(model.n_features) if f not in cats]
    out = Layout({f: i for i, f in enumerate(numeric)}, sets={f: [] for f in sorted(cats)})
    for t in trees:
        for j in np.flatnonzero((t.left >= 0) & t.categorical):
            key = (int(t.feature[j]), t.category_sets.get(int(j), frozenset()))
            if key not in out.derived:
                out.sets[key[0]].append(key[1])
                out.derived[key] = None
    column = len(numeric)
    for f in sorted(cats):
        for s in out.sets[f]:
            out.derived[(f, s)] = column
            column += 1
    return out


def features(b, model: Model, lay: Layout, columns: dict) -> str:
    """The trees' input [N, columns] float32 from the per-feature inputs `columns` {feature:
    value name}: numeric ones [N, 1] float32, categorical ones [N, 1] strings (codes, for
    features without names: [N, 1] float32)."""
    parts = [columns[f] for f in sorted(lay.position, key=lay.position.get)]
    for f, sets in lay.sets.items():
        if not sets:
            continue
        if f not in model.categories:
            parts.append(_codes(b, columns[f], sets, f))
            continue
        names = model.categories[f]
        code = b.op("LabelEncoder", columns[f], domain="ai.onnx.ml", keys_strings=names,
                    values_int64s=list(range(len(names))), default_int64=len(names))
        table = np.full((len(names) + 1, len(sets)), np.nan, np.float32)
        for j, s in enumerate(sets):
            table[:len(names), j] = [1.0 if c in s else 0.0 for c in range(len(names))]
        flat = b.op("Reshape", code, b.const(np.asarray([-1], np.int64), hint="flat"))
        parts.append(b.op("Gather", b.const(table, hint=f"sets_{f}"), flat, axis=0))
    return parts[0] if len(parts) == 1 else b.op("Concat", *parts, axis=1)



def _codes(b, v: str, sets: list, f: int) -> str:
    """[N, sets] for a feature given as category codes ([N, 1] float32), as XGBoost decides: a
    missing value is missing (NaN, the split's default side); a value below 0 (or too large)
    is no category (left); otherwise its integer part is the code."""
    top = max((max(s) for s in sets if s), default=0) + 1
    table = np.zeros((top + 1, len(sets)), np.float32)  # row `top`: in no set
    for j, s in enumerate(sets):
        table[sorted(s), j] = 1.0
    inside = b.op("And", b.op("GreaterOrEqual", v, b.const(np.float32(0))), b.op("Less", v, b.const(np.float32(top))))
    code = b.cast(b.op("Where", inside, v, b.const(np.float32(top))), TensorProto.INT64)
    rows = b.op("Gather", b.const(table, hint=f"codes_{f}"), b.op("Reshape", code, b.const(np.asarray([-1], np.int64))),
                axis=0)
    return b.op("Where", b.op("IsNaN", v), b.const(np.float32(np.nan)), rows)
