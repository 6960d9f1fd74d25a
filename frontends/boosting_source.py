"""What the XGBoost and LightGBM frontends share: the graph outputs of a wrapper classifier or of
a named tensor, the finished ONNX model, the provenance, the DataFrame the library is fed.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from onnx import TensorProto, helper

from modelport.schema import Column, default_columns


def classifier_outputs(b, label: str, probabilities: str, wrapper, labels, elem: int) -> tuple:
    """(columns, graph outputs, task, classes) of a wrapper classifier: `label` and
    `probabilities` (element type `elem`) as the graph outputs "label" and "probabilities"."""
    b.op("Identity", label, out="label")
    b.op("Identity", probabilities, out="probabilities")
    classes = [c.item() if isinstance(c, np.generic) else c for c in wrapper.classes_]
    columns = [Column("label", "label", 0, "label")] + [
        Column(f"prob_{c}", "probabilities", i, "probability") for i, c in enumerate(classes)]
    label_type = TensorProto.STRING if labels.dtype == object else TensorProto.INT64
    return columns, [helper.make_tensor_value_info("label", label_type, [None]),
                     helper.make_tensor_value_info("probabilities", elem, [None, len(classes)])], "classifier", classes


def tensor_output(b, value: str, name: str, k: int, kind: str, elem: int) -> tuple:
    """(columns, [graph output]) for `value` [N, k] as the graph output `name`."""
    b.op("Identity", value, out=name)
    return default_columns([(name, k)], kind), [helper.make_tensor_value_info(name, elem, [None, k])]


def model(b, name: str, graph_inputs: list, graph_outputs: list, opsets: dict, producer: str):
    graph = helper.make_graph(b.nodes, name, graph_inputs, graph_outputs, initializer=b.initializers)
    return helper.make_model(graph, producer_name=producer,
                             opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])


def provenance(framework: str, version: str, estimator: str, source_file) -> dict:
    digest = hashlib.sha256(Path(source_file).read_bytes()).hexdigest() if source_file else None
    return {"framework": framework, "framework_version": version, "converter": "modelport",
            "converter_version": None, "estimator": estimator,
            "source_file": str(source_file) if source_file else None, "source_sha256": digest}


def frame(feed, names: list, categorical, integers=()):
    """The rows as the library takes them: a DataFrame; the `categorical` features (per-column
    tensors `in<f>`) as pandas categories of the names given (the empty string: missing), which
    the library re-codes by the categories stored in the model; for the features in `integers`,
    categories of the integers the names write."""
    import pandas as pd
    if not categorical:
        return pd.DataFrame(np.asarray(feed["X"], np.float64), columns=names)
    data = {}
    for f, c in enumerate(names):
        v = np.asarray(feed[f"in{f}"]).reshape(-1)
        if f in categorical:
            data[c] = pd.Categorical([None if s in ("", None) else int(s) if f in integers else str(s) for s in v])
        else:
            data[c] = v.astype(np.float64)
    return pd.DataFrame(data)
