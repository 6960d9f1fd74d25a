"""The command line: each bad input gets a clear message and the contract's exit code,
and a failed compile leaves no partial output directory."""
import json
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression

MODELPORT = [sys.executable, "-m", "modelport.cli"]


def run(*args, stdin=None):
    return subprocess.run([*MODELPORT, *map(str, args)], capture_output=True, text=True, input=stdin, timeout=600)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.RandomState(0)
    X = rng.randn(100, 3)
    model = LinearRegression().fit(X, X @ [1.0, -2.0, 0.5])
    sio.dump(model, d / "lr.skops")
    joblib.dump(model, d / "lr.pkl")
    out = d / "art"
    proc = run("compile", d / "lr.skops", "-t", "cpp,java", "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    return d, out


def test_compile_prints_parity_and_writes_layout(built):
    d, out = built
    for f in ("model.onnx", "manifest.json", "parity.json", "parity.xml", "parity.md",
              "cpp/lr.hpp", "cpp/lr.cpp", "cpp/CMakeLists.txt", "cpp/liblr.so", "cpp/liblr.a", "cpp/bin/lr",
              "java/lr.jar"):
        assert (out / f).exists(), f
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parity"]["passed"]
    assert manifest["source"]["source_sha256"]
    assert manifest["targets"]["cpp"]["compiler"]


def test_check_exit_0(built):
    _, out = built
    proc = run("check", out, "-q")
    assert proc.returncode == 0, proc.stderr
    assert "PASSED" in proc.stdout


def test_missing_model_file(tmp_path):
    proc = run("compile", tmp_path / "nope.skops", "-o", tmp_path / "o")
    assert proc.returncode == 2
    assert "model file not found" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"this is not a zip file")
    proc = run("compile", bad, "-o", tmp_path / "o")
    assert proc.returncode == 2
    assert "cannot read" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_corrupt_onnx_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"\x00\x01garbage")
    proc = run("inspect", bad)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_pickle_needs_trust(built, tmp_path):
    d, _ = built
    proc = run("compile", d / "lr.pkl", "-o", tmp_path / "o")
    assert proc.returncode == 2
    assert "--trust-pickle" in proc.stderr and "arbitrary code" in proc.stderr
    proc = run("compile", d / "lr.pkl", "-o", tmp_path / "o", "-t", "cpp", "--trust-pickle", "-q")
    assert proc.returncode == 0, proc.stderr


def test_unsupported_estimator(tmp_path):
    from sklearn.semi_supervised import LabelSpreading
    X = np.random.RandomState(0).randn(30, 2)
    model = LabelSpreading().fit(X, (X[:, 0] > 0).astype(int))
    sio.dump(model, tmp_path / "ls.skops")
    proc = run("compile", tmp_path / "ls.skops", "-o", tmp_path / "o", "--trust-pickle")
    assert proc.returncode == 2
    assert "LabelSpreading" in proc.stderr and "support" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()
    assert not list(tmp_path.glob(".o.*")), "a failed compile left a temporary directory"


def test_unknown_target(built, tmp_path):
    d, _ = built
    proc = run("compile", d / "lr.skops", "-t", "cobol", "-o", tmp_path / "o")
    assert proc.returncode == 2 and "cobol" in proc.stderr and "cpp" in proc.stderr


def test_data_missing_column(built, tmp_path):
    _, out = built
    f = tmp_path / "d.csv"
    f.write_text("f0,f1\n1,2\n")
    proc = run("check", out, "--data", f)
    assert proc.returncode == 2
    assert "'f2'" in proc.stderr


def test_data_non_numeric(built, tmp_path):
    _, out = built
    f = tmp_path / "d.csv"
    f.write_text("f0,f1,f2\n1,2,3\n1,abc,3\n")
    proc = run("check", out, "--data", f)
    assert proc.returncode == 2
    assert "f1" in proc.stderr and "abc" in proc.stderr


def test_data_good_file(built, tmp_path):
    _, out = built
    f = tmp_path / "d.csv"
    f.write_text("f2,f0,f1\n1,2,3\n-1.5,0,1e3\n")
    proc = run("check", out, "--data", f, "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("program", ["cpp", "java"])
@pytest.mark.parametrize("csv,needle", [
    ("f0,f1\n1,2\n", 'missing input column'),
    ("f0,f1,f2\n1,x,3\n", 'row 1 (line 2), column "f1": cannot parse "x"'),
    ("f0,f1,f2\n1,2,3\n1,2\n", "row 2 (line 3): expected 3 fields, found 2"),
])
def test_program_bad_rows(built, program, csv, needle):
    _, out = built
    cmd = [str(out / "cpp" / "bin" / "lr")] if program == "cpp" else ["java", "-jar", str(out / "java" / "lr.jar")]
    proc = subprocess.run(cmd, input=csv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert needle in proc.stderr, proc.stderr


def test_convert(built, tmp_path):
    d, _ = built
    proc = run("convert", d / "lr.skops", "-o", tmp_path / "m.onnx")
    assert proc.returncode == 0, proc.stderr
    import onnx
    onnx.checker.check_model(onnx.load(str(tmp_path / "m.onnx")))


def test_inspect(built):
    d, _ = built
    proc = run("inspect", d / "lr.skops")
    assert proc.returncode == 0
    assert "precision: float64" in proc.stdout and "MatMul" in proc.stdout and "cpp" in proc.stdout
    proc = run("inspect", d / "lr.skops", "--precision", "float32")
    assert proc.returncode == 0
    assert "LinearRegressor" in proc.stdout and "precision: float32 (float32 asked for" in proc.stdout


def test_same_model_twice_gives_identical_sources(built, tmp_path):
    d, out = built
    other = tmp_path / "again"
    assert run("compile", d / "lr.skops", "-t", "cpp,java", "-o", other, "-q").returncode == 0
    for rel in ("cpp/lr.cpp", "cpp/lr.hpp", "cpp/lr_main.cpp", "java/src/modelport/models/Lr.java",
                "java/src/modelport/models/Lr.bin"):
        assert (out / rel).read_bytes() == (other / rel).read_bytes(), rel


def test_data_npy_and_parquet(built, tmp_path):
    import pandas as pd
    _, out = built
    rows = np.random.RandomState(3).randn(40, 3)
    np.save(tmp_path / "d.npy", rows)
    pd.DataFrame(rows, columns=["f0", "f1", "f2"]).to_parquet(tmp_path / "d.parquet")
    for f in ("d.npy", "d.parquet"):
        proc = run("check", out, "--data", tmp_path / f, "-q", "--junit", tmp_path / "j.xml")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "40 rows" in proc.stdout
        assert "<testsuite" in (tmp_path / "j.xml").read_text()
    np.save(tmp_path / "bad.npy", rows[:, :2])
    proc = run("check", out, "--data", tmp_path / "bad.npy")
    assert proc.returncode == 2 and "3 columns" in proc.stderr


def test_onnx_file_with_string_input_and_integer_output(tmp_path):
    """A bare .onnx file: string inputs become string columns, integer outputs compare exactly."""
    import onnx
    from onnx import TensorProto, helper
    from helpers import compile_and_check
    nodes = [helper.make_node("OneHotEncoder", ["s"], ["oh"], domain="ai.onnx.ml",
                              cats_strings=["red", "green", "blue"], zeros=1),
             helper.make_node("ArgMax", ["oh"], ["idx"], axis=2, keepdims=0)]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("s", TensorProto.STRING, ["N", 1])],
                              [helper.make_tensor_value_info("idx", TensorProto.INT64, ["N", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    path = tmp_path / "colors.onnx"
    onnx.save(model, path)
    data = tmp_path / "rows.csv"
    data.write_text("s\nred\nblue\ngreen\nblue\nviolet\n")
    manifest = compile_and_check(path, tmp_path, targets=("cpp", "java"), data=data)
    assert [c["kind"] for c in manifest["schema"]["inputs"]] == ["string"]
    assert [c["kind"] for c in manifest["schema"]["outputs"]] == ["label"]
    proc = subprocess.run([str(tmp_path / "out" / "cpp" / "bin" / "colors")], input="s\nblue\nred\n",
                          capture_output=True, text=True)
    assert proc.stdout.split() == ["idx", "2", "0"]


def test_output_folder_with_a_colon_and_parentheses(built, tmp_path):
    """Java reads ':' in a jar's path as a class path separator: the jar still runs."""
    out = tmp_path / "run 2026-12-05T06:30 (a)"
    proc = run("compile", built[0] / "lr.skops", "-t", "java", "-o", out, "-q")
    assert proc.returncode == 0, proc.stderr
    report = json.loads((out / "parity.json").read_text())
    assert {(c["target"], c["runner"]) for c in report["checks"]} >= {("java", "jar")} and not report["errors"]
