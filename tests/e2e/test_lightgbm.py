"""LightGBM end to end: the scikit-learn wrappers, Boosters from lgb.train, model files; every
artifact against LightGBM's own predict / predict_proba / raw_score, in double, with missing
values, zeros (LightGBM reads |x| <= 1e-35 as 0), categorical features and rows on split
points."""
import json
import subprocess
import sys

import lightgbm as lgb
import numpy as np
import onnx
import pandas as pd
import pytest

import modelport
from modelport.errors import UnsupportedError, UsageError
from helpers import compile_and_check

SMALL = dict(verbose=-1, min_child_samples=5, min_data_per_group=5, cat_smooth=1.0)


def _data(n=500, f=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f))
    X[:, 2] = np.round(X[:, 2] * 2)  # few distinct values: rows on split points
    X[rng.random((n, f)) < 0.1] = np.nan
    X[rng.random((n, f)) < 0.1] = 0.0
    return X, np.nan_to_num(X)


def test_classifiers_with_missing_values_and_zeros(tmp_path):
    X, z = _data()
    binary = lgb.LGBMClassifier(n_estimators=25, num_leaves=8, **SMALL).fit(X, (z[:, 0] + z[:, 2] > 0).astype(int))
    m = compile_and_check(binary, tmp_path / "b")
    assert m["precision"]["model"] == "float64"
    assert "missing values included" in (tmp_path / "b" / "out" / "parity.md").read_text()
    y3 = np.digitize(z[:, 0] + 0.5 * z[:, 1], [-0.5, 0.6])
    multi = lgb.LGBMClassifier(n_estimators=10, num_leaves=6, **SMALL).fit(X, y3)
    m = compile_and_check(multi, tmp_path / "m", targets=("cpp", "java"))
    assert [c["name"] for c in m["schema"]["outputs"]] == ["label", "prob_0", "prob_1", "prob_2"]
    ova = lgb.LGBMClassifier(n_estimators=10, num_leaves=6, objective="multiclassova", sigmoid=0.7, **SMALL)
    compile_and_check(ova.fit(X, y3), tmp_path / "ova", targets=("cpp",))
    zero = lgb.LGBMClassifier(n_estimators=10, num_leaves=6, zero_as_missing=True, **SMALL)
    compile_and_check(zero.fit(X, (z[:, 1] > 0).astype(int)), tmp_path / "zero", targets=("cpp", "java"))


@pytest.mark.parametrize("params", [
    dict(objective="regression"), dict(objective="regression", reg_sqrt=True), dict(objective="poisson"),
    dict(objective="gamma"), dict(objective="tweedie"), dict(objective="quantile", alpha=0.8),
    dict(objective="huber"), dict(objective="regression_l1"), dict(objective="regression", use_missing=False),
    dict(boosting_type="rf", bagging_freq=1, bagging_fraction=0.7), dict(boosting_type="dart"),
    dict(data_sample_strategy="goss"), dict(objective="fair"), dict(objective="mape"),
    dict(objective="cross_entropy")],
    ids=["l2", "sqrt", "poisson", "gamma", "tweedie", "quantile", "huber", "l1", "no-missing", "rf", "dart", "goss",
         "fair", "mape", "xentropy"])
def test_regressors(tmp_path, params):
    X, z = _data(seed=1)
    y = np.exp(0.5 * z[:, 0] - 0.3 * z[:, 1]) + 0.1
    if params.get("objective") == "cross_entropy":
        y = 1 / (1 + np.exp(-z[:, 0]))
    model = lgb.LGBMRegressor(n_estimators=15, num_leaves=8, **SMALL, **params).fit(X, y)
    compile_and_check(model, tmp_path, targets=("cpp", "java"))


def test_early_stopping_uses_the_best_iteration(tmp_path):
    X, z = _data(n=600, seed=2)
    y = (z[:, 0] + 0.5 * np.random.default_rng(0).normal(size=len(z)) > 0).astype(int)
    model = lgb.LGBMClassifier(n_estimators=300, num_leaves=8, learning_rate=0.3, **SMALL)
    model.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], callbacks=[lgb.early_stopping(5, verbose=False)])
    assert 0 < model.best_iteration_ < model.n_estimators
    compile_and_check(model, tmp_path, targets=("cpp",))
    proto = onnx.load(str(tmp_path / "out" / "model.onnx"))
    node = next(n for n in proto.graph.node if n.op_type == "TreeEnsemble")
    roots = next(a for a in node.attribute if a.name == "tree_roots").ints
    assert len(roots) == model.best_iteration_  # one tree per iteration, as predict uses


def test_booster_and_model_file(tmp_path):
    X, z = _data(seed=3)
    booster = lgb.train({"objective": "binary", "num_leaves": 8, "verbose": -1},
                        lgb.Dataset(X, (z[:, 0] > 0).astype(int), feature_name=[f"col {i}" for i in range(5)]), 15)
    m = compile_and_check(booster, tmp_path / "b", targets=("cpp", "java", "onnx"))
    assert [c["name"] for c in m["schema"]["outputs"]] == ["prediction", "raw_score"]
    assert [c["name"] for c in m["schema"]["inputs"]][:2] == ["col_0", "col_1"]  # LightGBM's own names
    path = tmp_path / "model.txt"
    booster.save_model(str(path))
    out = tmp_path / "cli"
    run = subprocess.run([sys.executable, "-m", "modelport.cli", "compile", str(path), "--targets", "cpp",
                          "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr + run.stdout
    assert json.loads((out / "manifest.json").read_text())["parity"]["passed"]


def _categorical_frame(n, seed):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "shop": pd.Categorical(rng.choice(["x", "y", "z", "w", "v, \"q\""], n)),
                       "b": rng.normal(size=n)})
    df.loc[rng.random(n) < 0.1, "shop"] = np.nan
    df.loc[rng.random(n) < 0.1, "a"] = np.nan
    return df


def test_pandas_category_columns_take_the_names(tmp_path):
    df = _categorical_frame(600, 4)
    y = (df.shop.isin(["x", "z"]) ^ (df.a > 0)).astype(int)
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=8, **SMALL).fit(df, y)
    assert any(t["num_cat"] for t in model.booster_.dump_model()["tree_info"])
    m = compile_and_check(model, tmp_path / "w")
    shop = next(c for c in m["schema"]["inputs"] if c["name"] == "shop")
    assert shop["kind"] == "string" and 'v, "q"' in shop["levels"]
    # LightGBM treats a category it never saw as missing; so do the artifacts (checked above
    # on generated rows, and here through the program)
    assert "unseen and empty levels included" in (tmp_path / "w" / "out" / "parity.md").read_text()
    booster = lgb.train(dict(objective="regression", num_leaves=8, **SMALL), lgb.Dataset(df, df.b * 2), 10)
    compile_and_check(booster, tmp_path / "b", targets=("cpp", "java"))
    path = tmp_path / "cat.txt"
    booster.save_model(str(path))
    compile_and_check(path, tmp_path / "f", targets=("cpp",))


def test_integer_coded_categorical_feature(tmp_path):
    X, z = _data(seed=5)
    rng = np.random.default_rng(6)
    X[:, 3] = rng.integers(0, 7, len(X))
    X[rng.random(len(X)) < 0.05, 3] = np.nan
    model = lgb.LGBMRegressor(n_estimators=15, num_leaves=8, **SMALL)
    model.fit(X, np.isin(X[:, 3], [1, 4, 5]) * 2.0 + z[:, 0], categorical_feature=[3])
    data = tmp_path / "rows.csv"
    rows = X[:120].copy()
    rows[:20, 3] = [-3, -1, -0.5, 0.5, 1.7, 4.2, 6, 7, 8, 100, 1e30, -1e30, np.nan, 0, 1, 2, 3, 4, 5, 6]
    pd.DataFrame(rows, columns=[f"Column_{i}" for i in range(5)]).to_csv(data, index=False)
    compile_and_check(model, tmp_path, targets=("cpp", "java"), data=data)


def test_pipeline_and_tvm(tmp_path):
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    X, z = _data(seed=7)
    model = Pipeline([("scale", StandardScaler()), ("lgbm", lgb.LGBMRegressor(n_estimators=10, num_leaves=6, **SMALL))])
    compile_and_check(model.fit(X, z[:, 0] * 2 + z[:, 1]), tmp_path / "p", targets=("cpp", "java"))
    clf = lgb.LGBMClassifier(n_estimators=10, num_leaves=6, **SMALL).fit(X, np.digitize(z[:, 0], [-0.5, 0.5]))
    compile_and_check(clf, tmp_path / "t", targets=("tvm-llvm",))


@pytest.mark.parametrize("objective", ["regression", "binary", "multiclass"])
def test_linear_trees(tmp_path, objective):
    # a leaf's linear model on the row's values; its constant leaf value where one of them is NaN
    X, z = _data(seed=13)
    y = {"regression": z[:, 0] * 2 + z[:, 1], "binary": (z[:, 0] > 0).astype(int),
         "multiclass": np.digitize(z[:, 0], [-0.5, 0.5])}[objective]
    params = {"objective": objective, "linear_tree": True, "num_leaves": 6, "linear_lambda": 0.1, "verbose": -1,
              **({"num_class": 3} if objective == "multiclass" else {})}
    booster = lgb.train(params, lgb.Dataset(X, y), 8)
    compile_and_check(booster, tmp_path / "b", targets=("cpp", "java", "onnx", "tvm-llvm"))
    assert "missing values included" in (tmp_path / "b" / "out" / "parity.md").read_text()
    if objective == "regression":
        wrapper = lgb.LGBMRegressor(linear_tree=True, n_estimators=6, num_leaves=5, verbose=-1).fit(X, y)
        compile_and_check(wrapper, tmp_path / "w", targets=("cpp",))


def test_codes_from_an_ordinal_encoder_in_a_pipeline(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder
    rng = np.random.default_rng(15)
    df = pd.DataFrame({"city": rng.choice(["Oslo", "Lima", "Pune", "Rome"], 600), "x": rng.normal(size=600)})
    y = (df.city.isin(["Lima", "Rome"]) ^ (df.x > 0)).astype(int)
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    model = Pipeline([("ct", ColumnTransformer([("cat", enc, ["city"])], remainder="passthrough")),
                      ("lgbm", lgb.LGBMClassifier(n_estimators=10, num_leaves=5, categorical_feature=[0],
                                                  **SMALL))]).fit(df, y)
    compile_and_check(model, tmp_path, targets=("cpp", "java"))
    assert "unseen and empty levels included" in (tmp_path / "out" / "parity.md").read_text()


def test_what_is_not_supported_is_named(tmp_path):
    X, z = _data(seed=8)
    xl = lgb.train({"objective": "cross_entropy_lambda", "verbose": -1}, lgb.Dataset(X, (z[:, 0] > 0) * 1.0), 3)
    with pytest.raises(UnsupportedError, match="cross_entropy_lambda.*supported: .*binary"):
        modelport.compile(xl, targets=("cpp",), out=tmp_path / "a")
    with pytest.raises(UsageError, match="float32"):
        modelport.compile(lgb.LGBMRegressor(n_estimators=2, **SMALL).fit(_categorical_frame(100, 1), np.ones(100)),
                          targets=("cpp",), out=tmp_path / "p", precision="float32")
    bad = tmp_path / "bad.txt"
    bad.write_text("not a model\n")
    run = subprocess.run([sys.executable, "-m", "modelport.cli", "compile", str(bad), "--targets", "cpp",
                          "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert run.returncode == 2 and "LightGBM model file" in run.stderr and "Traceback" not in run.stderr
