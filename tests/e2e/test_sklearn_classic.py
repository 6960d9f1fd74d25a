"""End-to-end: classic scikit-learn models (linear, SVM, trees, preprocessing) through every target.

Each test compiles a small fitted model to C++ and Java, runs the built program, library and
jar, and checks them against scikit-learn and ONNX Runtime (tests/helpers.compile_and_check).
"""
import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor, RandomForestClassifier)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, RobustScaler, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from helpers import classic_data, compile_and_check

NAMES = np.array(["cat", "dog", "eel"])


@pytest.fixture(scope="module")
def data():
    return classic_data()


@pytest.fixture(scope="module")
def data_nan(data):
    X = data[0].copy()
    rng = np.random.RandomState(1)
    X[rng.rand(*X.shape) < 0.1] = np.nan
    return X


# ---- linear models ------------------------------------------------------------------------

@pytest.mark.parametrize("classes", [2, 3])
def test_logistic_regression(tmp_path, data, classes):
    X, y2, y3, _ = data
    compile_and_check(LogisticRegression(max_iter=500).fit(X, y2 if classes == 2 else y3), tmp_path)


def test_logistic_regression_string_labels(tmp_path, data):
    X, _, y3, _ = data
    compile_and_check(LogisticRegression(max_iter=500).fit(X, NAMES[y3]), tmp_path)


@pytest.mark.parametrize("classes", [2, 3])
def test_linear_svc(tmp_path, data, classes):
    X, y2, y3, _ = data
    compile_and_check(LinearSVC(random_state=0).fit(X, y2 if classes == 2 else y3), tmp_path)


# ---- support vector machines ---------------------------------------------------------------

@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
@pytest.mark.parametrize("probability", [False, True])
@pytest.mark.parametrize("classes", [2, 3])
def test_svc(tmp_path, data, kernel, probability, classes):
    X, y2, y3, _ = data
    X, y = X[:150], (y2 if classes == 2 else y3)[:150]
    model = SVC(kernel=kernel, probability=probability, degree=3, gamma="scale", random_state=0)
    compile_and_check(model.fit(X, y), tmp_path)


@pytest.mark.parametrize("kernel", ["linear", "rbf", "poly"])
def test_svr(tmp_path, data, kernel):
    X, _, _, yr = data
    compile_and_check(SVR(kernel=kernel, C=3.0).fit(X[:150], yr[:150]), tmp_path)


# ---- trees ---------------------------------------------------------------------------------

@pytest.mark.parametrize("classes", [2, 3])
def test_decision_tree_classifier(tmp_path, data, classes):
    X, y2, y3, _ = data
    compile_and_check(DecisionTreeClassifier(max_depth=6, random_state=0).fit(X, y2 if classes == 2 else y3),
                      tmp_path)


@pytest.mark.parametrize("classes", [2, 3])
def test_random_forest_classifier(tmp_path, data, classes):
    X, y2, y3, _ = data
    model = RandomForestClassifier(n_estimators=8, max_depth=6, random_state=0)
    compile_and_check(model.fit(X, y2 if classes == 2 else y3), tmp_path)


@pytest.mark.parametrize("classes", [2, 3])
def test_extra_trees_classifier(tmp_path, data, classes):
    X, y2, y3, _ = data
    model = ExtraTreesClassifier(n_estimators=8, max_depth=6, random_state=0)
    compile_and_check(model.fit(X, y2 if classes == 2 else y3), tmp_path)


@pytest.mark.parametrize("classes", [2, 3])
def test_gradient_boosting_classifier(tmp_path, data, classes):
    X, y2, y3, _ = data
    model = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0)
    compile_and_check(model.fit(X, y2 if classes == 2 else y3), tmp_path)


def test_tree_classifier_string_labels(tmp_path, data):
    X, _, y3, _ = data
    model = RandomForestClassifier(n_estimators=6, max_depth=5, random_state=0)
    compile_and_check(model.fit(X, NAMES[y3]), tmp_path)


def test_tree_classifier_string_labels_binary(tmp_path, data):
    X, y2, _, _ = data
    compile_and_check(DecisionTreeClassifier(max_depth=5, random_state=0).fit(X, NAMES[y2]), tmp_path)


def test_gradient_boosting_regressor(tmp_path, data):
    X, _, _, yr = data
    compile_and_check(GradientBoostingRegressor(n_estimators=10, max_depth=3, random_state=0).fit(X, yr), tmp_path)


def test_decision_tree_regressor(tmp_path, data):
    X, _, _, yr = data
    compile_and_check(DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, yr), tmp_path)


def test_extra_trees_regressor(tmp_path, data):
    X, _, _, yr = data
    compile_and_check(ExtraTreesRegressor(n_estimators=8, max_depth=6, random_state=0).fit(X, yr), tmp_path)


@pytest.mark.parametrize("classes", [2, 3])
def test_hist_gradient_boosting_classifier(tmp_path, data, data_nan, classes):
    _, y2, y3, _ = data
    model = HistGradientBoostingClassifier(max_iter=10, max_depth=4, random_state=0)
    compile_and_check(model.fit(data_nan, y2 if classes == 2 else y3), tmp_path)


def test_hist_gradient_boosting_regressor(tmp_path, data, data_nan):
    _, _, _, yr = data
    model = HistGradientBoostingRegressor(max_iter=10, max_depth=4, random_state=0)
    compile_and_check(model.fit(data_nan, yr), tmp_path)


# ---- preprocessing -------------------------------------------------------------------------

@pytest.mark.parametrize("scaler", [StandardScaler, RobustScaler, MinMaxScaler])
def test_scalers(tmp_path, data, scaler):
    compile_and_check(scaler().fit(data[0] * 3 + 1), tmp_path)


def test_simple_imputer_mean(tmp_path, data_nan):
    compile_and_check(SimpleImputer(strategy="mean").fit(data_nan), tmp_path)


def test_one_hot_encoder_strings(tmp_path):
    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"color": rng.choice(["red", "green", "blue"], 200),
                          "size": rng.choice(["S", "M", "L", "XL"], 200)})
    compile_and_check(OneHotEncoder(handle_unknown="ignore").fit(frame), tmp_path)
