"""Deep, uneven trees take the early-stopping walk (compiler/ops/_trees.py): parity on
every runner, with missing values, for batches and single rows."""
import numpy as np
from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier
from sklearn.tree import DecisionTreeRegressor

from helpers import compile_and_check


def _data(n=1500, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 6)
    y = X[:, 0] + np.sin(3 * X[:, 1]) + X[:, 2] * X[:, 3] + 0.1 * rng.randn(n)
    return X.astype(np.float32), y


def _walks_early(out):
    return "active" in (out / "cpp" / "deep.cpp").read_text()


def test_deep_tree_with_missing_values(tmp_path):
    X, y = _data()
    X[np.random.RandomState(1).rand(*X.shape) < 0.1] = np.nan  # learned missing-value directions
    model = DecisionTreeRegressor(random_state=0).fit(X, y)
    assert model.get_depth() - 6 >= 6
    compile_and_check(model, tmp_path, name="deep")
    assert _walks_early(tmp_path / "out")


def test_deep_forests(tmp_path):
    X, y = _data()
    for i, model in enumerate([ExtraTreesRegressor(n_estimators=13, random_state=0),
                               RandomForestClassifier(n_estimators=11, random_state=0)]):
        target = y if i == 0 else (y > 0.3).astype(int) + (y > 1.2)
        compile_and_check(model.fit(X, target), tmp_path / str(i), name="deep")
        assert _walks_early(tmp_path / str(i) / "out")
