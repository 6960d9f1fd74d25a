"""Every scikit-learn model family through tvm-llvm: the ai.onnx.ml ops are lowered to tensor
ops (compiler/passes/ml_to_tensor), TVM builds the result, and the C++ stub's program, C ABI
and JNI jar are checked against scikit-learn and ONNX Runtime."""
import subprocess

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import (ExtraTreesRegressor, GradientBoostingClassifier, GradientBoostingRegressor,
                              HistGradientBoostingClassifier, HistGradientBoostingRegressor,
                              RandomForestClassifier)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC
from sklearn.tree import DecisionTreeClassifier

from helpers import classic_data, compile_and_check

TVM = ("tvm-llvm",)
NAMES = np.array(["cat", "dog", "eel"])


@pytest.fixture(scope="module")
def data():
    X, y2, y3, yr = classic_data()
    rng = np.random.RandomState(0)
    Xn = X.copy()
    Xn[rng.rand(*X.shape) < 0.1] = np.nan
    return X, y2, y3, yr, Xn


CLASSIFIERS = {
    "logistic": lambda: LogisticRegression(max_iter=500),
    "linear_svc": lambda: LinearSVC(),
    "svc_rbf_probability": lambda: SVC(probability=True, random_state=0),
    "random_forest": lambda: RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0),
    "gradient_boosting": lambda: GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0),
    "mlp": lambda: MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0),
    "gaussian_nb": GaussianNB,
    "knn": lambda: KNeighborsClassifier(5),
}


@pytest.mark.parametrize("name", sorted(CLASSIFIERS))
def test_classifiers_three_classes(tmp_path, data, name):
    X, _, y3, _, _ = data
    model = CLASSIFIERS[name]().fit(X, y3)
    compile_and_check(model, tmp_path, targets=TVM, rows=96)


@pytest.mark.parametrize("name", ["logistic", "gradient_boosting"])
def test_binary_classifiers(tmp_path, data, name):
    X, y2, _, _, _ = data
    compile_and_check(CLASSIFIERS[name]().fit(X, y2), tmp_path, targets=TVM, rows=96)


def test_string_class_labels_come_back_as_strings(tmp_path, data):
    """The TVM graph holds class indices; the stubs map them back to the labels."""
    X, _, y3, _, _ = data
    model = RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0).fit(X, NAMES[y3])
    manifest = compile_and_check(model, tmp_path, targets=TVM, rows=96)
    assert manifest["targets"]["tvm-llvm"]["label_classes"] == {"label": ["cat", "dog", "eel"]}
    out = tmp_path / "out" / "tvm-llvm"
    header = ",".join(c["name"] for c in manifest["schema"]["inputs"])
    rows = header + "\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in X[:5]) + "\n"
    got = subprocess.run([str(out / "bin" / manifest["name"])], input=rows, capture_output=True, text=True)
    assert got.returncode == 0, got.stderr
    labels = [line.split(",")[0] for line in got.stdout.splitlines()[1:]]
    assert labels == list(model.predict(X[:5]))


REGRESSORS = {
    "linear": LinearRegression,
    "svr": SVR,
    "extra_trees": lambda: ExtraTreesRegressor(n_estimators=20, max_depth=6, random_state=0),
    "gradient_boosting": lambda: GradientBoostingRegressor(n_estimators=30, random_state=0),
    "scaled_ridge": lambda: make_pipeline(StandardScaler(), Ridge()),
    "minmax_svr": lambda: make_pipeline(MinMaxScaler(), SVR()),
}


@pytest.mark.parametrize("name", sorted(REGRESSORS))
def test_regressors(tmp_path, data, name):
    X, _, _, yr, _ = data
    compile_and_check(REGRESSORS[name]().fit(X, yr), tmp_path, targets=TVM, rows=96)


def test_missing_values_in_histogram_boosting(tmp_path, data):
    X, _, y3, yr, Xn = data
    compile_and_check(HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(Xn, y3), tmp_path / "c",
                      targets=TVM, rows=96)
    compile_and_check(HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(Xn, yr), tmp_path / "r",
                      targets=TVM, rows=96)


def test_imputer_pipeline_and_transformers(tmp_path, data):
    X, _, y3, _, Xn = data
    model = make_pipeline(SimpleImputer(strategy="median"), DecisionTreeClassifier(max_depth=5, random_state=0))
    compile_and_check(model.fit(Xn, y3), tmp_path / "imputer", targets=TVM, rows=96)
    compile_and_check(PCA(3).fit(X), tmp_path / "pca", targets=TVM, rows=96)
    compile_and_check(KMeans(3, n_init=3, random_state=0).fit(X), tmp_path / "kmeans", targets=TVM, rows=96)
