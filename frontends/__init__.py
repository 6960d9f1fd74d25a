"""Frontends turn a native model into a SourceModel. The registry maps file suffixes and
object types to frontend modules (imported lazily: each pulls in its own framework)."""
from __future__ import annotations

import importlib
from pathlib import Path

from modelport.errors import UsageError

# suffix -> module in this package
BY_SUFFIX = {
    ".skops": "sklearn",
    ".pkl": "sklearn",
    ".pickle": "sklearn",
    ".joblib": "sklearn",
    ".onnx": "onnx_file",
    ".rds": "r",
    ".pt2": "pytorch",
    ".pt": "pytorch",
    ".keras": "tf_keras",
    ".json": "xgboost",
    ".ubj": "xgboost",
    ".txt": "lightgbm",
}
# Frontends that take models as Python objects, asked in this order (`is_model(obj)` must
# not import the framework: an object of it exists only when the framework is loaded).
BY_OBJECT = ["pytorch", "tf_keras"]
# Gradient-boosting libraries' own model objects (Boosters), asked the same way; their
# scikit-learn wrappers are estimators and go to the scikit-learn frontend.
BOOSTERS = ["xgboost", "lightgbm"]
# The options a deep-learning frontend may need to trace a model (ignored by the others):
#   example_inputs: a tuple of example tensors / arrays (PyTorch modules),
#   input_shapes: {input name: row shape without the batch dimension},
#   input_dtypes: {input name: "float32" | "int64" | ...}.
SHAPE_OPTIONS = ("example_inputs", "input_shapes", "input_dtypes")
# --precision: None follows the original model; "float32" trades exactness for speed.
PRECISIONS = (None, "float32")


def frontend(name: str):
    return importlib.import_module(f".{name}", __package__)


def load_source(model, name: str | None = None, trust_pickle: bool = False, precision: str | None = None,
                **options):
    """A path or a Python object -> SourceModel. A SourceModel is taken as it is (renamed when
    `name` is given): frontends and tests can build one by hand. `options` are SHAPE_OPTIONS,
    passed to the deep-learning frontends. `precision`: None (the original model's own) or
    "float32" (R and scikit-learn models that compute in double, rounded to float32 on
    purpose)."""
    if precision not in PRECISIONS:
        raise UsageError(f"unknown precision {precision!r}: use float32 (or leave it out: the original "
                         "model's own precision)")
    unknown = set(options) - set(SHAPE_OPTIONS)
    if unknown:
        raise TypeError(f"unknown frontend option(s): {', '.join(sorted(unknown))}")
    options = {k: v for k, v in options.items() if v is not None}
    from dataclasses import replace

    from modelport.source_model import SourceModel
    if isinstance(model, SourceModel):
        return replace(model, name=name) if name else model
    if isinstance(model, tuple):
        return _recipe_pair(model, name, precision)
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.exists():
            raise UsageError(f"model file not found: {path}")
        suffix = path.suffix.lower()
        module = BY_SUFFIX.get(suffix)
        if path.is_dir():
            if not (path / "saved_model.pb").exists():
                raise UsageError(f"{path} is a directory but not a TensorFlow SavedModel (no saved_model.pb); "
                                 "give a model file or a SavedModel directory")
            module = "tf_keras"
        if module is None:
            raise UsageError(f"unknown model file type {suffix!r} ({path}); supported: "
                             f"{', '.join(sorted(BY_SUFFIX))}")
        fe = frontend(module)
        name = name or path.stem
        if module == "onnx_file":
            return fe.to_source(path, name)
        if module == "r":
            return fe.to_source(fe.load(path), name, source_file=path, precision=precision)
        if module in BY_OBJECT:
            return fe.to_source(path, name, source_file=path, **options)
        return fe.to_source(fe.load(path, trust_pickle), name, source_file=path, precision=precision)
    import onnx
    if isinstance(model, onnx.ModelProto):
        return frontend("onnx_file").to_source(model, name or "model")
    if type(model).__module__.startswith("rpy2."):
        fe = frontend("r")
        if fe.is_r_object(model):
            return fe.to_source(model, name or "r_model", precision=precision)
    for module in BY_OBJECT:
        fe = frontend(module)
        if fe.is_model(model):
            return fe.to_source(model, name or type(model).__name__, **options)
    for module in BOOSTERS:
        fe = frontend(module)
        if fe.is_model(model):
            return fe.to_source(model, name or module, precision=precision)
    fe = frontend("sklearn")
    if fe.is_estimator(model):
        return fe.to_source(model, name or type(model).__name__, precision=precision)
    raise UsageError(f"cannot compile an object of type {type(model).__module__}.{type(model).__name__}: "
                     "supported are fitted scikit-learn estimators (XGBoost's and LightGBM's wrappers too), "
                     "XGBoost and LightGBM Boosters, R models (rpy2 objects), PyTorch modules and "
                     "exported programs, Keras models and TensorFlow modules, onnx.ModelProto, "
                     "and model files "
                     f"({', '.join(sorted(BY_SUFFIX))}, or a SavedModel directory)")


def _recipe_pair(pair: tuple, name: str | None, precision: str | None):
    """(recipe, model): an R recipes::recipe (prep()ed) and an R model fitted on its baked
    columns, each an R object (rpy2) or an .rds file, compiled as one model."""
    if len(pair) != 2:
        raise UsageError("a model pair is (recipe, model): a prep()ed recipes::recipe and the R model fitted "
                         "on its baked data")
    fe = frontend("r")
    objs, files = [], []
    for what, item in zip(("recipe", "model"), pair):
        if isinstance(item, (str, Path)):
            path = Path(item)
            if not path.is_file():
                raise UsageError(f"{what} file not found: {path}")
            if path.suffix.lower() != ".rds":
                raise UsageError(f"the {what} of a (recipe, model) pair must be an R object or an .rds file "
                                 f"(saveRDS); got {path}")
            objs.append(fe.load(path))
            files.append(path)
        elif type(item).__module__.startswith("rpy2.") and fe.is_r_object(item):
            objs.append(item)
            files.append(None)
        else:
            raise UsageError(f"the {what} of a (recipe, model) pair must be an R object (rpy2) or an .rds file; "
                             f"got {type(item).__module__}.{type(item).__name__}")
    name = name or (files[1].stem if files[1] else "r_model")
    return fe.to_source(objs[1], name, source_file=files[1], precision=precision, recipe=objs[0],
                        recipe_file=files[0])
