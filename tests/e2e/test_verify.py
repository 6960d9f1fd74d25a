"""Reproducible builds and `modelport verify DIR`: the same model compiled twice gives the same
bytes (sources, libraries, programs, jars); the manifest records every file's SHA-256, and
verify finds a changed, missing or added file, a different source model, and re-runs the
stored parity rows."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

import modelport
from modelport.verify import verify

MODELPORT = [sys.executable, "-m", "modelport.cli"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    skops_io = pytest.importorskip("skops.io")
    rng = np.random.RandomState(0)
    X = rng.rand(300, 4)
    est = RandomForestClassifier(8, max_depth=5, random_state=0).fit(X, (X[:, 0] + X[:, 1] > 1).astype(int))
    d = tmp_path_factory.mktemp("verify_src")
    path = d / "forest.skops"
    skops_io.dump(est, path)
    other = d / "other.skops"
    skops_io.dump(RandomForestClassifier(3, random_state=1).fit(X, X[:, 2] > 0.5), other)
    return path, other


@pytest.fixture(scope="module")
def builds(model_file, tmp_path_factory):
    path, _ = model_file
    out = []
    for i in range(2):
        d = tmp_path_factory.mktemp(f"verify_build{i}") / "forest"
        modelport.compile(path, targets=("cpp", "java", "onnx"), out=d, name="forest")
        out.append(d)
    return out


def cli(*args):
    r = subprocess.run([*MODELPORT, "verify", *map(str, args)], capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr


def test_two_builds_of_one_model_are_byte_identical(builds):
    a, b = (json.loads((d / "manifest.json").read_text())["files"] for d in builds)
    assert a == b
    for rel in ("cpp/libforest.so", "cpp/libforest.a", "cpp/bin/forest", "cpp/lib/libmodelport_serve.so",
                "java/forest.jar", "onnx/forest.onnx", "cpp/forest.cpp", "parity/inputs.csv"):
        assert rel in a, sorted(a)
    # The manifest's hashes are the files' own.
    for rel, digest in a.items():
        assert hashlib.sha256((builds[0] / rel).read_bytes()).hexdigest() == digest


def test_verify_an_untouched_artifact_and_its_source(builds, model_file):
    path, other = model_file
    code, out, err = cli(builds[0], "--source", path, "-q")
    assert code == 0, out + err
    assert out.rstrip().endswith(": verified")
    assert "source " + str(path) + ": matches the recorded source" in out
    assert "parity on the stored rows: cpp (program): pass" in out
    assert "parity on the stored rows: java (jar): pass" in out
    code, out, _ = cli(builds[0], "--source", other, "--no-parity", "-q")
    assert code == 1 and "differs from the recorded source" in out and "NOT verified" in out
    # verify leaves the artifact's own reports alone.
    assert not list(builds[0].parent.glob(".verify*"))


def test_verify_names_what_changed(builds, tmp_path):
    d = tmp_path / "copy"
    shutil.copytree(builds[1], d, symlinks=True)
    lib = d / "cpp" / "libforest.so"
    data = bytearray(lib.read_bytes())
    data[len(data) // 2] ^= 1
    lib.write_bytes(bytes(data))
    (d / "java" / "forest.jar").unlink()
    (d / "notes.txt").write_text("added by hand\n")
    code, out, err = cli(d, "-q")
    assert code == 1, err
    assert "changed: cpp/libforest.so" in out and "missing: java/forest.jar" in out
    assert "not in the manifest (added after the build, not checked): notes.txt" in out
    assert "parity: not re-run (files changed)" in out
    r = verify(d, parity=False)
    assert (r["ok"], r["changed"], r["missing"], r["added"]) == (False, ["cpp/libforest.so"], ["java/forest.jar"],
                                                                 ["notes.txt"])
    # Only an added file: still verified.
    shutil.rmtree(d)
    shutil.copytree(builds[1], d, symlinks=True)
    (d / "notes.txt").write_text("x\n")
    assert verify(d, parity=False)["ok"]


def test_errors(tmp_path, builds):
    code, _, err = cli(tmp_path)
    assert code == 2 and "not a modelport artifact directory" in err
    d = tmp_path / "old"
    shutil.copytree(builds[0], d, symlinks=True)
    m = json.loads((d / "manifest.json").read_text())
    del m["files"]
    (d / "manifest.json").write_text(json.dumps(m))
    code, _, err = cli(d)
    assert code == 2 and "records no file hashes" in err and "Traceback" not in err
