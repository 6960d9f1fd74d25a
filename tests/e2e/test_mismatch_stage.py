"""Where a mismatch starts: faults injected at each stage of the compiler (a wrong coefficient
in the converted ONNX graph, a graph pass that breaks the model, an op lowering that computes
the wrong thing) make parity fail, and the report (parity.json, parity.md, parity.html) names
that stage, and the pass or the ONNX node."""
from __future__ import annotations

import copy
import json

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import modelport
import modelport.frontends as frontends
import modelport.passes as passes
from modelport.kernel import ast as k
from modelport.ops import _broadcast, div


@pytest.fixture(scope="module")
def model():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4)) * [1, 10, 100, 0.1]
    return make_pipeline(StandardScaler(), LinearRegression()).fit(X, X @ [1.0, -0.2, 0.03, 5.0] + 2)


def perturb_first_float_initializer(proto: onnx.ModelProto) -> onnx.ModelProto:
    m = copy.deepcopy(proto)
    for i, init in enumerate(m.graph.initializer):
        a = numpy_helper.to_array(init)
        if a.dtype.kind == "f" and a.size:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(a * 1.5 + 0.25, init.name))
            return m
    for n in m.graph.node:  # ai.onnx.ml ops keep their numbers as attributes
        for att in n.attribute:
            if att.type == onnx.AttributeProto.FLOATS and len(att.floats):
                vals = [v * 1.5 + 0.25 for v in att.floats]
                del att.floats[:]
                att.floats.extend(vals)
                return m
    raise AssertionError("no float constant to perturb")


def compile_broken(model, tmp_path):
    manifest = modelport.compile(model, targets=("cpp", "java"), out=tmp_path / "out", name="lin")
    assert manifest["parity"]["passed"] is False
    report = json.loads((tmp_path / "out" / "parity.json").read_text())
    return report["mismatch"], tmp_path / "out"


def shows(out, *texts):
    md = (out / "parity.md").read_text()
    page = (out / "parity.html").read_text()
    assert "**Where the mismatch starts**" in md and "Where the mismatch starts" in page
    for t in texts:
        assert t in md or t in page, t


def test_a_wrong_coefficient_in_the_conversion(model, tmp_path, monkeypatch):
    real = frontends.load_source

    def converted_wrong(*args, **kwargs):
        source = real(*args, **kwargs)
        source.onnx = perturb_first_float_initializer(source.onnx)
        return source
    monkeypatch.setattr(frontends, "load_source", converted_wrong)
    m, out = compile_broken(model, tmp_path)
    assert m["stage"] == "onnx conversion" and m["target"] == "onnx-ir", m
    assert m["stages"][0]["agrees"] is False
    shows(out, "onnx conversion")


def test_a_broken_graph_pass(model, tmp_path, monkeypatch):
    def broken_pass(proto):
        return perturb_first_float_initializer(proto)
    broken_pass.__module__ = "passes.broken_example"
    monkeypatch.setattr(passes, "PASSES", [*passes.PASSES, broken_pass])
    m, out = compile_broken(model, tmp_path)
    assert m["stage"] == "graph passes" and m["pass"] == "broken_example.broken_pass", m
    assert [s["agrees"] for s in m["stages"]] == [True, False]
    shows(out, "broken_example.broken_pass")


def test_a_broken_op_lowering_names_the_node(model, tmp_path, monkeypatch):
    """Div lowered as a / b * (1 + 1e-6): wrong from the sixth digit on, in double."""
    def wrong_div(ctx, node, ins, outs):
        return _broadcast.binary(ctx, ins, outs, lambda a, b: a / b * k.Const(1.000001, outs[0].dtype))
    monkeypatch.setattr(div, "lower", wrong_div)
    m, out = compile_broken(model, tmp_path)
    assert m["target"] == "cpp" and m["stage"] == "lowered kernels", m
    assert m["op"] == "Div" and m["domain"] == "ai.onnx", m
    proto = onnx.load(str(out / "model.onnx"))
    assert m["node"] == next(n.name for n in proto.graph.node if n.op_type == "Div")
    assert m["tensor"] == next(n.output[0] for n in proto.graph.node if n.op_type == "Div")
    assert [s["stage"] for s in m["stages"]] == ["onnx conversion", "graph passes", "lowered kernels"]
    assert [s["agrees"] for s in m["stages"]] == [True, True, False]
    assert m["row"] in m["rows"]
    shows(out, "lowered kernels", "Div")


def test_a_passing_model_has_no_mismatch_section(model, tmp_path):
    modelport.compile(model, targets=("cpp",), out=tmp_path / "ok", name="lin")
    assert "mismatch" not in json.loads((tmp_path / "ok" / "parity.json").read_text())
    assert "Where the mismatch starts" not in (tmp_path / "ok" / "parity.html").read_text()
