"""XGBoost frontend: Booster objects and model files (.json, .ubj, legacy binary) to SourceModel.

A file saved from a scikit-learn wrapper (XGBClassifier.save_model, ...) loads as that wrapper
and compiles through the scikit-learn frontend (label and probabilities, like any classifier);
a Booster from `xgb.train` compiles to what `Booster.predict` returns (`prediction`) and, where
the objective transforms them, the margins (`output_margin=True`) as `margin`. All trees are
used, as Booster.predict does by default: slice a Booster (`booster[: best_iteration + 1]`) to
compile fewer rounds.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from modelport.errors import UnsupportedError, UsageError
from modelport.passes.ml_to_tensor._builder import Builder
from modelport.schema import Column, Schema
from modelport.source_model import SourceModel

from . import xgboost_graph, xgboost_model

OPSETS = {"": 18, "ai.onnx.ml": 3}
PRECISION_REASON = "XGBoost stores its input as float32 and compares and sums in float32"
# The scikit-learn wrapper a model file names in its "scikit_learn" attribute.
WRAPPERS = {"classifier": "XGBClassifier", "regressor": "XGBRegressor", "ranker": "XGBRanker"}
# Kinds of the `prediction` output, per transform.
KINDS = {"identity": "value", "sigmoid": "probability", "softmax": "probability", "exp": "value",
         "hinge": "value", "argmax": "label"}


def is_model(obj) -> bool:
    return type(obj).__module__.startswith("xgboost") and type(obj).__name__ == "Booster"


def load(path: Path, trust_pickle: bool = False):
    """A Booster, or the scikit-learn wrapper a file was saved from."""
    try:
        import xgboost
    except ImportError:
        raise UsageError(f"{path} needs the xgboost package to read it: pip install xgboost") from None
    booster = xgboost.Booster()
    try:
        booster.load_model(str(path))
    except Exception as exc:
        msg = str(exc).splitlines()[0][:200]
        raise UsageError(f"cannot read {path} as an XGBoost model file (.json or .ubj from save_model): "
                         f"{msg}") from None
    kind = _wrapper_kind(booster)
    if kind is None:
        return booster
    if kind not in WRAPPERS or not hasattr(xgboost, WRAPPERS[kind]):
        raise UnsupportedError(f"{path} was saved from an XGBoost scikit-learn wrapper of kind {kind!r}; supported: "
                               f"{', '.join(sorted(WRAPPERS))}")
    wrapper = getattr(xgboost, WRAPPERS[kind])()
    wrapper.load_model(str(path))
    return wrapper


def _wrapper_kind(booster) -> str | None:
    text = booster.attr("scikit_learn")
    if not text:
        return None
    try:
        return json.loads(text).get("_estimator_type")
    except ValueError:
        return None


def to_source(model, name: str = "model", source_file: Path | None = None, precision: str | None = None
              ) -> SourceModel:
    if not is_model(model):  # a scikit-learn wrapper read from a file
        from . import frontend
        return frontend("sklearn").to_source(model, name, source_file=source_file, precision=precision)
    import xgboost
    tables = xgboost_model.read(model)
    n = int(model.num_features())
    names = [str(c) for c in (model.feature_names or [f"f{i}" for i in range(n)])]
    b = Builder(set(), OPSETS[""])
    m = xgboost_graph.margin(b, tables, "X")
    pred = xgboost_graph.predict(b, tables, m)
    kind = KINDS[tables.transform]
    k = tables.n_outputs
    outputs, graph_outputs = [], []
    if kind == "label":
        b.op("Reshape", pred, b.const(np.asarray([-1], np.int64)), out="label")
        outputs.append(Column("label", "label", 0, "label"))
        graph_outputs.append(helper.make_tensor_value_info("label", TensorProto.INT64, [None]))
    else:
        b.op("Identity", pred, out="prediction")
        outputs += _columns("prediction", k, kind)
        graph_outputs.append(helper.make_tensor_value_info("prediction", TensorProto.FLOAT, [None, k]))
    with_margin = tables.transform != "identity"
    if with_margin:
        b.op("Identity", m, out="margin")
        outputs += _columns("margin", k, "value")
        graph_outputs.append(helper.make_tensor_value_info("margin", TensorProto.FLOAT, [None, k]))
    graph = helper.make_graph(b.nodes, name, [helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, n])],
                              graph_outputs, initializer=b.initializers)
    proto = helper.make_model(graph, producer_name="modelport-xgboost",
                              opset_imports=[helper.make_opsetid(d, v) for d, v in OPSETS.items()])
    inputs = [Column(c, "X", i, "number") for i, c in enumerate(names)]
    task = "classifier" if kind == "label" else "regressor"
    schema = Schema(inputs, outputs, task, list(range(k)) if kind == "label" else [])

    def reference(feed):
        dm = xgboost.DMatrix(np.asarray(feed["X"]), feature_names=model.feature_names, missing=np.nan)
        rows = dm.num_row()
        out = {}
        y = np.asarray(model.predict(dm))
        if kind == "label":
            out["label"] = y.reshape(rows).astype(np.int64)
        else:
            out["prediction"] = y.reshape(rows, k)
        if with_margin:
            out["margin"] = np.asarray(model.predict(dm, output_margin=True)).reshape(rows, k)
        return out

    digest = hashlib.sha256(Path(source_file).read_bytes()).hexdigest() if source_file else None
    provenance = {
        "framework": "xgboost", "framework_version": xgboost.__version__,
        "converter": "modelport", "converter_version": None,
        "estimator": f"Booster({tables.booster}, {tables.objective}, {len(tables.trees)} trees)",
        "source_file": str(source_file) if source_file else None, "source_sha256": digest,
    }
    hints = {"thresholds": {names[f]: v for f, v in tables.thresholds().items() if f < len(names)}}
    reason = PRECISION_REASON if precision is None else "float32 asked for; " + PRECISION_REASON
    return SourceModel(proto, schema, reference, provenance, name, hints, precision="float32",
                       precision_reason=reason, reference_float64=True)


def _columns(tensor: str, k: int, kind: str) -> list:
    if k == 1:
        return [Column(tensor, tensor, 0, kind)]
    return [Column(f"{tensor}_{i}", tensor, i, kind) for i in range(k)]

