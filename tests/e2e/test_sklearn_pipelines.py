"""Linear regressors and pipelines over mixed numeric and string columns, end to end."""
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier, GradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

from helpers import compile_and_check


@pytest.mark.parametrize("model", [Ridge(alpha=0.5), Lasso(alpha=0.01), ElasticNet(alpha=0.01, l1_ratio=0.3)],
                         ids=["ridge", "lasso", "elasticnet"])
def test_linear_regressors(tmp_path, model):
    rng = np.random.RandomState(1)
    X = rng.randn(200, 7)
    compile_and_check(model.fit(X, X @ rng.randn(7) + 3.0), tmp_path)


def _frame(n, seed):
    rng = np.random.RandomState(seed)
    df = pd.DataFrame({"age": rng.uniform(18, 80, n), "income": rng.lognormal(10, 0.5, n),
                       "city": rng.choice(["Oslo", "Lima", "Pune"], n), "tier": rng.choice(["a", "b"], n)})
    df.loc[rng.rand(n) < 0.1, "income"] = np.nan
    return df


def _prep():
    return ColumnTransformer([
        ("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]),
         ["age", "income"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["city", "tier"]),
    ])


def test_pipeline_gradient_boosting_classifier_with_missing_values(tmp_path):
    df = _frame(400, 0)
    y = np.where((df["age"] > 40) ^ (df["city"] == "Lima"), "yes", "no")
    model = Pipeline([("prep", _prep()), ("gb", GradientBoostingClassifier(n_estimators=20, random_state=0))])
    data = tmp_path / "rows.csv"
    _frame(150, 1).to_csv(data, index=False)
    manifest = compile_and_check(model.fit(df, y), tmp_path, data=data)
    assert [c["kind"] for c in manifest["schema"]["inputs"]] == ["number", "number", "string", "string"]


def test_pipeline_gradient_boosting_regressor_generated_rows(tmp_path):
    df = _frame(400, 2)
    y = df["age"] * 0.1 + (df["tier"] == "a") * 2.0
    model = Pipeline([("prep", _prep()), ("gb", GradientBoostingRegressor(n_estimators=15, random_state=0))])
    compile_and_check(model.fit(df, y), tmp_path)


def test_numeric_pipeline_scaler_into_regressor(tmp_path):
    rng = np.random.RandomState(3)
    X = rng.randn(200, 4) * [1, 10, 100, 1000]
    model = Pipeline([("mm", MinMaxScaler()), ("ridge", Ridge())]).fit(X, X[:, 0] + X[:, 3] / 1000)
    compile_and_check(model, tmp_path)


def test_ensemble_regressors_that_also_transform_are_regressors(tmp_path):
    # VotingRegressor and StackingRegressor have transform() too: they are still regressors,
    # checked against predict().
    from sklearn.ensemble import StackingRegressor, VotingRegressor
    from sklearn.linear_model import LinearRegression
    from sklearn.neighbors import KNeighborsRegressor
    rng = np.random.RandomState(2)
    X = rng.randn(240, 4)
    y = X @ np.array([1.0, 2.0, -1.0, 0.5]) + rng.randn(240)
    for i, est in enumerate([VotingRegressor([("r", Ridge()), ("l", LinearRegression())]),
                             StackingRegressor([("r", Ridge()), ("k", KNeighborsRegressor())],
                                               final_estimator=Ridge())]):
        m = compile_and_check(est.fit(X, y), tmp_path / str(i), targets=("cpp", "java"))
        assert m["schema"]["task"] == "regressor"
        assert [c["name"] for c in m["schema"]["outputs"]] == ["prediction"]


def test_local_outlier_factor_novelty_labels_and_scores(tmp_path):
    # An outlier detector: label 1 (inlier) or -1, and decision_function as the score.
    from sklearn.neighbors import LocalOutlierFactor
    rng = np.random.RandomState(3)
    X = rng.randn(300, 4)
    m = compile_and_check(LocalOutlierFactor(novelty=True).fit(X), tmp_path, targets=("cpp", "java"))
    assert m["schema"]["classes"] == [-1, 1]
    assert [c["name"] for c in m["schema"]["outputs"]] == ["label", "score"]


def test_isolation_forest_labels_and_scores(tmp_path):
    # Its path lengths go through ai.onnx.ml LabelEncoder (leaf -> depth); float32, as scikit-learn's trees.
    from sklearn.ensemble import IsolationForest
    rng = np.random.RandomState(4)
    X = np.vstack([rng.randn(280, 4), rng.uniform(-6, 6, (20, 4))])
    m = compile_and_check(IsolationForest(n_estimators=40, random_state=0).fit(X), tmp_path, targets=("cpp", "java"))
    assert m["schema"]["classes"] == [-1, 1] and m["precision"]["model"] == "float32"


def test_ordinal_encoder_in_a_column_transformer(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OrdinalEncoder
    df = _frame(240, 5).drop(columns=["income"])
    y = (df.age / 40 + (df.city == "Oslo") > 1.2).astype(int)
    pipe = Pipeline([("ct", ColumnTransformer([("num", StandardScaler(), ["age"]),
                                               ("cat", OrdinalEncoder(), ["city", "tier"])])),
                     ("lr", LogisticRegression())]).fit(df, y)
    compile_and_check(pipe, tmp_path, targets=("cpp", "java"))


def test_column_transformer_picking_numeric_columns_by_name(tmp_path):
    # one input per column (the transformer selects them by name); a dropped column is still
    # read, as scikit-learn's predict() needs it
    rng = np.random.RandomState(4)
    df = pd.DataFrame(rng.randn(200, 3), columns=["a", "b", "unused"])
    model = Pipeline([("ct", ColumnTransformer([("s", StandardScaler(), ["b", "a"])])), ("r", Ridge())])
    m = compile_and_check(model.fit(df, df["a"] * 2 - df["b"]), tmp_path, targets=("cpp", "java", "tvm-llvm"))
    assert [(c["name"], c["kind"]) for c in m["schema"]["inputs"]] == [
        ("a", "number"), ("b", "number"), ("unused", "number")]
