"""Shared test helpers: compile for real, run the real artifacts, read the parity report."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

import modelport

ALL = ("cpp", "java", "onnx")


def compile_and_check(model, tmp_path: Path, targets=ALL, data=None, name=None, rows=256, **shape_options) -> dict:
    """Compile `model`; assert that parity holds on every target and runner; return the manifest.
    `shape_options`: example_inputs, input_shapes, input_dtypes (deep-learning frontends)."""
    out = Path(tmp_path) / "out"
    manifest = modelport.compile(model, targets=targets, out=out, data=data, name=name, rows=rows,
                                 **shape_options)
    report = json.loads((out / "parity.json").read_text())
    assert manifest["parity"]["passed"], (out / "parity.md").read_text() + json.dumps(
        [c for c in report["checks"] if not c["passed"]] + report["errors"], indent=1)[:4000]
    runners = {(c["target"], c["runner"]) for c in report["checks"]}
    for t in targets:
        assert any(r[0] == t for r in runners), f"target {t} was not run: {runners}"
    return manifest


def classic_data(n: int = 240):
    """Seeded rows of 5 float32 features with a binary, a 3-class and a regression target,
    shared by the scikit-learn end-to-end tests."""
    rng = np.random.RandomState(0)
    X = rng.randn(n, 5).astype(np.float32)
    y2 = (X[:, 0] + 0.8 * X[:, 1] - 0.3 * X[:, 4] + 0.3 * rng.randn(n) > 0).astype(np.int64)
    y3 = np.digitize(X[:, 0] + 0.5 * X[:, 2] + 0.3 * rng.randn(n), [-0.5, 0.6]).astype(np.int64)
    yr = X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5]) + 0.5 * np.sin(3 * X[:, 1]) + 0.1 * rng.randn(n)
    return X, y2, y3, yr


def single_op_model(op_type, inputs, outputs, attrs=None, domain="", initializers=(), opset=18):
    """A one-node ONNX model. inputs/outputs: [(name, elem_type, shape)] with shape[0] = 'N'."""
    node = helper.make_node(op_type, [i[0] for i in inputs] + [t.name for t in initializers],
                            [o[0] for o in outputs], domain=domain or None, **(attrs or {}))
    graph = helper.make_graph(
        [node], op_type.lower(),
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=list(initializers))
    opsets = [helper.make_opsetid("", opset)]
    if domain:
        opsets.append(helper.make_opsetid(domain, 3 if domain == "ai.onnx.ml" else 1))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def midpoint_texts(rng, n):
    """(texts, float32 values numpy gives them): decimal strings next to midpoints of adjacent
    float32 values (repr of the midpoint, its exact value plus and minus a millionth of its
    double ulp), where parsing straight to float32 (strtof, Float.parseFloat) and numpy's
    float64 -> float32 differ."""
    import math
    from decimal import Decimal
    a = (rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, n)).astype(np.float32)
    texts = []
    for v in a:
        m = (float(v) + float(np.nextafter(v, np.float32(np.inf)))) / 2
        step = Decimal(math.ulp(m)) / Decimal(10 ** 6)
        texts += [repr(m), str(Decimal(m) + step), str(Decimal(m) - step)]
    texts.append("1.8685027956962585")
    return texts, np.array([np.float32(np.float64(t)) for t in texts], dtype=np.float32)


__all__ = ["compile_and_check", "midpoint_texts", "classic_data", "single_op_model", "TensorProto", "np", "ALL"]
