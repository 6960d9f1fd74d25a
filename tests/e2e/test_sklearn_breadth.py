"""scikit-learn estimators whose converted graphs lay values out across the batch (QDA's class
blocks concatenated along axis 0, QuantileTransformer's Flatten of the whole batch, ...): the
batch-first pass rewrites them for the C++ and Java kernels; checked end to end against the
estimators, on float64 and on float32 training data (scikit-learn then computes in float32)."""
import numpy as np
import pytest
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures

from helpers import classic_data, compile_and_check


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_quadratic_discriminant_analysis(tmp_path, dtype):
    X, y2, y3, _ = classic_data()
    compile_and_check(QuadraticDiscriminantAnalysis().fit(X.astype(dtype), y3), tmp_path / "3",
                      targets=("cpp", "java", "onnx", "tvm-llvm"))
    compile_and_check(QuadraticDiscriminantAnalysis().fit(X.astype(dtype), np.where(y2, "yes", "no")),
                      tmp_path / "2", targets=("cpp", "java"))


def test_polynomial_features_fitted_on_float32(tmp_path):
    X, _, _, yr = classic_data()
    compile_and_check(make_pipeline(PolynomialFeatures(3), LinearRegression()).fit(X, yr), tmp_path)


def test_quantile_transformer(tmp_path):
    # (output_distribution="normal" needs the normal quantile function, which skl2onnx does not
    # convert and ONNX has no op for)
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.preprocessing import QuantileTransformer
    X, _, y3, yr = classic_data()
    X = X.astype(np.float64)
    qt = QuantileTransformer(n_quantiles=60)
    compile_and_check(make_pipeline(qt, LogisticRegression()).fit(X, y3), tmp_path / "c",
                      targets=("cpp", "java", "onnx", "tvm-llvm"))
    compile_and_check(make_pipeline(qt, Ridge()).fit(X, yr), tmp_path / "r", targets=("cpp", "java"))


def test_quantile_transformer_with_normal_output(tmp_path):
    """SciPy's ndtri as standard ops: the middle, both tails (t < 8 and beyond: values one
    step above the first quantile give u near 1e-16), the ends (clipped infinities), NaN.
    (Two features: skl2onnx's uniform converter takes seconds per feature.)"""
    import json
    from sklearn.preprocessing import QuantileTransformer
    rng = np.random.RandomState(3)
    X = rng.randn(400, 2) * [1.0, 10.0]
    X[rng.rand(400, 2) < 0.05] = np.nan
    qt = QuantileTransformer(output_distribution="normal", n_quantiles=80).fit(X)
    q = qt.quantiles_
    edges = np.concatenate([q, np.nextafter(q, np.inf), np.nextafter(q, -np.inf), q - 1, q + 1])
    rows = np.concatenate([X, edges])
    u = QuantileTransformer(n_quantiles=80).fit(X).transform(rows)
    assert ((u > 0) & (u < 1.27e-14)).any() and ((u > 0.2) & (u < 0.8)).any()  # far tail and middle
    path = tmp_path / "rows.csv"
    np.savetxt(path, rows, delimiter=",", header="f0,f1", comments="", fmt="%.17g")
    manifest = compile_and_check(qt, tmp_path / "t", targets=("cpp", "java", "onnx", "tvm-llvm"), data=path)
    assert manifest["precision"]["model"] == "float64"
    report = json.loads((tmp_path / "t" / "out" / "parity.json").read_text())
    assert max(c["max_abs_error"] for c in report["checks"]) < 1e-12


def test_k_neighbors_regressor_with_distance_weights(tmp_path):
    from sklearn.neighbors import KNeighborsRegressor
    X, _, _, yr = classic_data()
    X = X.astype(np.float64)
    compile_and_check(KNeighborsRegressor(n_neighbors=4, weights="distance").fit(X, yr), tmp_path,
                      targets=("cpp", "java", "tvm-llvm"))


def test_adaboost_regressor_weighted_median(tmp_path):
    from sklearn.ensemble import AdaBoostRegressor
    from sklearn.tree import DecisionTreeRegressor
    X, _, _, yr = classic_data()
    est = AdaBoostRegressor(DecisionTreeRegressor(max_depth=4), n_estimators=9, random_state=0)
    compile_and_check(est.fit(X.astype(np.float64), yr), tmp_path, targets=("cpp", "java", "onnx", "tvm-llvm"))


@pytest.mark.parametrize("options", [
    dict(),
    dict(n_knots=4, degree=2, extrapolation="linear", include_bias=False),
    dict(n_knots=6, knots="quantile", extrapolation="continue", handle_missing="zeros"),
    dict(degree=1, extrapolation="linear"),
], ids=["constant", "linear-no-bias", "continue-quantile-missing", "degree-1"])
def test_spline_transformer(tmp_path, options):
    # parity rows sit on the knots and one step beside them, and outside the fitted range
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import SplineTransformer
    X, _, _, yr = classic_data()
    X = X.astype(np.float64)
    model = make_pipeline(SplineTransformer(**options), Ridge()).fit(X, yr)
    compile_and_check(model, tmp_path, targets=("cpp", "java", "onnx", "tvm-llvm"))


def test_spline_transformer_fitted_on_float32_and_periodic_refused(tmp_path):
    from sklearn.linear_model import Ridge
    from sklearn.preprocessing import SplineTransformer

    from modelport.errors import UnsupportedError
    X, _, _, yr = classic_data()
    compile_and_check(make_pipeline(SplineTransformer(n_knots=3), Ridge()).fit(X, yr), tmp_path / "f32",
                      targets=("cpp", "java"))
    periodic = make_pipeline(SplineTransformer(extrapolation="periodic"), Ridge()).fit(X, yr)
    with pytest.raises(UnsupportedError, match="periodic"):
        compile_and_check(periodic, tmp_path / "periodic", targets=("cpp",))


@pytest.mark.parametrize("name", ["sgd-hinge", "sgd-log-loss", "perceptron"])
def test_sgd_classifier_and_perceptron(tmp_path, name):
    # binary (one decision value, given as [-d, d]) and 3-class, in float64
    from sklearn.linear_model import Perceptron, SGDClassifier
    X, y2, y3, _ = classic_data()
    X = X.astype(np.float64)
    make = {"sgd-hinge": lambda: SGDClassifier(random_state=0),
            "sgd-log-loss": lambda: SGDClassifier(loss="log_loss", random_state=0),
            "perceptron": lambda: Perceptron(random_state=0)}[name]
    compile_and_check(make().fit(X, y2), tmp_path / "2", targets=("cpp", "java"))
    compile_and_check(make().fit(X, np.array(["a", "b", "c"])[y3]), tmp_path / "3", targets=("cpp", "java"))


def test_feature_union_and_nested_pipelines(tmp_path):
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import FeatureUnion
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    X, _, y3, yr = classic_data()
    X = X.astype(np.float64)
    union = make_pipeline(FeatureUnion([("s", StandardScaler()), ("p", PCA(2))]), LogisticRegression())
    compile_and_check(union.fit(X, y3), tmp_path / "union", targets=("cpp", "java"))
    nested = make_pipeline(make_pipeline(StandardScaler(), MinMaxScaler()),
                           make_pipeline(PolynomialFeatures(2), make_pipeline(PCA(4), Ridge())))
    compile_and_check(nested.fit(X, yr), tmp_path / "nested", targets=("cpp", "java"))
