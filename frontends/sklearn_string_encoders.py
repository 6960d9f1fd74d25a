"""OneHotEncoder, OrdinalEncoder and TargetEncoder, as scikit-learn encodes (string columns,
and numeric columns with numeric categories).

skl2onnx's converters leave out what real pipelines use: infrequent categories (min_frequency,
max_categories), handle_unknown="infrequent_if_exist", a NaN category (a column with missing
values fitted as is), TargetEncoder's float64 encodings. Rather than re-derive each rule, each
feature's encoding is read off the fitted encoder itself: `transform` on one row per known
category, and on an unseen value, gives the rows of a table. The graph then looks each cell up:

    code = LabelEncoder(cell; keys = the categories, values = 0..K-1, default K)
    out  = Gather(table[K + 1, width], code)

so whatever scikit-learn does with a category (drop, group as infrequent, encode), the table
holds. A missing cell is the empty string (the CSV interface); it takes the row of the NaN
category where the encoder learned one, and is unseen otherwise. An unseen value takes what
`transform` gives it, or zeros where scikit-learn rejects it (handle_unknown="error": such
columns are closed, the artifacts check their levels). A numeric column's value is matched
against numeric categories exactly (Equal in the input's type; NaN: the NaN category), where
skl2onnx's OneHotEncoder would truncate it to an integer first.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np

from modelport.errors import UnsupportedError

from .sklearn_double_builder import all_strings, converter, install_in_front, is_string

UNSEEN = "\x00modelport unseen\x00"  # a value no fitted encoder has among its categories
# The type of the numbers the encoders give: that of the model's numeric inputs (a string
# input does not tell), set around each conversion by `numbers`.
_number_type = ["float64"]


@contextlib.contextmanager
def numbers(precision: str):
    """Encoders converted inside give `precision` ("float32" or "float64") values."""
    _number_type.append(precision)
    try:
        yield
    finally:
        _number_type.pop()


def install() -> None:
    """Put the converter in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
    from skl2onnx._supported_operators import sklearn_operator_name_map
    classes = [OneHotEncoder, OrdinalEncoder]
    try:
        from sklearn.preprocessing import TargetEncoder
        if TargetEncoder in sklearn_operator_name_map:
            classes.append(TargetEncoder)
    except ImportError:  # scikit-learn before 1.3
        pass
    install_in_front({c: sklearn_operator_name_map[c] for c in classes}, converter("category", _build, _ours),
                     shape=_shape)
    numbers_from_parse(classes)


def numbers_from_parse(classes) -> None:
    """Declare the numbers `classes` give from string columns in `numbers`' type when skl2onnx
    parses the model. skl2onnx's parser declares float for what a string column gives; a ColumnTransformer's
    Concat and the estimator after it take their output types from that declaration, so a
    double converter behind would build double nodes under float outputs."""
    from skl2onnx._parse import _parse_sklearn_simple_model, sklearn_parsers_map

    def parse(scope, model, inputs, custom_parsers=None):
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
        outputs = _parse_sklearn_simple_model(scope, model, inputs, custom_parsers=custom_parsers)
        if _number_type[-1] == "float64" and inputs and all(is_string(v) for v in inputs):
            for v in outputs:
                if isinstance(v.type, FloatTensorType):
                    v.type = DoubleTensorType(v.type.shape)
        return outputs
    for cls in classes:
        sklearn_parsers_map[cls] = parse


def is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def key(v) -> str:
    """The cell text that stands for category `v` (a missing category: the empty cell)."""
    return "" if is_missing(v) else str(v)


def _ours(operator, container=None) -> bool:
    """String columns, and numeric ones whose categories are numbers (matched exactly, where
    skl2onnx's OneHotEncoder would truncate the value to an integer first)."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, Int64TensorType
    if not operator.inputs:
        return False
    if all_strings(operator):
        return True
    numeric = all(isinstance(v.type, (DoubleTensorType, FloatTensorType, Int64TensorType)) for v in operator.inputs)
    return numeric and all(_numeric(c) for c in operator.raw_operator.categories_)


def _numeric(cats) -> bool:
    return np.asarray(cats).dtype.kind in "iuf"


def _shape(original):
    def calculate(operator):
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
        if not _ours(operator):
            return original(operator)
        widths = [t.shape[1] for t in tables(operator.raw_operator)]
        kind = DoubleTensorType if _number_type[-1] == "float64" else FloatTensorType
        operator.outputs[0].type = kind([operator.inputs[0].type.shape[0], int(sum(widths))])
    return calculate


def tables(model) -> list:
    """Per feature: a float64 [K + 1, width] table, the rows of its K categories (in
    `categories_` order) then the row of an unseen value."""
    cats = model.categories_
    numeric = all(_numeric(c) for c in cats)
    for c in cats:
        if not numeric and not all(isinstance(v, str) or is_missing(v) for v in c):
            raise UnsupportedError(f"{type(model).__name__} with categories {list(c)[:5]} on a string column: "
                                   "supported are string categories (and a missing one)")
    base = [c[0] for c in cats]
    widths = _widths(model, _transform(model, [base], numeric).shape[1])
    out = []
    for j, c in enumerate(cats):
        lo, width = int(sum(widths[:j])), widths[j]
        known = _transform(model, [base[:j] + [v] + base[j + 1:] for v in c], numeric)  # one call for all
        unseen = _transform(model, [base[:j] + [_unseen(c) if numeric else UNSEEN] + base[j + 1:]], numeric)
        # an unseen value scikit-learn rejects (handle_unknown="error"): zeros, the column is closed
        out.append(np.vstack([known[:, lo:lo + width],
                              np.zeros((1, width)) if unseen is None else unseen[:, lo:lo + width]]))
    return out


def _unseen(cats) -> float:
    """A number that is none of the categories."""
    return next(v for v in (0.5, -1.5, 1e300, -1e300) if not np.any(np.asarray(cats, np.float64) == v))


def _transform(model, rows: list, numeric: bool = False):
    """`transform` of the rows as float64 [rows, width]; None when scikit-learn rejects them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            y = model.transform(np.array(rows, dtype=np.float64 if numeric else object))
        except ValueError:
            return None
    return np.asarray(y.toarray() if hasattr(y, "toarray") else y, dtype=np.float64)


def _widths(model, total: int) -> list:
    """Output columns per feature."""
    n = len(model.categories_)
    outs = getattr(model, "_n_features_outs", None)  # OneHotEncoder (drop, infrequent groups)
    if outs is not None:
        return [int(w) for w in outs]
    if total % n:
        raise UnsupportedError(f"{type(model).__name__}: {total} output columns for {n} features")
    return [total // n] * n


def _build(b, model, operator, container):
    names = [v.full_name for v in operator.inputs]
    x = names[0] if len(names) == 1 else b.op("Concat", *names, axis=1)
    parts = []
    for j, (cats, table) in enumerate(zip(model.categories_, tables(model))):
        if _numeric(cats):
            code = numeric_code(b, b.column(x, j), np.asarray(cats, np.float64), _input_dtype(operator))
        else:
            keys = [key(v) for v in cats]
            code = b.op("LabelEncoder", b.column(x, j), domain="ai.onnx.ml", keys_strings=keys,
                        values_int64s=list(range(len(keys))), default_int64=len(keys))
        dtype = np.float64 if _number_type[-1] == "float64" else np.float32
        rows = b.op("Gather", b.const(table, dtype, hint="encoding"), code, axis=0)  # [N, 1, w]
        parts.append(b.op("Reshape", rows, b.const([-1, table.shape[1]], np.int64, "shape")))
    out = parts[0] if len(parts) == 1 else b.op("Concat", *parts, axis=1)
    b.op("Identity", out, out=operator.outputs[0].full_name)


def _input_dtype(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    kind = operator.inputs[0].type
    return np.float64 if isinstance(kind, DoubleTensorType) else np.float32 if isinstance(kind, FloatTensorType) \
        else np.int64


def numeric_code(b, x: str, cats: np.ndarray, dtype) -> str:
    """[N, 1] int64: the position of x ([N, 1] of `dtype`) among the numeric categories (equal as
    numbers; NaN: the NaN category), K when it is none of them."""
    finite = ~np.isnan(cats)
    k = len(cats)
    values = np.where(finite, cats, 0).astype(dtype).reshape(1, -1)
    hits = b.op("And", b.op("Equal", x, b.const(values, hint="categories")), b.const(finite.reshape(1, -1)))
    hits = b.cast(hits, 1)  # FLOAT
    first = b.op("ArgMax", hits, axis=1, keepdims=1)
    found = b.op("Greater", b.reduce("ReduceMax", hits, [1], keepdims=1), b.const(np.float32(0.5)))
    code = b.op("Where", found, first, b.const(np.array([[k]], np.int64)))
    if dtype != np.int64:
        missing = int(np.flatnonzero(~finite)[0]) if (~finite).any() else k
        code = b.op("Where", b.op("IsNaN", x), b.const(np.array([[missing]], np.int64)), code)
    return code
