"""SimpleImputer in double, as scikit-learn computes it.

skl2onnx converts it to ai.onnx.ml Imputer, whose fill values are float32 and which ONNX
Runtime runs for float and int64 only. `install()` puts a converter in front of skl2onnx's:
for a double input, bare or inside a pipeline or column transformer, the output is
Where(missing, statistics_, x) in double, where `missing` is IsNaN(x) (missing_values NaN)
or Equal(x, missing_values) (a number).

It also does what skl2onnx's converter leaves out, in float as in double: columns without any
observed value at fit time are dropped (unless keep_empty_features), and add_indicator
appends the MissingIndicator's columns (1.0 where the value was missing) for the features it
kept. String inputs are built by sklearn_string_imputer; other float inputs and int64 go to
skl2onnx's converter.
"""
from __future__ import annotations

import numbers

import numpy as np

from modelport.errors import UnsupportedError
from modelport.passes.ml_to_tensor._builder import F32, F64

from . import sklearn_string_imputer
from .sklearn_double_builder import all_double, all_strings, converter, install_in_front


def install() -> None:
    """Put the converter in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.impute import SimpleImputer
    install_in_front({SimpleImputer: "SklearnSimpleImputer"}, converter("imputer", _build, _ours), shape=_shape)


def _statistics(model) -> np.ndarray:
    """The fill values as float64 (strategy="constant" keeps them as objects)."""
    try:
        return np.asarray(model.statistics_, np.float64)
    except (TypeError, ValueError):
        raise UnsupportedError(f"SimpleImputer with fill values {model.statistics_!r} on numbers is not "
                               "supported: supported are numeric fill values") from None


def _kept(model) -> np.ndarray:
    """Indices of the columns scikit-learn's transform keeps."""
    stats = _statistics(model)
    if model.keep_empty_features:
        return np.arange(stats.size)
    return np.flatnonzero(~np.isnan(stats))


def _indicated(model) -> np.ndarray:
    """Indices of the columns whose missing-value flags add_indicator appends."""
    indicator = getattr(model, "indicator_", None)
    return np.zeros(0, np.int64) if indicator is None else np.asarray(indicator.features_, np.int64)


def _ours(operator, container=None) -> bool:
    """Built here: double inputs, and float inputs that skl2onnx's converter gets wrong."""
    from skl2onnx.common.data_types import FloatTensorType
    model = operator.raw_operator
    if all_double(operator) or all_strings(operator):
        return True
    if not all(isinstance(v.type, FloatTensorType) for v in operator.inputs):
        return False
    return len(_kept(model)) != np.asarray(model.statistics_).size or len(_indicated(model)) > 0


def _shape(original):
    def calculate(operator):
        original(operator)
        if _ours(operator) and not all_strings(operator):
            out = operator.outputs[0]
            model = operator.raw_operator
            out.type.shape = [out.type.shape[0], len(_kept(model)) + len(_indicated(model))]
    return calculate


def _build(b, model, operator, container):
    if all_strings(operator):
        return sklearn_string_imputer.build(b, model, operator)
    double = all_double(operator)
    dtype = np.float64 if double else np.float32
    stats = _statistics(model)
    x = b.input(operator)
    missing = _missing(b, x, model.missing_values, dtype)
    filled = b.op("Where", missing, b.const(stats.astype(dtype).reshape(1, -1), hint="statistics"), x)
    kept, indicated = _kept(model), _indicated(model)
    if len(kept) != stats.size:
        filled = b.op("Gather", filled, b.const(kept.astype(np.int64), hint="kept"), axis=1)
    if len(indicated):
        flags = b.op("Gather", b.cast(missing, F64 if double else F32),
                     b.const(indicated, hint="indicated"), axis=1)
        filled = b.op("Concat", filled, flags, axis=1)
    b.op("Identity", filled, out=operator.outputs[0].full_name)


def _missing(b, x: str, value, dtype) -> str:
    """[N, C] bool: where scikit-learn's _get_mask(X, missing_values) is true."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        if np.isnan(value):
            return b.op("IsNaN", x)
        return b.op("Equal", x, b.const(np.asarray(value, dtype)))
    raise UnsupportedError(f"SimpleImputer(missing_values={value!r}) on numbers is not supported: supported "
                           "are NaN and numbers")
