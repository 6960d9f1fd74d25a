"""LightGBM frontend: Booster objects, model files (.txt from save_model), and the scikit-learn
wrappers with pandas category columns, to SourceModel.

LightGBM computes in double: the compiled model reads and answers in double. A wrapper
(LGBMClassifier, LGBMRegressor) compiles to what predict / predict_proba return, through the
scikit-learn frontend and its converters (frontends/sklearn_lightgbm.py, which also serve
pipelines) when its features are numbers, here when some are pandas category columns (the
compiled model takes the category names: a string column; a name LightGBM never saw is a
missing value, as LightGBM codes it). A Booster compiles to what Booster.predict returns
(`prediction`) and, where the objective transforms it, the raw scores (`raw_score=True`) as
`raw_score`. Both use the iterations predict uses: up to the best iteration after early
stopping, else all.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from modelport.errors import UsageError
from modelport.passes.ml_to_tensor._builder import Builder
from modelport.schema import Column, Schema
from modelport.source_model import SourceModel

from . import boosting_source, lightgbm_graph, lightgbm_model

OPSETS = {"": 18, "ai.onnx.ml": 5}
PRECISION_REASON = "LightGBM compares and sums in double"
KINDS = {"identity": "value", "sqrt": "value", "exp": "value", "sigmoid": "probability", "softmax": "probability"}


def is_model(obj) -> bool:
    return type(obj).__module__.startswith("lightgbm") and type(obj).__name__ == "Booster"


def has_string_categories(wrapper) -> bool:
    return bool(getattr(wrapper.booster_, "pandas_categorical", None))


def load(path: Path, trust_pickle: bool = False):
    try:
        import lightgbm
    except ImportError:
        raise UsageError(f"{path} needs the lightgbm package to read it: pip install lightgbm") from None
    try:
        return lightgbm.Booster(model_file=str(path))
    except Exception as exc:
        msg = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise UsageError(f"cannot read {path} as a LightGBM model file (.txt from save_model): {msg}") from None


def iterations(model) -> int | None:
    """The iterations predict uses (None: all)."""
    best = getattr(model, "best_iteration", None) if is_model(model) else getattr(model, "best_iteration_", None)
    return int(best) if best else None


def to_source(model, name: str = "model", source_file: Path | None = None, precision: str | None = None
              ) -> SourceModel:
    from . import frontend
    if not is_model(model) and not has_string_categories(model):
        return frontend("sklearn").to_source(model, name, source_file=source_file, precision=precision)
    import lightgbm
    if precision == "float32":
        raise UsageError("--precision float32 is not supported for LightGBM models (they compile in double, as "
                         "LightGBM computes); leave it out")
    booster = model if is_model(model) else model.booster_
    tables = lightgbm_model.read(booster, iterations(model))
    n = tables.n_features
    names = [str(c) for c in (booster.feature_name() or [f"Column_{i}" for i in range(n)])]
    cats = tables.categories
    b = Builder(set(), OPSETS[""])
    if cats:
        tensors = {f: f"in{f}" for f in range(n)}
        graph_inputs = [helper.make_tensor_value_info(tensors[f], TensorProto.STRING if f in cats else TensorProto.DOUBLE,
                                                      [None, 1]) for f in range(n)]
        inputs = [Column(c, tensors[f], 0, "string" if f in cats else "number", levels=list(cats.get(f, [])))
                  for f, c in enumerate(names)]
        x = b.op("Concat", *[lightgbm_graph.codes(b, tensors[f], cats[f]) if f in cats else tensors[f]
                             for f in range(n)], axis=1)
    else:
        graph_inputs = [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, n])]
        inputs = [Column(c, "X", i, "number") for i, c in enumerate(names)]
        x = "X"
    scores = lightgbm_graph.raw(b, tables, x)
    if is_model(model):
        outputs, graph_outputs, task, classes = _booster_outputs(b, tables, scores)
        estimator = f"Booster({tables.objective}, {len(set(tables.forest.tree))} trees)"
    else:
        outputs, graph_outputs, task, classes = _wrapper_outputs(b, tables, scores, model)
        estimator = type(model).__name__
    proto = boosting_source.model(b, name, graph_inputs, graph_outputs, OPSETS, "modelport-lightgbm")
    hints = {"thresholds": tables.thresholds(names),
             "levels": {names[f]: list(v) for f, v in cats.items()}}
    return SourceModel(proto, Schema(inputs, outputs, task, classes),
                       _reference(model, booster, tables, names, cats, task),
                       boosting_source.provenance("lightgbm", lightgbm.__version__, estimator, source_file), name,
                       hints, precision="float64", precision_reason=PRECISION_REASON, reference_float64=True)


def _booster_outputs(b, tables, scores) -> tuple:
    k, kind = tables.n_outputs, KINDS[tables.transform]
    outputs, graph_outputs = boosting_source.tensor_output(b, lightgbm_graph.predict(b, tables, scores), "prediction",
                                                           k, kind, TensorProto.DOUBLE)
    if tables.transform != "identity":
        more = boosting_source.tensor_output(b, scores, "raw_score", k, "value", TensorProto.DOUBLE)
        outputs, graph_outputs = outputs + more[0], graph_outputs + more[1]
    return outputs, graph_outputs, "regressor", []


def _wrapper_outputs(b, tables, scores, wrapper) -> tuple:
    from .sklearn_double_builder import label_table
    if hasattr(wrapper, "classes_"):
        labels = label_table(wrapper)
        label, probabilities = lightgbm_graph.classifier(b, tables, scores, labels)
        return boosting_source.classifier_outputs(b, label, probabilities, wrapper, labels, TensorProto.DOUBLE)
    return (*boosting_source.tensor_output(b, lightgbm_graph.predict(b, tables, scores), "prediction",
                                           tables.n_outputs, "value", TensorProto.DOUBLE), "regressor", [])


def _reference(model, booster, tables, names, cats, task):
    k = tables.n_outputs

    def reference(feed):
        frame = boosting_source.frame(feed, names, cats)
        rows = len(frame)
        if not is_model(model):
            if task == "classifier":
                return {"label": model.predict(frame), "probabilities": model.predict_proba(frame)}
            return {"prediction": np.asarray(model.predict(frame)).reshape(rows, -1)}
        out = {"prediction": np.asarray(booster.predict(frame, num_iteration=iterations(model))).reshape(rows, k)}
        if tables.transform != "identity":
            out["raw_score"] = np.asarray(booster.predict(frame, raw_score=True, num_iteration=iterations(model))
                                          ).reshape(rows, k)
        return out
    return reference
