"""SimpleImputer on string columns (strategy "constant" or "most_frequent").

A missing cell of a string column is the empty string (the CSV interface; pandas reads it as
NaN, which is what scikit-learn's default missing_values matches). skl2onnx refuses NaN as a
string missing value, so the graph is built here (sklearn_imputer_double's converter hands
string inputs to `build`): missing = LabelEncoder(cell; "" -> 1, else 0) as bool, then
Where(missing, statistics_, cell). With missing_values a string, that string is the key.
"""
from __future__ import annotations

import numbers

import numpy as np

from modelport.errors import UnsupportedError


def missing_key(model) -> str:
    value = model.missing_values
    if value is None or (isinstance(value, numbers.Real) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    raise UnsupportedError(f"SimpleImputer(missing_values={value!r}) on strings is not supported: supported are "
                           "NaN or None (an empty cell) and a string")


def fill_values(model) -> np.ndarray:
    stats = np.asarray(model.statistics_, dtype=object)
    if any(not isinstance(v, str) for v in stats):
        raise UnsupportedError(f"SimpleImputer with fill values {list(stats)!r} on strings is not supported: "
                               "supported are string fill values (strategy 'constant' with a string "
                               "fill_value, or 'most_frequent')")
    if getattr(model, "indicator_", None) is not None:
        raise UnsupportedError("SimpleImputer(add_indicator=True) on strings is not supported (its output would "
                               "mix strings and numbers); add a MissingIndicator on its own")
    return np.array([str(v) for v in stats], dtype=object)


def build(b, model, operator) -> None:
    names = [v.full_name for v in operator.inputs]
    x = names[0] if len(names) == 1 else b.op("Concat", *names, axis=1)
    fill = fill_values(model)
    flag = b.op("LabelEncoder", x, domain="ai.onnx.ml", keys_strings=[missing_key(model)], values_int64s=[1],
                default_int64=0)
    missing = b.op("Cast", flag, to=9)  # BOOL
    b.op("Where", missing, b.const(fill.reshape(1, -1), hint="fill"), x, out=operator.outputs[0].full_name)
