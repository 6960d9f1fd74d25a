"""scikit-learn's SVMs compile in double, as libsvm computes them (frontends/sklearn_svm_double.py):
parity within 1e-9 on float64 rows that float32 cannot hold, on the real C++ program, library
and Java jar. Probabilities go through libsvm's coupling, one MulticlassProbability function
node that the kernels lower to libsvm's loop."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR, NuSVC, NuSVR, OneClassSVM

import modelport
from helpers import compile_and_check
from modelport.errors import UnsupportedError

F = 4
CPP = ("cpp", "onnx")
NAMES = np.array(["ash", "elm", "oak"])


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(7)
    X = rng.standard_normal((240, F))
    y3 = np.digitize(X[:, 0] + 0.7 * X[:, 1] * X[:, 2] + 0.3 * rng.standard_normal(240), [-0.4, 0.5])
    y2 = (X[:, 0] * X[:, 3] + 0.3 * rng.standard_normal(240) > 0).astype(np.int64)
    yr = X[:, 0] * 2 - np.sin(2 * X[:, 1]) + 0.1 * rng.standard_normal(240)
    rows = rng.standard_normal((400, F)) * 1.3
    assert (rows.astype(np.float32).astype(np.float64) != rows).all()  # no row is a float32 value
    return X, y2, y3, yr, rows


def _check(model, data, tmp_path, targets=CPP) -> dict:
    rows = data[-1]
    Path(tmp_path).mkdir(parents=True, exist_ok=True)
    path = Path(tmp_path) / "rows.csv"
    pd.DataFrame(rows, columns=[f"f{i}" for i in range(F)]).to_csv(path, index=False, float_format="%.17g")
    manifest = compile_and_check(model, tmp_path, targets=targets, data=path)
    assert manifest["precision"]["model"] == "float64", manifest["precision"]
    assert set(manifest["precision"]["inputs"].values()) == {"float64"}
    assert set(manifest["precision"]["outputs"].values()) <= {"float64", "int64", "string"}
    checks = json.loads((Path(tmp_path) / "out" / "parity.json").read_text())["checks"]
    assert {c["precision"] for c in checks} == {"float64"}
    assert all(c.get("tolerance", {"rtol": 1e-9})["rtol"] == 1e-9 for c in checks)
    assert all(c["rows"] == len(rows) for c in checks)
    return manifest


def test_svc_rbf_probabilities_three_classes(data, tmp_path):
    X, _, y3, _, rows = data
    model = SVC(probability=True, C=3.0, random_state=0).fit(X, y3)
    # float32 inputs would not do: libsvm's probabilities move by more than the tolerance
    p32 = model.predict_proba(rows.astype(np.float32).astype(np.float64))
    assert np.abs(p32 - model.predict_proba(rows)).max() > 1e-8
    manifest = _check(model, data, tmp_path, targets=("cpp", "java", "onnx"))
    assert "modelport.libsvm:MulticlassProbability" in manifest["onnx"]["ops"]


def test_svc_binary_probabilities_string_labels(data, tmp_path):
    # scikit-learn's libsvm couples two classes too (no shortcut): so does the graph
    X, y2, _, _, _ = data
    _check(SVC(probability=True, kernel="sigmoid", gamma=0.2, random_state=0).fit(X, NAMES[y2]), data, tmp_path)


@pytest.mark.parametrize("shape", ["ovr", "ovo"])
def test_svc_poly_decision_function(data, tmp_path, shape):
    X, _, y3, _, _ = data
    _check(SVC(kernel="poly", degree=3, coef0=0.5, decision_function_shape=shape).fit(X, y3), data, tmp_path)


def test_svc_binary_decision_function_and_nusvc_break_ties_in_a_pipeline(data, tmp_path):
    X, y2, y3, _, _ = data
    _check(SVC(kernel="linear").fit(X, y2), data, tmp_path / "binary")
    _check(make_pipeline(StandardScaler(), NuSVC(nu=0.3, break_ties=True)).fit(X, NAMES[y3]), data,
           tmp_path / "nusvc")


def test_regressors_and_one_class(data, tmp_path):
    X, _, _, yr, _ = data
    _check(NuSVR(C=2.0).fit(X, yr), data, tmp_path / "nusvr")
    _check(SVR(kernel="linear").fit(X, yr), data, tmp_path / "svr")
    manifest = _check(OneClassSVM(nu=0.2, gamma=0.3).fit(X), data, tmp_path / "one_class",
                      targets=("cpp", "java", "onnx"))
    assert [c["name"] for c in manifest["schema"]["outputs"]] == ["label", "score"]


def test_precision_float32_on_purpose_keeps_skl2onnx_operators(data, tmp_path):
    X, _, y3, _, _ = data
    model = SVC(probability=True, random_state=0).fit(X, y3)
    manifest = modelport.compile(model, targets="onnx", out=tmp_path / "out", precision="float32")
    assert manifest["precision"]["model"] == "float32"
    assert "ai.onnx.ml:SVMClassifier" in manifest["onnx"]["ops"]


def test_precomputed_kernel_is_refused(data):
    X, _, y3, _, _ = data
    model = SVC(kernel="precomputed").fit(X @ X.T, y3)
    with pytest.raises(UnsupportedError, match="supported kernels: linear, poly, rbf, sigmoid"):
        modelport.convert(model)
