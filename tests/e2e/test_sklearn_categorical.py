"""String columns the way scikit-learn pipelines treat them, end to end: SimpleImputer on strings
(constant, most_frequent), OneHotEncoder's drop / infrequent categories / handle_unknown modes /
a learned NaN category, OrdinalEncoder, TargetEncoder (frontends/sklearn_string_encoders.py).
A missing cell is an empty field: the original model gets NaN for it, as pandas reads the CSV."""
import subprocess

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler, TargetEncoder
from sklearn.tree import DecisionTreeClassifier

import modelport
from modelport.errors import UnsupportedError
from helpers import compile_and_check

CITIES = ["Oslo", "Lima", "Pune", "Rome", "Kiev"]


def frame(n, seed, missing=0.1):
    rng = np.random.RandomState(seed)
    df = pd.DataFrame({"age": rng.uniform(18, 80, n),
                       "city": rng.choice(CITIES, n, p=[.4, .3, .2, .07, .03]).astype(object),
                       "plan": rng.choice(["basic", "plus", "pro"], n).astype(object)})
    df.loc[rng.rand(n) < missing, "city"] = np.nan
    return df


def target(df):
    return ((df["age"] > 40) ^ (df["city"] == "Lima") ^ (df["plan"] == "pro")).astype(int)


def model(encoder, cols=("city", "plan"), final=None):
    prep = ColumnTransformer([("num", StandardScaler(), ["age"]), ("cat", encoder, list(cols))])
    return Pipeline([("prep", prep), ("final", LogisticRegression(max_iter=500) if final is None else final)])


def user_csv(tmp_path, seed=5):
    """Rows as a user has them: empty fields for missing cities, a city never seen in training."""
    df = frame(120, seed, missing=0.15)
    df.loc[::17, "city"] = "Cairo"
    path = tmp_path / "rows.csv"
    df.to_csv(path, index=False)
    assert ",," in path.read_text()
    return path


@pytest.mark.parametrize("strategy", ["constant", "most_frequent"])
def test_string_imputer_then_one_hot_encoder(tmp_path, strategy):
    df = frame(400, 0)
    imputer = SimpleImputer(strategy=strategy, fill_value="missing") if strategy == "constant" \
        else SimpleImputer(strategy=strategy)
    est = model(make_pipeline(imputer, OneHotEncoder(handle_unknown="ignore")),
                final=GradientBoostingClassifier(n_estimators=10, random_state=0)).fit(df, target(df))
    manifest = compile_and_check(est, tmp_path, targets=("cpp", "java", "onnx", "tvm-llvm"), data=user_csv(tmp_path))
    assert [c["kind"] for c in manifest["schema"]["inputs"]] == ["number", "string", "string"]
    # on tvm-llvm, the nodes that read the string columns run in the stub, the rest in TVM
    front = onnx.load(str(tmp_path / "out" / "tvm-llvm" / "front.onnx"))
    assert {i.name for i in front.graph.input} == {"city", "plan"}
    # the generated rows of the report hold empty and unseen levels too
    compile_and_check(est, tmp_path / "generated", targets=("cpp",))
    assert "unseen and empty levels included" in (tmp_path / "generated" / "out" / "parity.md").read_text()


@pytest.mark.parametrize("encoder", [
    OneHotEncoder(drop="first"),
    OneHotEncoder(drop="if_binary", handle_unknown="ignore"),
    OneHotEncoder(min_frequency=40, handle_unknown="infrequent_if_exist"),
    OneHotEncoder(max_categories=3, handle_unknown="infrequent_if_exist", drop="first"),
    OneHotEncoder(handle_unknown="ignore", sparse_output=False),
], ids=["drop-first", "drop-if-binary", "min-frequency", "max-categories", "nan-category"])
def test_one_hot_encoder_modes(tmp_path, encoder):
    df = frame(400, 1)
    compile_and_check(model(encoder).fit(df, target(df)), tmp_path)


def test_ordinal_encoder_with_infrequent_unknown_and_missing_values(tmp_path):
    df = frame(400, 2)
    enc = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2,
                         min_frequency=20)
    est = model(enc, final=DecisionTreeClassifier(max_depth=5, random_state=0)).fit(df, target(df))
    compile_and_check(est, tmp_path, data=user_csv(tmp_path))


@pytest.mark.parametrize("task", ["binary", "multiclass", "continuous"])
def test_target_encoder(tmp_path, task):
    df = frame(400, 3)
    y = {"binary": target(df), "multiclass": np.digitize(df["age"], [35, 60]),
         "continuous": df["age"] * 2 + (df["city"] == "Oslo") * 5.0}[task]
    final = Ridge() if task == "continuous" else LogisticRegression(max_iter=500)
    compile_and_check(model(TargetEncoder(), final=final).fit(df, y), tmp_path)


def test_closed_column_when_the_encoder_rejects_unknown_categories(tmp_path):
    # handle_unknown="error": the column is closed over the categories; the missing (NaN)
    # category was learned, so an empty field is a value the model takes.
    df = frame(400, 4)
    est = model(OneHotEncoder(), cols=("city",)).fit(df, target(df))
    manifest = compile_and_check(est, tmp_path, targets=("cpp",))
    city = next(c for c in manifest["schema"]["inputs"] if c["name"] == "city")
    assert city["closed"] and sorted(city["levels"]) == sorted(CITIES)
    assert "empty levels included" in (tmp_path / "out" / "parity.md").read_text()
    program = tmp_path / "out" / "cpp" / "bin" / manifest["name"]
    ok = subprocess.run([str(program)], input=b"age,city,plan\n30,Oslo,pro\n41,,basic\n", capture_output=True)
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run([str(program)], input=b"age,city,plan\n30,Cairo,pro\n", capture_output=True)
    assert bad.returncode != 0 and b'unknown level "Cairo"' in bad.stderr


def test_string_imputer_with_indicator_is_refused_clearly(tmp_path):
    df = frame(200, 6)
    est = model(make_pipeline(SimpleImputer(strategy="most_frequent", add_indicator=True),
                              OneHotEncoder(handle_unknown="ignore")), cols=("city",)).fit(df, target(df))
    with pytest.raises(UnsupportedError, match="add_indicator"):
        modelport.compile(est, targets=("cpp",), out=tmp_path / "out")


@pytest.mark.parametrize("encoder", [
    OneHotEncoder(handle_unknown="ignore"),
    OneHotEncoder(),
    OneHotEncoder(min_frequency=20, handle_unknown="infrequent_if_exist"),
    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-2),
    TargetEncoder(),
], ids=["one-hot-ignore", "one-hot-error", "one-hot-infrequent", "ordinal", "target"])
def test_numeric_categories_matched_exactly(tmp_path, encoder):
    # a number is its category only when equal to it (1.5 is not category 1, as skl2onnx's
    # OneHotEncoder would have it); NaN is the learned missing category; rows sit on the
    # categories and one step beside them
    rng = np.random.RandomState(7)
    df = pd.DataFrame({"zone": rng.choice([1, 2, 5, 9, 12], 400, p=[.4, .3, .2, .07, .03]).astype(float)})
    df.loc[rng.rand(400) < 0.1, "zone"] = np.nan
    y = (df.zone.isin([2, 9]) | df.zone.isna()).astype(int)
    est = Pipeline([("prep", ColumnTransformer([("cat", encoder, ["zone"])])),
                    ("final", LogisticRegression(max_iter=500))]).fit(df, y)
    compile_and_check(est, tmp_path, targets=("cpp", "java", "tvm-llvm"))
    if "ignore" in str(encoder):
        assert "missing values included" in (tmp_path / "out" / "parity.md").read_text()


def _hgb_frame(n, seed):
    rng = np.random.RandomState(seed)
    df = pd.DataFrame({"x": rng.randn(n), "city": pd.Categorical(rng.choice(CITIES, n)),
                       "k": rng.choice([1.0, 3.0, 7.0, 9.0], n)})
    df.loc[rng.rand(n) < 0.1, "city"] = np.nan
    df.loc[rng.rand(n) < 0.1, "x"] = np.nan
    return df


@pytest.mark.parametrize("task", ["binary", "multiclass", "regressor"])
def test_hist_gradient_boosting_with_categorical_features(tmp_path, task):
    # pandas categories (from_dtype) and numeric columns named categorical; unseen and missing
    # categories take the split's missing side, as scikit-learn's predictor does
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    df = _hgb_frame(600, 8)
    signal = df.city.isin(["Lima", "Rome"]) ^ (df.x > 0) ^ (df.k == 3)
    if task == "regressor":
        model = HistGradientBoostingRegressor(max_iter=15, categorical_features=["city", "k"])
        model.fit(df, signal * 2.0 + df.x.fillna(0))
    else:
        y = signal.astype(int) if task == "binary" else signal.astype(int) + (df.k > 5)
        model = HistGradientBoostingClassifier(max_iter=15, categorical_features=["city", "k"]).fit(df, y)
    m = compile_and_check(model, tmp_path, targets=("cpp", "java"))
    assert [c["kind"] for c in m["schema"]["inputs"]] == ["number", "string", "number"]
    text = (tmp_path / "out" / "parity.md").read_text()
    assert "unseen and empty levels included" in text and "missing values included" in text


def test_hist_gradient_boosting_categories_from_codes_and_after_an_encoder(tmp_path):
    from sklearn.compose import make_column_transformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    df = _hgb_frame(600, 9)
    y = (df.city.isin(["Lima", "Rome"]) ^ (df.x > 0)).astype(int)
    codes = HistGradientBoostingRegressor(max_iter=10, categorical_features=[1])
    compile_and_check(codes.fit(df[["x", "k"]].to_numpy(), y * 2.0 + df.x.fillna(0)), tmp_path / "codes",
                      targets=("cpp", "java", "tvm-llvm"))
    enc = make_column_transformer((OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
                                   ["city"]), remainder="passthrough")
    pipe = make_pipeline(enc, HistGradientBoostingClassifier(max_iter=10, categorical_features=[0]))
    compile_and_check(pipe.fit(df[["city", "x"]].astype({"city": object}), y), tmp_path / "pipe",
                      targets=("cpp", "java"))
