"""scikit-learn frontend: fitted estimators (objects, .skops, trusted .pkl/.joblib) to SourceModel.

skl2onnx does the conversion; this module decides the input schema (one float tensor for
numeric models, one column tensor per feature when string columns are involved), names
the outputs, and wraps the estimator's own predict / predict_proba / transform as the
reference.
"""
from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
import onnx

from modelport.errors import UnsupportedError, UsageError
from modelport.onnx_edit import rename_values
from modelport.schema import Column, Schema
from modelport.source_model import SourceModel

from . import sklearn_text_vectorizer as text_vectorizer

TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
TEXT_COLUMN = "text"  # the input column of a model that starts with a text vectorizer
# Converters put in front of skl2onnx's (each module's `install()`), for the estimators that
# scikit-learn computes in float64 but that skl2onnx (or ONNX Runtime) has only in float32: they
# build the same outputs in double (frontends/sklearn_double_builder.py).
DOUBLE_CONVERTERS = (
    "sklearn_hist_gradient_boosting_double",  # installs the float converters it stands in front of
    "sklearn_svm_double",
    "sklearn_imputer_double",
    "sklearn_linear_svc_double",
    "sklearn_polynomial_features_double",
    "sklearn_k_bins_discretizer_double",
    "sklearn_power_transformer_double",
    "sklearn_bernoulli_nb_double",
)
# Converters put in front of skl2onnx's for encoders of string columns (string imputation is
# part of sklearn_imputer_double's converter).
STRING_CONVERTERS = ("sklearn_string_encoders", "sklearn_text_vectorizer")
# Converters put in front of skl2onnx's where it refuses a setting that does not change the
# predictions.
SETTING_CONVERTERS = ("sklearn_voting_classifier", "sklearn_quantile_normal")
# Converters of estimators skl2onnx does not convert.
OWN_CONVERTERS = ("sklearn_spline_transformer",)
# Converters of other libraries' scikit-learn wrappers (each installs itself only once its
# library is loaded).
LIBRARY_CONVERTERS = ("sklearn_xgboost", "sklearn_lightgbm")
# Wrappers a library's own frontend compiles when bare and fitted on category columns:
# module prefix -> (frontend, its test of such a wrapper).
CATEGORICAL_WRAPPERS = {"xgboost": ("xgboost", "has_categorical_features"),
                        "lightgbm": ("lightgbm", "has_string_categories")}
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib")


def load(path: Path, trust_pickle: bool = False):
    """Load a fitted estimator from .skops, or from .pkl/.joblib when trusted."""
    suffix = path.suffix.lower()
    if suffix == ".skops":
        import skops.io as sio
        try:
            untrusted = sio.get_untrusted_types(file=path)
            return sio.load(path, trusted=untrusted if trust_pickle else _safe_types(untrusted, path))
        except UsageError:
            raise
        except Exception as exc:
            raise UsageError(f"cannot read {path} as a skops file: {exc}") from None
    if suffix in PICKLE_SUFFIXES:
        if not trust_pickle:
            raise UsageError(
                f"{path} is a pickle file: loading it runs arbitrary code stored in it. Pass "
                "--trust-pickle if you trust its origin, or save the model with skops "
                "(skops.io.dump) and compile the .skops file instead.")
        import joblib
        try:
            return joblib.load(path)
        except Exception as exc:
            raise UsageError(f"cannot read {path} as a pickle/joblib file: {exc}") from None
    raise UsageError(f"unknown scikit-learn model file type {suffix!r}: use .skops, or .pkl/.joblib "
                     "with --trust-pickle")


def _safe_types(untrusted, path):
    risky = [t for t in untrusted if not (t.startswith("sklearn.") or t.startswith("numpy.")
                                          or t.startswith("scipy.") or t in ("builtins.slice",))]
    if risky:
        raise UsageError(f"{path} holds types outside scikit-learn, numpy and scipy ({', '.join(risky)}); "
                         "pass --trust-pickle if you trust its origin")
    return untrusted


def is_estimator(obj) -> bool:
    return hasattr(obj, "fit") and hasattr(obj, "get_params")


def _first_step(est):
    from sklearn.pipeline import Pipeline
    return est.steps[0][1] if isinstance(est, Pipeline) else est


def _final_step(est):
    from sklearn.pipeline import Pipeline
    while isinstance(est, Pipeline):
        est = est.steps[-1][1]
    return est


def _column_name(ct, cols, c):
    """A column transformer's column `c` (a name, or a position among its inputs) by name."""
    if not isinstance(c, (int, np.integer)):
        return c
    if hasattr(ct, "feature_names_in_"):
        return ct.feature_names_in_[c]
    return cols[c] if cols and c < len(cols) else c


def _closed_columns(found: dict, strings: set) -> set:
    """String columns whose encoder rejects a category it was not fitted on (handle_unknown="error");
    `found`: _encoders' result."""
    return {c for c, (e, _) in found.items() if c in strings and getattr(e, "handle_unknown", None) == "error"}


def _encoders(est) -> dict:
    """{column: (the encoder it feeds, or the string SimpleImputer that feeds something else,
    or None for a column the model's first ColumnTransformer drops; the column's position
    among that one's features)}."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    is_text = text_vectorizer.is_text
    try:
        from sklearn.preprocessing import TargetEncoder
    except ImportError:  # scikit-learn before 1.3
        TargetEncoder = OrdinalEncoder
    found = {}
    first = _first_step(est)

    def visit(e, cols):
        if isinstance(e, Pipeline):
            steps = [s for _, s in e.steps if s not in (None, "passthrough")]
            # a string SimpleImputer keeps its columns: look at what it feeds
            while len(steps) > 1 and _imputes_strings(steps[0]):
                found.update({c: (steps[0], j) for j, c in enumerate(cols or []) if c not in found})
                steps = steps[1:]
            if steps:
                visit(steps[0], cols)
        elif isinstance(e, ColumnTransformer):
            for _, trans, tcols in e.transformers_:
                if isinstance(tcols, np.ndarray) and tcols.dtype == bool:
                    tcols = np.flatnonzero(tcols)
                names = [tcols] if isinstance(tcols, (str, int)) else list(tcols)
                names = [_column_name(e, cols, c) for c in names]
                if trans == "drop" and e is first:
                    # a column the model never reads: any text is accepted (and ignored)
                    found.update({c: (None, j) for j, c in enumerate(names) if c not in found})
                if not isinstance(trans, str):
                    visit(trans, names)
        elif isinstance(e, (OneHotEncoder, OrdinalEncoder, TargetEncoder)) or _imputes_strings(e) or is_text(e):
            found.update({c: (e, j) for j, c in enumerate(cols or [])})
        elif getattr(e, "_preprocessor", None) is not None and hasattr(e, "is_categorical_"):
            visit(e._preprocessor, cols)  # HistGradientBoosting's encoder of its categorical features
    if is_text(first):
        visit(est, [TEXT_COLUMN])
        return found
    n = getattr(est, "n_features_in_", 0)
    visit(est, [str(c) for c in getattr(est, "feature_names_in_", [])] or [f"f{i}" for i in range(n)])
    return found


def _check_categorical_boosting(est, final) -> None:
    """HistGradientBoosting matches categories exactly: they must come from the input columns
    (a bare model) or from a ColumnTransformer's encoder, not from arithmetic (a scaler) whose
    last bit the compiled model might not reproduce."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from . import sklearn_hist_gradient_boosting_categories as hgb
    if final is est or not hgb.has_categories(final):
        return
    inner = est
    while isinstance(inner, Pipeline) and isinstance(inner.steps[-1][1], Pipeline):
        inner = inner.steps[-1][1]
    before = inner.steps[-2][1] if isinstance(inner, Pipeline) and len(inner.steps) > 1 else None
    if not isinstance(before, ColumnTransformer):
        raise UnsupportedError(f"{type(final).__name__} with categorical features is supported bare or right after a "
                               "ColumnTransformer (an OrdinalEncoder there, say), not after "
                               f"{type(before).__name__}: categories are matched exactly")


def _selects_by_name(est) -> bool:
    """The model starts with a ColumnTransformer that picks columns by name: the converted
    graph then takes one input per column."""
    from sklearn.compose import ColumnTransformer
    first = _first_step(est)
    return isinstance(first, ColumnTransformer) and any(
        isinstance(c, str) or (not isinstance(c, (int, np.integer, slice)) and any(isinstance(v, str) for v in c))
        for _, _, c in first.transformers_ if not callable(c))


def _imputes_strings(e) -> bool:
    """A SimpleImputer fitted on strings."""
    from sklearn.impute import SimpleImputer
    stats = getattr(e, "statistics_", None)
    return isinstance(e, SimpleImputer) and stats is not None and any(isinstance(v, str) for v in stats)


def _string_columns(found: dict) -> set:
    """Columns that feed an encoder fitted on strings (or a SimpleImputer of strings), and, in a
    model with such columns, those it drops (a numeric model keeps one numeric input tensor,
    which the TVM targets need); `found`: _encoders' result."""
    strings = {c for c, (e, j) in found.items() if e is not None and (
        not hasattr(e, "categories_") or e.categories_[j].dtype == object or e.categories_[j].dtype.kind in "US")}
    return strings | {c for c, (e, _) in found.items() if e is None} if strings else strings


def _categories(found: dict) -> dict:
    """{column: fitted categories} of the columns that feed an encoder; `found`: _encoders' result."""
    return {c: e.categories_[j] for c, (e, j) in found.items() if hasattr(e, "categories_")}


def _levels(found: dict) -> dict:
    """The category levels of encoded columns (NaN left out)."""
    return {c: [str(x) for x in cats if not (isinstance(x, float) and np.isnan(x))]
            for c, cats in _categories(found).items()}


def _category_hints(found: dict, strings: set, thresholds: dict) -> dict:
    """{column: samples} for the numeric columns an encoder reads: rows on its categories; where
    the encoder takes other values too, the categories join `thresholds` (rows one step beside)."""
    samples = {}
    for c, cats in _categories(found).items():
        if c in strings or np.asarray(cats).dtype.kind not in "iuf":
            continue
        values = [float(v) for v in cats if np.isfinite(v)]
        samples[c] = {"values": values, "exact": True}
        if getattr(found[c][0], "handle_unknown", None) != "error":
            thresholds.setdefault(c, []).extend(values)
    return samples


def to_source(est, name: str = "model", source_file: Path | None = None, precision: str | None = None) -> SourceModel:
    """Convert a fitted estimator with skl2onnx; describe its schema and reference.
    `precision`: None (the estimator's own, see sklearn_precision) or "float32"."""
    import sklearn
    import sklearn.base
    import skl2onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType
    from . import frontend, sklearn_precision

    library = type(est).__module__.split(".")[0]
    if library in CATEGORICAL_WRAPPERS and check_fitted(est):
        module, test = CATEGORICAL_WRAPPERS[library]
        if getattr(frontend(module), test)(est):
            return frontend(module).to_source(est, name, source_file=source_file, precision=precision)
    for module in DOUBLE_CONVERTERS + STRING_CONVERTERS + SETTING_CONVERTERS + OWN_CONVERTERS + LIBRARY_CONVERTERS:
        frontend(module).install()
    if not check_fitted(est):
        raise UsageError(f"the {type(est).__name__} is not fitted: fit it before compiling")
    final = _final_step(est)
    _check_categorical_boosting(est, final)
    feature_names = [str(c) for c in getattr(est, "feature_names_in_", [])]
    n_features = getattr(est, "n_features_in_", None)
    bare_text = text_vectorizer.is_text(_first_step(est))
    if bare_text:  # a model of one text column (fitted on a list of documents)
        feature_names, n_features = [TEXT_COLUMN], 1
    if n_features is None:
        raise UnsupportedError(f"cannot tell how many features {type(est).__name__} takes")
    found = _encoders(est)
    strings = _string_columns(found)
    texts = {c for c, (e, _) in found.items() if text_vectorizer.is_text(e)}
    per_column = bool(strings) or _selects_by_name(est)
    own, why = sklearn_precision.precision(est)
    if precision == "float32" and own == "float64":
        why = "float32 asked for (--precision float32): " + why + ", so inputs are rounded to float32"
    precision = precision or own
    number = DoubleTensorType if precision == "float64" else FloatTensorType
    if per_column:
        initial = [(c, StringTensorType([None, 1]) if c in strings else number([None, 1]))
                   for c in feature_names]
    else:
        initial = [("X", number([None, n_features]))]
    options = {}
    if sklearn.base.is_classifier(final):
        from skl2onnx._supported_operators import sklearn_operator_name_map
        from skl2onnx.common._registration import get_converter
        try:
            allowed = get_converter(sklearn_operator_name_map[type(final)]).get_allowed_options() or {}
        except Exception:
            allowed = {}
        # A classifier without the zipmap option (LinearSVC) still gets options of its own: a
        # pipeline would otherwise hand it the pipeline's zipmap, which its converter refuses.
        options[id(final)] = {"zipmap": False} if "zipmap" in allowed else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            proto, precision, why = _skl2onnx(est, initial, options, precision, why)
        except Exception as exc:
            msg = str(exc).splitlines()[0][:300]
            raise UnsupportedError(
                f"cannot convert {type(est).__name__} (final step {type(final).__name__}) to ONNX: {msg}. "
                "See docs/support-matrix.md for the supported scikit-learn estimators.") from None
    from . import sklearn_tree_missing
    sklearn_tree_missing.apply(final, proto)
    _labels_down_the_batch(proto)
    if getattr(final, "weights", None) == "distance" and hasattr(final, "kneighbors"):
        from . import sklearn_knn
        proto = sklearn_knn.fix_distance_weights(proto)
    proto, schema, reference, frame = _describe(est, final, proto, feature_names, n_features, strings, per_column,
                                                _closed_columns(found, strings), texts, bare_text)
    # Some converters compute shapes from the batch size or put the batch on another axis
    # (AdaBoost's ConstantOfShape, Bagging's [1, N, k] stacks, QuantileTransformer's Flatten):
    # the C++/Java kernels need every value batch-first (the pass PyTorch and Keras graphs take).
    # A graph the pass cannot rewrite is kept; the IR then names the value that stops cpp/java.
    # (k-NN's Scan over the training set first becomes batched ops: the pass then sees them.)
    from modelport.passes import batch_first, knn_scan
    proto, _ = batch_first.run(knn_scan.run(proto))
    digest = None
    if source_file is not None:
        digest = hashlib.sha256(Path(source_file).read_bytes()).hexdigest()
    framework, version = "scikit-learn", sklearn.__version__
    if final is est and library in CATEGORICAL_WRAPPERS:  # a bare XGBoost / LightGBM wrapper
        import importlib
        framework, version = library, importlib.import_module(library).__version__
    provenance = {
        "framework": framework,
        "framework_version": version,
        "converter": "skl2onnx",
        "converter_version": skl2onnx.__version__,
        "estimator": _describe_estimator(est),
        "source_file": str(source_file) if source_file else None,
        "source_sha256": digest,
    }
    hints = {"levels": {**_levels(found), **{c: text_vectorizer.sample_documents(found[c][0]) for c in texts}}}
    thresholds = _thresholds(est, schema)
    samples = _category_hints(found, strings, thresholds)
    if thresholds:
        hints["thresholds"] = thresholds
    if samples:
        hints["samples"] = samples
    if hasattr(final, "kneighbors") and hasattr(final, "n_neighbors"):
        hints["tie_rows"] = _knn_ties(est, final, frame)
    return SourceModel(proto, schema, reference, provenance, name, hints, precision=precision,
                       precision_reason=why, reference_float64=not sklearn_precision.fitted_on_float32(est))


def _labels_down_the_batch(proto) -> None:
    """A label output laid out [1, N] (QuadraticDiscriminantAnalysis's converter looks the classes
    up with ArrayFeatureExtractor on a [K] table) becomes [N], as scikit-learn gives it."""
    from onnx import helper
    out = proto.graph.output[0] if len(proto.graph.output) == 2 else None
    dims = out.type.tensor_type.shape.dim if out is not None else []
    if len(dims) != 2 or dims[0].dim_value != 1 or dims[1].HasField("dim_value"):
        return
    inner = f"{out.name}_across_batch"
    for node in proto.graph.node:
        node.output[:] = [inner if o == out.name else o for o in node.output]
        node.input[:] = [inner if i == out.name else i for i in node.input]
    shape = helper.make_tensor(f"{out.name}_rows", onnx.TensorProto.INT64, [1], [-1])
    proto.graph.initializer.append(shape)
    proto.graph.node.append(helper.make_node("Reshape", [inner, shape.name], [out.name]))
    out.type.tensor_type.shape.ClearField("dim")
    out.type.tensor_type.shape.dim.add()


def check_fitted(est) -> bool:
    from sklearn.utils.validation import check_is_fitted
    try:
        check_is_fitted(est)
        return True
    except Exception:
        return False


def _thresholds(est, schema) -> dict:
    """{input column: split points of the original trees}, for a bare tree model (whose
    features are the input columns), or the knots of a SplineTransformer or the quantiles of a
    QuantileTransformer that reads the input columns: parity rows sit on them and one step
    beside."""
    first = _first_step(est)
    names = [c.name for c in schema.inputs]
    if type(first).__name__ == "SplineTransformer":
        return {names[f]: [float(v) for v in s.t] for f, s in enumerate(first.bsplines_) if f < len(names)}
    if type(first).__name__ == "QuantileTransformer":  # its quantiles: the ends of each piece
        return {names[f]: [float(v) for v in q] for f, q in enumerate(first.quantiles_.T) if f < len(names)}
    final = _final_step(est)
    if final is not est:
        return {}
    trees = []
    if hasattr(final, "get_booster"):  # XGBoost's wrappers
        from .xgboost_model import read
        return read(final.get_booster()).thresholds(names)
    if hasattr(final, "booster_"):  # LightGBM's
        from .lightgbm import iterations
        from .lightgbm_model import read
        return read(final.booster_, iterations(final)).thresholds(names)
    if hasattr(final, "tree_"):
        trees = [final.tree_]
    elif hasattr(final, "estimators_"):
        for e in np.asarray(final.estimators_, dtype=object).reshape(-1):
            if hasattr(e, "tree_"):
                trees.append(e.tree_)
    out = {}
    for t in trees:
        internal = t.feature >= 0
        for f, v in zip(t.feature[internal], t.threshold[internal]):
            if f < len(names):
                out.setdefault(names[f], []).append(float(v))
    return out


def _knn_ties(est, final, frame):
    """feed -> bool per row: the k-th and (k+1)-th nearest training points are equally far,
    so which one scikit-learn counts is a tie (any port may take the other). `frame` turns a
    feed into what the estimator takes (the reference's own)."""
    def tie_rows(feed):
        x = frame(feed)
        head = est[:-1] if hasattr(est, "steps") else None
        if head is not None and len(head):
            x = head.transform(x)
        k = int(final.n_neighbors)
        n_fit = int(final.n_samples_fit_)
        if k >= n_fit:
            return np.zeros(len(x), bool)
        d, _ = final.kneighbors(x, n_neighbors=k + 1)
        return np.isclose(d[:, k - 1], d[:, k], rtol=1e-9, atol=0.0)
    return tie_rows


def _skl2onnx(est, initial, options, precision, why) -> tuple:
    """(proto, precision, why). A model that skl2onnx still cannot convert in double (a converter
    without a double form, an operator without an ONNX Runtime double kernel) is compiled in
    float32, and the reason says what failed."""
    import skl2onnx

    from .sklearn_double_builder import finish
    from .sklearn_string_encoders import numbers
    try:
        with numbers(precision):
            proto = finish(skl2onnx.to_onnx(est, initial_types=initial, options=options or None,
                                            target_opset=TARGET_OPSET))
        if precision == "float64":
            from modelport.ort_session import session  # some double operators have no ONNX Runtime kernel
            session(proto)
        return proto, precision, why
    except Exception as exc:
        if precision != "float64":
            raise
        msg = str(exc).splitlines()[0][:200]
    why = (f"{why}, but skl2onnx cannot convert it in double ({msg}): inputs are rounded to float32 "
           "(the parity report shows the cost)")
    with numbers("float32"):
        return skl2onnx.to_onnx(est, initial_types=_float32_types(initial), options=options or None,
                                target_opset=TARGET_OPSET), "float32", why


def _float32_types(initial) -> list:
    """skl2onnx's initial types with every double tensor made float."""
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    return [(n, FloatTensorType(t.shape) if isinstance(t, DoubleTensorType) else t) for n, t in initial]


def _describe_estimator(est) -> str:
    from sklearn.pipeline import Pipeline
    if isinstance(est, Pipeline):
        return "Pipeline(" + ", ".join(_describe_estimator(s) for _, s in est.steps) + ")"
    return type(est).__name__


def _describe(est, final, proto, feature_names, n_features, strings, per_column, closed, texts, bare_text):
    outs = [o.name for o in proto.graph.output]
    names = feature_names or [f"f{i}" for i in range(n_features)]
    if per_column:
        # skl2onnx sanitizes input names ("a (b)" -> "a__b_"); they keep the columns' order.
        inits = {i.name for i in proto.graph.initializer}
        tensors = [i.name for i in proto.graph.input if i.name not in inits]
        tensor_of = dict(zip(names, tensors))
        inputs = [Column(c, tensor_of[c], 0, "string" if c in strings else "number", closed=c in closed)
                  for c in names]
    else:
        inputs = [Column(c, "X", i, "number") for i, c in enumerate(names)]

    def frame(feed):
        import pandas as pd
        if bare_text:  # the documents
            return feed[tensor_of[names[0]]].reshape(-1)
        if per_column:
            # an empty cell of a string column is a missing value: pandas reads it as NaN (a
            # text column keeps it: an empty document; the vectorizers refuse NaN)
            return pd.DataFrame({c: _missing_as_nan(feed[tensor_of[c]].reshape(-1))
                                 if c in strings and c not in texts else feed[tensor_of[c]].reshape(-1) for c in names})
        x = feed["X"]
        if feature_names:
            return pd.DataFrame(x, columns=feature_names)
        return x

    if hasattr(final, "cluster_centers_") and len(outs) == 2:
        rename = {outs[0]: "label", outs[1]: "scores"}
        k = final.cluster_centers_.shape[0]
        outputs = [Column("label", "label", 0, "label")] + [
            Column(f"distance_{i}", "scores", i, "value") for i in range(k)]
        task, classes = "cluster", list(range(k))

        def reference(feed):
            x = frame(feed)
            return {"label": est.predict(x).astype(np.int64), "scores": est.transform(x)}
    elif _is_outlier_detector(final) and len(outs) == 2:
        rename = {outs[0]: "label", outs[1]: "scores"}
        outputs = [Column("label", "label", 0, "label"), Column("score", "scores", 0, "value")]
        task, classes = "classifier", [-1, 1]

        def reference(feed):
            x = frame(feed)
            return {"label": est.predict(x).astype(np.int64).reshape(-1, 1),
                    "scores": est.decision_function(x).reshape(-1, 1)}
    elif hasattr(final, "classes_") and len(outs) == 2:
        rename = {outs[0]: "label", outs[1]: "probabilities"}
        classes = [c.item() if isinstance(c, np.generic) else c for c in final.classes_]
        has_proba = _has(est, "predict_proba")
        kind = "prob" if has_proba else "score"
        outputs = [Column("label", "label", 0, "label")] + [
            Column(f"{kind}_{c}", "probabilities", i, "probability" if has_proba else "value")
            for i, c in enumerate(classes)]
        votes_only = not has_proba and not _has(est, "decision_function")
        if votes_only:
            # VotingClassifier(voting="hard"): scikit-learn gives labels only (the graph's second
            # output, weighted votes, has nothing to compare with)
            outputs = outputs[:1]
            del proto.graph.output[1]
        task = "classifier"
        score_width = _output_width(proto, outs[1])

        def reference(feed):
            x = frame(feed)
            label = est.predict(x)
            if votes_only:
                return {"label": label}
            if has_proba:
                scores = est.predict_proba(x)
            else:
                scores = est.decision_function(x)
                if scores.ndim == 1:
                    # skl2onnx's binary layouts: kernel SVMs give [d, -d]; linear models d,
                    # or [-d, d] where the conversion has two columns (SGDClassifier, Perceptron).
                    svm = hasattr(final, "support_vectors_")
                    scores = np.stack([scores, -scores], axis=1) if svm else \
                        np.stack([-scores, scores], axis=1) if score_width == 2 else scores[:, None]
            return {"label": label, "probabilities": scores}
    elif len(outs) == 1:
        # Regressors that also transform (VotingRegressor, StackingRegressor) are regressors.
        from sklearn.base import is_regressor
        task = "regressor" if _has(final, "predict") and (is_regressor(final) or not _has(final, "transform")) \
            else "transformer"
        rename = {outs[0]: "prediction" if task == "regressor" else "transformed"}
        classes = []
        width = _output_width(proto, outs[0])
        if task == "regressor":
            outputs = [Column("prediction", "prediction", 0, "value")] if width == 1 else [
                Column(f"prediction_{i}", "prediction", i, "value") for i in range(width)]
        else:
            outputs = [Column(f"transformed_{i}", "transformed", i, "value") for i in range(width)]

        def reference(feed):
            x = frame(feed)
            y = est.predict(x) if task == "regressor" else est.transform(x)
            y = np.asarray(y.toarray() if hasattr(y, "toarray") else y)
            return {rename[outs[0]]: y.reshape(len(y), -1)}
    else:
        raise UnsupportedError(f"unexpected outputs {outs} from the conversion of {type(final).__name__}")
    rename_values(proto, rename)
    return proto, Schema(inputs, outputs, task, classes), reference, frame


def _missing_as_nan(cells: np.ndarray) -> np.ndarray:
    out = np.asarray(cells, dtype=object).copy()
    out[out == ""] = np.nan
    return out


def _is_outlier_detector(est) -> bool:
    """OneClassSVM, IsolationForest, LocalOutlierFactor(novelty=True): `label` 1 (inlier) or
    -1 and `score` (decision_function)."""
    from sklearn.ensemble import IsolationForest
    from sklearn.neighbors import LocalOutlierFactor
    from sklearn.svm import OneClassSVM
    return isinstance(est, (OneClassSVM, IsolationForest, LocalOutlierFactor))


def _has(est, attr):
    try:
        return hasattr(est, attr)
    except Exception:
        return False


def _output_width(proto, name) -> int:
    for o in proto.graph.output:
        if o.name == name:
            dims = o.type.tensor_type.shape.dim
            if len(dims) >= 2 and dims[1].HasField("dim_value"):
                return dims[1].dim_value
            return 1 if len(dims) == 1 else -1
    return -1
