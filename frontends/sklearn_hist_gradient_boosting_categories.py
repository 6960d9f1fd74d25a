"""HistGradientBoosting with categorical features, as scikit-learn predicts (double path).

A model with categorical features (`categorical_features`, or "from_dtype" with pandas
category columns) holds a preprocessor: an OrdinalEncoder on the categorical columns (unknown
and missing values become NaN) placed before the numeric ones. Its trees read that order; a
categorical split (scikit-learn's _predictor.pyx) sends a row

    NaN or a negative value:               the missing-value side;
    a code in the split's left bitset:     left;
    a code in the feature's known bitset:  right;
    any other:                             the missing-value side.

Here each categorical column becomes its code (LabelEncoder on strings, exact equality on
numbers; K for unknown or missing), and each distinct (feature, left set) of the splits one
column of the trees' input looked up from the code: 0.0 (left), 1.0 (right) or NaN (missing
side), split as `column <= 0.5` with the node's own missing direction.
"""
from __future__ import annotations

import numpy as np

from modelport.passes.ml_to_tensor._builder import F64

from .sklearn_double_builder import is_double, is_string
from .sklearn_string_encoders import numeric_code


def has_categories(model) -> bool:
    cats = getattr(model, "is_categorical_", None)
    return cats is not None and bool(np.any(cats))


def bitset(row) -> set:
    """The values whose bits are set in one of scikit-learn's [8] uint32 bitsets."""
    return {32 * w + b for w, word in enumerate(np.asarray(row, np.uint64)) for b in range(32) if int(word) >> b & 1}


class Layout:
    """The trees' input: the numeric columns (in the trees' order), then one column per
    distinct (categorical feature, left set)."""

    def __init__(self, model):
        self.categorical = np.flatnonzero(model.is_categorical_)  # original columns, trees' order
        self.numeric = np.flatnonzero(~np.asarray(model.is_categorical_, bool))
        encoder = model._preprocessor.named_transformers_["encoder"]
        self.categories = [[v for v in c if not (isinstance(v, float) and np.isnan(v))] for c in encoder.categories_]
        known, f_idx_map = model._bin_mapper.make_known_categories_bitsets()
        self.known = [bitset(known[f_idx_map[r]]) for r in range(len(self.categorical))]
        self.sets = []  # [(categorical feature r, frozenset left)] in column order
        self.column = {}

    def split(self, predictor, node) -> tuple:
        """(column of the trees' input, threshold) of an internal node."""
        n_cat = len(self.categorical)
        f = int(node["feature_idx"])
        if not node["is_categorical"]:
            return f - n_cat, float(node["num_threshold"])
        key = (f, frozenset(bitset(predictor.raw_left_cat_bitsets[node["bitset_idx"]])))
        if key not in self.column:
            self.column[key] = len(self.numeric) + len(self.sets)
            self.sets.append(key)
        return self.column[key], 0.5

    def inputs(self, b, columns: list) -> str:
        """The trees' input [N, width] double from the original columns ([N, 1] each)."""
        parts = [columns[j] for j in self.numeric]
        codes = {}
        for f, left in self.sets:
            if f not in codes:
                codes[f] = self._code(b, columns[self.categorical[f]], f)
            k = len(self.categories[f])
            table = np.full(k + 1, np.nan)
            for c in range(k):
                table[c] = 0.0 if c in left else 1.0 if c in self.known[f] else np.nan
            parts.append(b.op("Gather", b.const(table, hint="category_sides"), codes[f], axis=0))
        return parts[0] if len(parts) == 1 else b.op("Concat", *parts, axis=1)

    def _code(self, b, column: str, f: int) -> str:
        """[N, 1] int64: the category's code, K for an unknown or missing one."""
        cats = self.categories[f]
        if cats and all(isinstance(v, str) for v in cats):
            code = b.op("LabelEncoder", column, domain="ai.onnx.ml", keys_strings=list(cats),
                        values_int64s=list(range(len(cats))), default_int64=len(cats))
            return b.op("Reshape", code, b.const(np.asarray([-1, 1], np.int64)))
        return numeric_code(b, column, np.asarray(cats, np.float64), np.float64)


def columns(b, operator, n: int) -> list:
    """The model's input columns as [N, 1] values: one input per column (strings stay
    strings), or slices of one [N, n] input (made double)."""
    names = [v.full_name for v in operator.inputs]
    if len(names) == n:
        return [name if is_double(v) or is_string(v) else b.cast(name, F64) for name, v in zip(names, operator.inputs)]
    x = b.input(operator)
    return [b.column(x, j) for j in range(n)]
