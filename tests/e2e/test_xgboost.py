"""XGBoost end to end: the scikit-learn wrappers, Boosters from xgb.train, model files; every
artifact against XGBoost's own predict / predict_proba / output_margin, with missing values
and rows on split points (generated from the trees)."""
import json
import subprocess
import sys

import numpy as np
import onnx
import pandas as pd
import pytest
import xgboost as xgb

import modelport
from modelport.errors import UnsupportedError
from helpers import compile_and_check


def _data(n=500, f=6, seed=0, missing=0.1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, f))
    X[:, 2] = np.round(X[:, 2] * 3)  # few distinct values: many rows sit on split points
    X[rng.random((n, f)) < missing] = np.nan
    z = np.nan_to_num(X)
    return X, z


def _trees(path) -> int:
    proto = onnx.load(str(path / "out" / "model.onnx"))
    node = next(n for n in proto.graph.node if n.op_type == "TreeEnsembleRegressor")
    ids = next(a for a in node.attribute if a.name == "nodes_treeids").ints
    return len(set(ids))


def test_classifier_binary_and_multiclass_with_missing_values(tmp_path):
    X, z = _data()
    binary = xgb.XGBClassifier(n_estimators=30, max_depth=4).fit(X, (z[:, 0] + z[:, 2] > 0).astype(int))
    m = compile_and_check(binary, tmp_path / "b")
    assert m["precision"]["model"] == "float32" and "XGBoost" in m["precision"]["why"]
    assert "missing values included" in (tmp_path / "b" / "out" / "parity.md").read_text()
    y3 = np.digitize(z[:, 0] + 0.5 * z[:, 1], [-0.5, 0.6])
    multi = xgb.XGBClassifier(n_estimators=15, max_depth=3).fit(X, y3)
    m = compile_and_check(multi, tmp_path / "m")
    assert [c["name"] for c in m["schema"]["outputs"]] == ["label", "prob_0", "prob_1", "prob_2"]


@pytest.mark.parametrize("objective", ["reg:squarederror", "reg:logistic", "count:poisson", "reg:tweedie",
                                       "reg:gamma", "reg:absoluteerror"])
def test_regressor_objectives(tmp_path, objective):
    X, z = _data(seed=1)
    y = np.exp(0.4 * z[:, 0] - 0.3 * z[:, 1]) + 0.1
    if objective == "reg:logistic":
        y = 1 / (1 + np.exp(-z[:, 0]))
    model = xgb.XGBRegressor(n_estimators=20, max_depth=4, objective=objective).fit(X, y)
    compile_and_check(model, tmp_path, targets=("cpp", "java"))


def test_random_forests_and_dart(tmp_path):
    X, z = _data(seed=2)
    rf = xgb.XGBRFClassifier(n_estimators=12, max_depth=5).fit(X, (z[:, 1] > 0).astype(int))
    compile_and_check(rf, tmp_path / "rfc", targets=("cpp", "java"))
    rfr = xgb.XGBRFRegressor(n_estimators=12, max_depth=5).fit(X, z[:, 0] * 2)
    compile_and_check(rfr, tmp_path / "rfr", targets=("cpp",))
    dart = xgb.XGBRegressor(n_estimators=15, max_depth=3, booster="dart", rate_drop=0.3, random_state=0)
    dart.fit(X, z[:, 0] + z[:, 3])
    weights = json.loads(dart.get_booster().save_raw("json"))["learner"]["gradient_booster"]["weight_drop"]
    assert any(w != 1.0 for w in weights)  # the trees' weights matter
    compile_and_check(dart, tmp_path / "dart", targets=("cpp", "java"))


def test_early_stopping_uses_the_best_iteration_as_predict_does(tmp_path):
    X, z = _data(n=600, seed=3)
    y = (z[:, 0] + 0.3 * np.random.default_rng(0).normal(size=len(z)) > 0).astype(int)
    model = xgb.XGBClassifier(n_estimators=200, max_depth=3, learning_rate=0.3, early_stopping_rounds=5)
    model.fit(X[:400], y[:400], eval_set=[(X[400:], y[400:])], verbose=False)
    assert model.best_iteration + 1 < model.get_booster().num_boosted_rounds()
    compile_and_check(model, tmp_path, targets=("cpp",))
    assert _trees(tmp_path) == model.best_iteration + 1


def test_missing_value_other_than_nan(tmp_path):
    X, z = _data(seed=4, missing=0.0)
    X[np.random.default_rng(1).random(X.shape) < 0.1] = -999.0
    model = xgb.XGBRegressor(n_estimators=10, max_depth=3, missing=-999.0).fit(X, z[:, 0])
    data = tmp_path / "rows.csv"
    pd.DataFrame(X[:200], columns=[f"f{i}" for i in range(X.shape[1])]).to_csv(data, index=False)
    compile_and_check(model, tmp_path, targets=("cpp", "java"), data=data)


def test_pipeline_with_encoded_strings(tmp_path):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"age": rng.uniform(18, 80, 400), "city": rng.choice(["Oslo", "Lima", "Pune"], 400)})
    y = ((df["age"] > 40) ^ (df["city"] == "Lima")).astype(int)
    prep = ColumnTransformer([("num", "passthrough", ["age"]), ("cat", OneHotEncoder(handle_unknown="ignore"),
                                                                  ["city"])])
    model = Pipeline([("prep", prep), ("xgb", xgb.XGBClassifier(n_estimators=10, max_depth=3))]).fit(df, y)
    compile_and_check(model, tmp_path, targets=("cpp", "java"))


def test_booster_from_train_outputs_prediction_and_margin(tmp_path):
    X, z = _data(seed=6)
    dm = xgb.DMatrix(X, (z[:, 0] > 0).astype(int), feature_names=[f"col {i}" for i in range(X.shape[1])])
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 4}, dm, 20)
    m = compile_and_check(booster, tmp_path / "b", targets=("cpp", "java", "onnx"))
    assert [c["name"] for c in m["schema"]["outputs"]] == ["prediction", "margin"]
    assert [c["name"] for c in m["schema"]["inputs"]][:2] == ["col 0", "col 1"]
    y3 = np.digitize(z[:, 0], [-0.5, 0.6])
    soft = xgb.train({"objective": "multi:softmax", "num_class": 3, "max_depth": 3}, xgb.DMatrix(X, y3), 8)
    m = compile_and_check(soft, tmp_path / "s", targets=("cpp",))
    assert [c["name"] for c in m["schema"]["outputs"]][:2] == ["label", "margin_0"]
    # a sliced Booster compiles its rounds only
    compile_and_check(booster[:5], tmp_path / "sliced", targets=("cpp",))
    assert _trees(tmp_path / "sliced") == 5


@pytest.mark.parametrize("suffix", [".json", ".ubj"])
def test_model_files_through_the_cli(tmp_path, suffix):
    X, z = _data(seed=7)
    wrapper = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, (z[:, 1] > 0).astype(int))
    path = tmp_path / f"clf{suffix}"
    wrapper.save_model(path)
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "modelport.cli", "compile", str(path), "--targets", "cpp",
                          "--out", str(out)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr + run.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["parity"]["passed"]
    assert manifest["schema"]["task"] == "classifier"  # the wrapper, read back from the file
    booster_file = tmp_path / f"reg{suffix}"
    xgb.train({"objective": "count:poisson"}, xgb.DMatrix(X, np.exp(z[:, 0])), 10).save_model(booster_file)
    m = modelport.compile(booster_file, targets=("cpp",), out=tmp_path / "out2")
    assert m["parity"]["passed"]


def test_unsupported_objective_and_booster_name_what_is_supported(tmp_path):
    X, z = _data(seed=8, missing=0.0)
    aft = xgb.train({"objective": "survival:aft"}, xgb.DMatrix(X, label_lower_bound=np.abs(z[:, 0]) + 1,
                                                              label_upper_bound=np.abs(z[:, 0]) + 2), 3)
    with pytest.raises(UnsupportedError, match="survival:aft.*supported: .*binary:logistic"):
        modelport.compile(aft, targets=("cpp",), out=tmp_path / "a")
    linear = xgb.train({"booster": "gblinear"}, xgb.DMatrix(X, z[:, 0]), 3)
    with pytest.raises(UnsupportedError, match="gblinear.*supported: gbtree, dart"):
        modelport.compile(linear, targets=("cpp",), out=tmp_path / "l")
    assert not (tmp_path / "a").exists() and not (tmp_path / "l").exists()
    bad = tmp_path / "bad.json"
    bad.write_text('{"not": "a model"}')
    run = subprocess.run([sys.executable, "-m", "modelport.cli", "compile", str(bad), "--targets", "cpp",
                          "--out", str(tmp_path / "b")], capture_output=True, text=True)
    assert run.returncode == 2 and "XGBoost model file" in run.stderr and "Traceback" not in run.stderr


def test_tvm_llvm(tmp_path):
    X, z = _data(seed=9)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3).fit(X, np.digitize(z[:, 0], [-0.5, 0.6]))
    compile_and_check(model, tmp_path, targets=("tvm-llvm",))


def _categorical_frame(n, seed):
    rng = np.random.default_rng(seed)
    cities = ["Oslo", "Lima", "Pune", "Rome", "Kyiv", 'Rio, "RJ"']
    df = pd.DataFrame({"a": rng.normal(size=n), "city": pd.Categorical(rng.choice(cities, n)),
                       "b": rng.normal(size=n), "tier": pd.Categorical(rng.choice(["x", "y"], n))})
    df.loc[rng.random(n) < 0.1, "city"] = np.nan
    df.loc[rng.random(n) < 0.1, "a"] = np.nan
    return df


@pytest.mark.parametrize("onehot", [1, 8], ids=["partition", "onehot"])
def test_categorical_features_take_the_category_names(tmp_path, onehot):
    df = _categorical_frame(800, 10)
    y = ((df.a > 0) ^ df.city.isin(["Lima", "Rome", 'Rio, "RJ"'])).astype(int) + (df.tier == "y")
    model = xgb.XGBClassifier(n_estimators=15, max_depth=4, enable_categorical=True, max_cat_to_onehot=onehot)
    model.fit(df, y)
    assert any(t["categories_nodes"] for t in json.loads(model.get_booster().save_raw("json"))
               ["learner"]["gradient_booster"]["model"]["trees"])
    m = compile_and_check(model, tmp_path / "w")
    cols = {c["name"]: c for c in m["schema"]["inputs"]}
    assert cols["city"]["kind"] == "string" and cols["city"]["closed"] and 'Rio, "RJ"' in cols["city"]["levels"]
    assert cols["a"]["kind"] == "number"
    assert "empty levels included" in (tmp_path / "w" / "out" / "parity.md").read_text()
    # XGBoost refuses a category it was not trained on; so do the programs
    program = tmp_path / "w" / "out" / "cpp" / "bin" / m["name"]
    run = subprocess.run([str(program)], input="a,city,b,tier\n0.5,Paris,0,x\n", capture_output=True, text=True)
    assert run.returncode == 2 and 'unknown level "Paris"' in run.stderr
    ok = subprocess.run([str(program)], input='a,city,b,tier\n0.5,"Rio, ""RJ""",0,x\n0.5,,0,y\n',
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    # the Booster of the same model, and a regressor saved to a file
    compile_and_check(model.get_booster(), tmp_path / "b", targets=("cpp", "java"))
    reg = xgb.XGBRegressor(n_estimators=10, max_depth=3, enable_categorical=True, max_cat_to_onehot=onehot)
    path = tmp_path / "reg.json"
    reg.fit(df, df.b * 2 + df.city.isin(["Oslo", "Kyiv"])).save_model(path)
    compile_and_check(path, tmp_path / "f", targets=("cpp",))


def test_categorical_features_given_as_codes(tmp_path):
    # trained from codes (feature_types "c", no names): the compiled model takes the codes; a
    # negative value is no category, a fractional one counts by its integer part, NaN is
    # missing (parity rows sit on the codes and one step beside them)
    rng = np.random.default_rng(12)
    n = 800
    codes = rng.integers(0, 9, n).astype(float)
    codes[rng.random(n) < 0.1] = np.nan
    x = rng.normal(size=n)
    y = (np.isin(codes, [1, 4, 6, 7]) ^ (x > 0)).astype(int)
    X = np.c_[x, codes]
    dtrain = xgb.DMatrix(X, label=y, feature_types=["q", "c"], enable_categorical=True)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "max_cat_to_onehot": 1}, dtrain, 12)
    m = compile_and_check(booster, tmp_path / "b", targets=("cpp", "java", "onnx", "tvm-llvm"))
    assert [c["kind"] for c in m["schema"]["inputs"]] == ["number", "number"]
    assert "missing values included" in (tmp_path / "b" / "out" / "parity.md").read_text()
    wrapper = xgb.XGBClassifier(n_estimators=8, max_depth=3, feature_types=["q", "c"], enable_categorical=True,
                                max_cat_to_onehot=1).fit(X, y)
    compile_and_check(wrapper, tmp_path / "w", targets=("cpp",))


def test_categories_that_are_integers_take_their_text(tmp_path):
    rng = np.random.default_rng(16)
    df = pd.DataFrame({"size": pd.Categorical(rng.choice([3, 7, 11, 40], 600)), "x": rng.normal(size=600)})
    df.loc[rng.random(600) < 0.1, "size"] = np.nan
    y = (df["size"].isin([7, 40]) ^ (df.x > 0)).astype(int)
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True, max_cat_to_onehot=1).fit(df, y)
    m = compile_and_check(model, tmp_path / "w", targets=("cpp", "java"))
    size = m["schema"]["inputs"][0]
    assert size["kind"] == "string" and size["closed"] and size["levels"] == ["3", "7", "11", "40"]
    compile_and_check(model.get_booster(), tmp_path / "b", targets=("cpp",))


def test_codes_from_an_ordinal_encoder_in_a_pipeline(tmp_path):
    # the encoder's codes (unknown levels: -1, no category) feed a categorical feature
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder
    rng = np.random.default_rng(14)
    df = pd.DataFrame({"city": rng.choice(["Oslo", "Lima", "Pune", "Rome", "Kyiv"], 600), "x": rng.normal(size=600)})
    y = (df.city.isin(["Lima", "Rome"]) ^ (df.x > 0)).astype(int)
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    model = Pipeline([("ct", ColumnTransformer([("cat", enc, ["city"])], remainder="passthrough")),
                      ("xgb", xgb.XGBClassifier(n_estimators=10, max_depth=3, feature_types=["c", "q"],
                                                enable_categorical=True, max_cat_to_onehot=1))]).fit(df, y)
    compile_and_check(model, tmp_path, targets=("cpp", "java"))
    assert "unseen and empty levels included" in (tmp_path / "out" / "parity.md").read_text()


def test_multi_quantile_and_multi_target_regressors(tmp_path):
    X, z = _data(seed=11)
    quantiles = xgb.XGBRegressor(n_estimators=10, max_depth=3, objective="reg:quantileerror",
                                 quantile_alpha=np.array([0.2, 0.5, 0.8])).fit(X, z[:, 0])
    m = compile_and_check(quantiles, tmp_path / "q", targets=("cpp", "java"))
    assert [c["name"] for c in m["schema"]["outputs"]] == ["prediction_0", "prediction_1", "prediction_2"]
    targets = xgb.XGBRegressor(n_estimators=10, max_depth=3).fit(X, np.c_[z[:, 0], 2 * z[:, 1]])
    compile_and_check(targets, tmp_path / "t", targets=("cpp", "java"))
