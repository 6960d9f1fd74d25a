"""scikit-learn estimators that compute in float64 compile in double where skl2onnx (or ONNX
Runtime) has only float32: the converters in front of skl2onnx's (frontends/sklearn_*_double.py)
build them in double, bare and inside pipelines. Parity within 1e-9 on float64 rows that
float32 cannot hold (NaNs where the model takes them), on the real C++ program and library
and the Java jar; the manifest says float64."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge, RidgeClassifier
from sklearn.naive_bayes import BernoulliNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (KBinsDiscretizer, OneHotEncoder, PolynomialFeatures, PowerTransformer,
                                   StandardScaler)
from sklearn.svm import LinearSVC

import modelport
from helpers import compile_and_check
from modelport.errors import UnsupportedError
from modelport.frontends import load_source
from modelport.parity import inputs as parity_inputs

F = 4
CPP = ("cpp", "onnx")
ALL = ("cpp", "java", "onnx")
NAMES = np.array(["ash", "elm", "oak"])
COLUMNS = [f"f{i}" for i in range(F)]


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(11)
    X = rng.standard_normal((300, F))
    y3 = np.digitize(X[:, 0] + 0.7 * X[:, 1] * X[:, 2] + 0.3 * rng.standard_normal(300), [-0.4, 0.5])
    y2 = (X[:, 0] - X[:, 3] + 0.3 * rng.standard_normal(300) > 0).astype(np.int64)
    yr = X[:, 0] * 2 - np.sin(2 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.1 * rng.standard_normal(300)
    Xn = X.copy()
    Xn[rng.rand(*X.shape) < 0.15] = np.nan
    rows = rng.standard_normal((300, F)) * 1.3
    assert (rows.astype(np.float32).astype(np.float64) != rows).all()  # no value is a float32 value
    rows_nan = rows.copy()
    rows_nan[rng.rand(*rows.shape) < 0.15] = np.nan
    return {"X": X, "Xn": Xn, "y2": y2, "y3": y3, "yr": yr, "rows": rows, "rows_nan": rows_nan}


def _write(rows, tmp_path: Path, columns=COLUMNS) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "rows.csv"
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows, columns=columns)
    frame.to_csv(path, index=False, float_format="%.17g")
    return path


def _check(model, rows, tmp_path: Path, targets=CPP) -> dict:
    manifest = compile_and_check(model, tmp_path, targets=targets, data=_write(rows, tmp_path))
    assert manifest["precision"]["model"] == "float64", manifest["precision"]
    assert set(manifest["precision"]["inputs"].values()) <= {"float64", "string"}
    assert "float64" in manifest["precision"]["inputs"].values()
    assert set(manifest["precision"]["outputs"].values()) <= {"float64", "int64", "string"}
    checks = json.loads((tmp_path / "out" / "parity.json").read_text())["checks"]
    assert {c["precision"] for c in checks} == {"float64"}
    assert all(c.get("tolerance", {"rtol": 1e-9})["rtol"] == 1e-9 for c in checks)
    assert all(c["rows"] == len(rows) for c in checks)
    return manifest


# ---- HistGradientBoosting inside pipelines -----------------------------------------------------

def _split_rows(model, n=400, seed=0) -> np.ndarray:
    """Rows whose values sit on the model's split points, or one double or float32 step beside."""
    thresholds = np.concatenate([p.nodes["num_threshold"][~p.nodes["is_leaf"].astype(bool)]
                                 for it in model._predictors for p in it])
    near = parity_inputs.steps(thresholds)
    rows = near[np.random.RandomState(seed).randint(0, near.size, (n, F))]
    rows[np.random.RandomState(seed + 1).rand(n, F) < 0.1] = np.nan
    return rows


def test_hist_gradient_boosting_regressor_after_an_imputer(data, tmp_path):
    model = make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                          HistGradientBoostingRegressor(max_iter=40, random_state=0)).fit(data["Xn"], data["yr"])
    hgb = model[-1]
    # the imputer passes every observed value through: rows on the trees' split points reach them
    rows = np.vstack([_split_rows(hgb), data["rows_nan"]])
    rounded = model.predict(rows.astype(np.float32).astype(np.float64))
    assert (rounded != model.predict(rows)).any()  # float32 inputs would take other branches
    manifest = _check(model, rows, tmp_path, targets=ALL)
    assert "ai.onnx.ml:TreeEnsemble" in manifest["onnx"]["ops"]
    assert manifest["precision"]["why"] == "scikit-learn computes this model in float64"


def test_hist_gradient_boosting_classifier_after_a_scaler(data, tmp_path):
    model = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=20, random_state=0))
    _check(model.fit(data["Xn"], NAMES[data["y3"]]), data["rows_nan"], tmp_path / "three")
    model = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=20, random_state=0))
    _check(model.fit(data["Xn"], data["y2"]), data["rows_nan"], tmp_path / "two")


def test_hist_gradient_boosting_categorical_in_a_pipeline_is_refused_clearly(data):
    X = np.c_[np.random.RandomState(0).randint(0, 4, 300), data["X"][:, 1:]]
    model = make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=3, categorical_features=[0]))
    with pytest.raises(UnsupportedError, match="categorical"):
        modelport.convert(model.fit(X, data["y2"]))


# ---- SimpleImputer -------------------------------------------------------------------------------

def test_simple_imputer_with_indicator_and_an_empty_column(data, tmp_path):
    Xn = data["Xn"].copy()
    Xn[:, 2] = np.nan  # no observed value: scikit-learn drops the column
    model = SimpleImputer(strategy="mean", add_indicator=True).fit(Xn)
    manifest = _check(model, data["rows_nan"], tmp_path, targets=ALL)
    assert len(manifest["schema"]["outputs"]) == model.transform(Xn[:1]).shape[1] == 3 + 4  # 3 kept, 4 flags
    assert "ai.onnx.ml:Imputer" not in manifest["onnx"]["ops"]


def test_simple_imputer_constant_and_a_number_as_missing_value(data, tmp_path):
    _check(SimpleImputer(strategy="constant", fill_value=-1.25).fit(data["Xn"]), data["rows_nan"],
           tmp_path / "constant")
    X0 = np.where(np.isnan(data["Xn"]), 0.0, data["Xn"])
    rows0 = np.where(np.isnan(data["rows_nan"]), 0.0, data["rows_nan"])
    _check(SimpleImputer(missing_values=0.0, strategy="median").fit(X0), rows0, tmp_path / "zero")


def test_simple_imputer_in_a_column_transformer_with_strings(data, tmp_path):
    frame = pd.DataFrame(data["Xn"], columns=COLUMNS).assign(tree=NAMES[data["y3"]])
    model = make_pipeline(ColumnTransformer([("num", make_pipeline(SimpleImputer(), StandardScaler()), COLUMNS),
                                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["tree"])]),
                          LogisticRegression(max_iter=500)).fit(frame, data["y2"])
    rows = pd.DataFrame(data["rows_nan"], columns=COLUMNS).assign(tree=NAMES[np.arange(len(data["rows"])) % 3])
    manifest = _check(model, rows, tmp_path)
    assert manifest["precision"]["inputs"]["tree"] == "string"


# ---- LinearSVC, RidgeClassifier ------------------------------------------------------------------

def test_linear_svc_three_classes_and_in_a_pipeline(data, tmp_path):
    _check(LinearSVC(random_state=0).fit(data["X"], NAMES[data["y3"]]), data["rows"], tmp_path / "bare",
           targets=ALL)
    _check(make_pipeline(StandardScaler(), LinearSVC(random_state=0)).fit(data["X"] * 4 + 1, data["y2"]),
           data["rows"] * 4 + 1, tmp_path / "pipeline")


def test_ridge_classifiers_two_classes(data, tmp_path):
    # skl2onnx lays the two-class scores out as [-d, d] for RidgeClassifier and as d for LinearSVC
    manifest = _check(RidgeClassifier(alpha=0.5).fit(data["X"], data["y2"]), data["rows"], tmp_path / "ridge")
    assert [c["name"] for c in manifest["schema"]["outputs"]] == ["label", "score_0", "score_1"]
    manifest = _check(LinearSVC(random_state=0).fit(data["X"], data["y2"]), data["rows"], tmp_path / "svc")
    assert [c["name"] for c in manifest["schema"]["outputs"]] == ["label", "score"]


# ---- transformers and naive Bayes ----------------------------------------------------------------

def test_polynomial_features(data, tmp_path):
    model = make_pipeline(PolynomialFeatures(3), StandardScaler(), Ridge(alpha=0.1)).fit(data["X"], data["yr"])
    _check(model, data["rows"], tmp_path / "ridge", targets=ALL)
    model = PolynomialFeatures((2, 3), interaction_only=True, include_bias=True).fit(data["X"])
    _check(model, data["rows"], tmp_path / "interactions")


@pytest.mark.parametrize("encode", ["ordinal", "onehot-dense"])
def test_k_bins_discretizer_on_its_bin_edges(data, tmp_path, encode):
    model = KBinsDiscretizer(n_bins=[3, 4, 5, 6], encode=encode, strategy="quantile").fit(data["X"])
    # values on every inner edge and one double step either side
    edges = np.concatenate([e[1:-1] for e in model.bin_edges_])
    near = np.concatenate([edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    rows = np.vstack([near[np.random.RandomState(3).randint(0, near.size, (200, F))], data["rows"]])
    _check(model, rows, tmp_path)


@pytest.mark.parametrize("method", ["yeo-johnson", "box-cox"])
def test_power_transformer(data, tmp_path, method):
    X, rows = (data["X"], data["rows"]) if method == "yeo-johnson" else (np.exp(data["X"]), np.exp(data["rows"]))
    rows = np.vstack([rows, rows * 1e-9])  # near 0, where log1p and expm1 must not lose digits
    _check(PowerTransformer(method=method).fit(X), rows, tmp_path, targets=ALL if method == "box-cox" else CPP)


def test_bernoulli_naive_bayes(data, tmp_path):
    # skl2onnx's graph offsets log(1 - p) by 1e-9; this one computes scikit-learn's constants
    _check(BernoulliNB(binarize=0.2).fit(data["X"], NAMES[data["y3"]]), data["rows"], tmp_path)


# ---- what stays float32 --------------------------------------------------------------------------

def test_knn_imputer_stays_float32_with_the_reason(data):
    source = load_source(KNNImputer().fit(data["Xn"]))
    assert source.precision == "float32"
    assert "KNNImputer" in source.precision_reason and "float32" in source.precision_reason
