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
}


def frontend(name: str):
    return importlib.import_module(f".{name}", __package__)


def load_source(model, name: str | None = None, trust_pickle: bool = False):
    """A path or a Python object -> SourceModel. A SourceModel is taken as it is (renamed when
    `name` is given): frontends and tests can build one by hand."""
    from dataclasses import replace

    from modelport.source_model import SourceModel
    if isinstance(model, SourceModel):
        return replace(model, name=name) if name else model
    if isinstance(model, (str, Path)):
        path = Path(model)
        if not path.exists():
            raise UsageError(f"model file not found: {path}")
        suffix = path.suffix.lower()
        module = BY_SUFFIX.get(suffix)
        if module is None:
            raise UsageError(f"unknown model file type {suffix!r} ({path}); supported: "
                             f"{', '.join(sorted(BY_SUFFIX))}")
        fe = frontend(module)
        name = name or path.stem
        if module == "onnx_file":
            return fe.to_source(path, name)
        if module == "r":
            return fe.to_source(fe.load(path), name, source_file=path)
        return fe.to_source(fe.load(path, trust_pickle), name, source_file=path)
    import onnx
    if isinstance(model, onnx.ModelProto):
        return frontend("onnx_file").to_source(model, name or "model")
    if type(model).__module__.startswith("rpy2."):
        fe = frontend("r")
        if fe.is_r_object(model):
            return fe.to_source(model, name or "r_model")
    fe = frontend("sklearn")
    if fe.is_estimator(model):
        return fe.to_source(model, name or type(model).__name__)
    raise UsageError(f"cannot compile an object of type {type(model).__module__}.{type(model).__name__}: "
                     "supported are fitted scikit-learn estimators, R models (rpy2 objects), onnx.ModelProto, "
                     "and model files "
                     f"({', '.join(sorted(BY_SUFFIX))})")
