"""End-to-end: regressors through every target, compared with scikit-learn."""
import numpy as np
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression

from helpers import compile_and_check


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 6).astype(np.float32)
    return X, X @ rng.randn(6) + 0.1 * rng.randn(300)


def test_linear_regression(tmp_path, data):
    compile_and_check(LinearRegression().fit(*data), tmp_path)


def test_random_forest_regressor(tmp_path, data):
    compile_and_check(RandomForestRegressor(n_estimators=12, max_depth=7, random_state=0).fit(*data), tmp_path)


def test_tree_learned_missing_value_directions(tmp_path, data):
    from sklearn.tree import DecisionTreeRegressor
    X, y = data
    X = X.copy()
    X[::4, 0] = np.nan
    X[1::6, 3] = np.nan
    model = DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, y)
    manifest = compile_and_check(model, tmp_path)
    assert "missing values included" in manifest["parity"]["data"]
