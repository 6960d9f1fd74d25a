"""Parity on the user's own values: models that compute in double compile to artifacts that
read, compare and answer in double; float32 models round as numpy does; the report checks
the original on unrounded float64 values and fails when an artifact rounds where the
original does not. The rows are the kinds that broke ports: the models' own training rows,
values on split points and one double or float32 step beside them, missing values, ties."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import modelport
from helpers import compile_and_check
from modelport.parity import inputs as parity_inputs


def _report(out: Path) -> dict:
    return json.loads((out / "parity.json").read_text())


def _r():
    pytest.importorskip("rpy2", reason="R tests need rpy2 (installed by make setup)")
    from r_helpers import r, write_rows
    return r, write_rows


@pytest.mark.parametrize("fit,data", [
    ("{set.seed(1); randomForest::randomForest(Sepal.Length ~ ., data = iris, ntree = 60)}", "iris"),
    ("{set.seed(1); randomForest::randomForest(Species ~ ., data = iris, ntree = 60)}", "iris"),
    ("{set.seed(2); ranger::ranger(Ozone ~ ., data = na.omit(airquality), num.trees = 60)}", "na.omit(airquality)"),
    ("{set.seed(3); ranger::ranger(Species ~ ., data = iris, num.trees = 40, probability = TRUE)}", "iris"),
    ("{set.seed(4); rpart::rpart(mpg ~ ., data = mtcars, control = rpart::rpart.control(minsplit = 4))}", "mtcars"),
    ("{set.seed(5); gbm::gbm(mpg ~ wt + hp + qsec, data = mtcars, distribution = 'gaussian', n.trees = 50, "
     "interaction.depth = 3, n.minobsinnode = 3)}", "mtcars"),
])
def test_r_models_on_their_own_training_rows_are_exact(fit, data, tmp_path):
    r, write_rows = _r()
    rows = write_rows(data, tmp_path / "rows.csv")
    manifest = compile_and_check(r(fit), tmp_path, targets=("cpp", "java", "onnx"), data=rows, name="rtrain")
    assert manifest["precision"]["model"] == "float64"
    assert set(manifest["precision"]["inputs"].values()) <= {"float64", "string"}
    checks = _report(tmp_path / "out")["checks"]
    assert {c["precision"] for c in checks} == {"float64"}
    assert all(c.get("tolerance", {"rtol": 1e-9})["rtol"] == 1e-9 for c in checks)


def test_float32_on_purpose_shows_the_cost(tmp_path):
    """--precision float32 on a forest whose split points are values of its own data: the
    report, run on the unrounded rows, fails and names the rows."""
    r, write_rows = _r()
    rows = write_rows("iris", tmp_path / "rows.csv")
    fit = r("{set.seed(1); randomForest::randomForest(Sepal.Length ~ ., data = iris, ntree = 60)}")
    out = tmp_path / "f32"
    manifest = modelport.compile(fit, targets="cpp,onnx", out=out, data=rows, name="f32", precision="float32")
    assert manifest["precision"]["model"] == "float32" and "float32 asked for" in manifest["precision"]["why"]
    assert not manifest["parity"]["passed"]
    bad = [c for c in _report(out)["checks"] if not c["passed"] and c["against"] == "reference"]
    assert bad and bad[0]["mismatched"] > 0 and bad[0]["mismatch_rows"]
    # the same model in its own precision passes on the same rows
    manifest = modelport.compile(fit, targets="cpp,onnx", out=tmp_path / "f64", data=rows, name="f64")
    assert manifest["parity"]["passed"]


def _edge_rows(thresholds: np.ndarray, n_features: int, seed=0) -> np.ndarray:
    """Rows whose every value is a split point, or one double or float32 step beside one."""
    rng = np.random.RandomState(seed)
    near = parity_inputs.steps(thresholds)
    return near[rng.randint(0, near.size, (2400, n_features))]


@pytest.mark.parametrize("kind", ["tree", "gb", "hgb"])
def test_sklearn_trees_on_split_points_and_one_step_beside(kind, tmp_path):
    from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
    from sklearn.tree import DecisionTreeClassifier
    rng = np.random.RandomState(0)
    X = rng.normal(size=(500, 4)) * 3
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(int) + (X[:, 3] > 1)
    est = {"tree": DecisionTreeClassifier(max_depth=8, random_state=0),
           "gb": GradientBoostingClassifier(n_estimators=20, max_depth=3, random_state=0),
           "hgb": HistGradientBoostingClassifier(max_iter=20, random_state=0)}[kind].fit(X, y)
    if kind == "hgb":
        thr = np.concatenate([p.nodes["num_threshold"][~p.nodes["is_leaf"].astype(bool)]
                              for it in est._predictors for p in it])
    else:
        trees = [est.tree_] if kind == "tree" else [t.tree_ for t in est.estimators_.ravel()]
        thr = np.concatenate([t.threshold[t.feature >= 0] for t in trees])
    rows = _edge_rows(thr, 4)
    path = tmp_path / "edges.csv"
    pd.DataFrame(rows, columns=[f"f{i}" for i in range(4)]).to_csv(path, index=False, float_format="%.17g")
    manifest = compile_and_check(est, tmp_path, data=path, name=kind)
    assert manifest["precision"]["model"] == ("float64" if kind == "hgb" else "float32")


def test_hist_gradient_boosting_with_nans_on_its_training_rows(tmp_path):
    from sklearn.ensemble import HistGradientBoostingRegressor
    rng = np.random.RandomState(1)
    X = np.round(rng.normal(size=(400, 5)) * 10, 1)
    X[rng.rand(*X.shape) < 0.15] = np.nan
    y = np.nansum(X[:, :3], axis=1) * 3 + rng.normal(size=400)
    est = HistGradientBoostingRegressor(max_iter=60, random_state=0).fit(X, y)
    path = tmp_path / "train.csv"
    pd.DataFrame(X, columns=[f"f{i}" for i in range(5)]).to_csv(path, index=False, float_format="%.17g")
    manifest = compile_and_check(est, tmp_path, data=path, name="hgbr")
    assert manifest["precision"] == {**manifest["precision"], "model": "float64",
                                     "inputs": {"X": "float64"}, "outputs": {"prediction": "float64"}}


def test_generated_rows_sit_on_split_points_and_one_step_beside(tmp_path):
    """Without --data, every report checks a tree model on its split points, one double step
    and one float32 step beside them (rows stored in parity/inputs.csv, read back exactly)."""
    from sklearn.tree import DecisionTreeRegressor
    rng = np.random.RandomState(2)
    X = rng.normal(size=(300, 3))
    est = DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, X[:, 0] - X[:, 1])
    compile_and_check(est, tmp_path, targets=("cpp",), name="gen")
    stored = pd.read_csv(tmp_path / "out" / "parity" / "inputs.csv")["f0"].to_numpy()
    t = est.tree_.threshold[est.tree_.feature == 0]
    f32 = t.astype(np.float32)
    kinds = {"on": np.isin(stored, t).any(), "double step": np.isin(stored, np.nextafter(t, np.inf)).any()
             or np.isin(stored, np.nextafter(t, -np.inf)).any(),
             "float32 step": np.isin(stored, np.nextafter(f32, np.float32(np.inf)).astype(np.float64)).any()
             or np.isin(stored, np.nextafter(f32, np.float32(-np.inf)).astype(np.float64)).any()}
    assert all(kinds.values()), kinds


def test_knn_ties_are_counted_as_ties(tmp_path):
    """Training points on an integer grid: many rows have their k-th and (k+1)-th neighbours
    at the same distance, which the report counts as ties, rows listed, not as mismatches."""
    from sklearn.neighbors import KNeighborsClassifier
    grid = np.array([[i, j] for i in range(6) for j in range(6)], dtype=np.float64)
    y = (grid.sum(axis=1) % 3).astype(int)
    est = KNeighborsClassifier(n_neighbors=3).fit(grid, y)
    queries = np.array([[i + 0.5, j + 0.5] for i in range(5) for j in range(5)] + [[i, j] for i in range(6)
                                                                                   for j in range(6)])
    path = tmp_path / "q.csv"
    pd.DataFrame(queries, columns=["f0", "f1"]).to_csv(path, index=False)
    from modelport.frontends import load_source
    source = load_source(est)
    tied = source.hints["tie_rows"]({"X": queries})
    # k = 3: a cell's centre has 4 corners at one distance; a grid point itself, then 4 points
    # at distance 1 (2 at the grid's corners, which are not ties)
    assert tied[:25].all() and tied[25:].sum() == 32
    manifest = modelport.compile(est, targets="cpp,onnx", out=tmp_path / "out", data=path, name="knn")
    report = _report(tmp_path / "out")
    assert manifest["parity"]["passed"], (tmp_path / "out" / "parity.md").read_text()
    for c in report["checks"]:  # a difference on a tied row is a tie, never a mismatch
        assert set(c["tie_rows"]) <= set(np.where(tied)[0]) and not set(c.get("mismatch_rows", [])) & \
            set(np.where(tied)[0])


def test_inspect_says_the_precision_and_why(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier
    X = np.random.RandomState(0).normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    from modelport.api import inspect
    info = inspect(LogisticRegression().fit(X, y))
    assert info["precision"]["model"] == "float64" and "precision: float64" in info["description"]
    info = inspect(DecisionTreeClassifier().fit(X, y))
    assert info["precision"]["model"] == "float32" and "casts its input to float32" in info["precision"]["why"]
    info = inspect(LogisticRegression().fit(X, y), precision="float32")
    assert info["precision"]["inputs"] == {"X": "float32"}
