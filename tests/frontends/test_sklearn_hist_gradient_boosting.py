"""HistGradientBoosting -> ONNX conversion checked against onnxruntime."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")
ort = pytest.importorskip("onnxruntime")

from sklearn.ensemble import (  # noqa: E402
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from skl2onnx import to_onnx  # noqa: E402

TARGET_OPSET = {"": 18, "ai.onnx.ml": 3}
PROBA_TOL = 1e-5


def _load_module():
    try:
        return importlib.import_module("modelport.frontends.sklearn_hist_gradient_boosting")
    except ImportError:
        path = (
            Path(__file__).resolve().parents[2]
            / "frontends"
            / "sklearn_hist_gradient_boosting.py"
        )
        spec = importlib.util.spec_from_file_location(
            "_modelport_sklearn_hist_gradient_boosting", path
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


hgb = _load_module()


@pytest.fixture(scope="module", autouse=True)
def _installed():
    hgb.install()
    hgb.install()  # idempotent


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------


def _data(n, seed, nan_rate):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 6).astype(np.float32)
    # feature 0..3 get NaNs; 4 and 5 never do during training
    mask = rng.rand(n, 4) < nan_rate
    X[:, :4][mask] = np.nan
    return X


def _signal(X):
    x = np.nan_to_num(X.astype(np.float64))
    # missingness of feature 1 carries signal, so NaNs are routed on purpose
    return x[:, 0] + 1.5 * np.isnan(X[:, 1]) + 0.7 * x[:, 2] - 0.5 * x[:, 4]


@pytest.fixture(scope="module")
def train_X():
    return _data(800, 0, 0.15)


@pytest.fixture(scope="module")
def test_X():
    X = _data(500, 1, 0.25)
    # NaNs at predict time in features never missing during training
    rng = np.random.RandomState(2)
    X[rng.rand(len(X)) < 0.2, 4] = np.nan
    X[rng.rand(len(X)) < 0.2, 5] = np.nan
    X[:7, :] = np.nan  # fully missing rows
    return X


def _session(model, X, dtype=np.float32, options=None):
    if options is None:
        options = {"zipmap": False} if hasattr(model, "classes_") else None
    onx = to_onnx(
        model, X[:1].astype(dtype), options=options, target_opset=TARGET_OPSET
    )
    # Double inputs reach modelport's double converters when another test of the session has
    # installed them (frontends/sklearn.py does): their TreeEnsemble needs ai.onnx.ml 5.
    from modelport.frontends.sklearn_double_builder import finish

    finish(onx)
    sess = ort.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    return onx, sess


def _run(sess, X):
    return sess.run(None, {sess.get_inputs()[0].name: X})


def _assert_classifier_matches(model, X_test, dtype=np.float32, options=None):
    onx, sess = _session(model, X_test, dtype, options)
    labels, proba = _run(sess, X_test.astype(dtype))
    expected_labels = model.predict(X_test)
    expected_proba = model.predict_proba(X_test)
    if expected_labels.dtype.kind in "OUS":
        np.testing.assert_array_equal(labels.astype(str), expected_labels.astype(str))
    else:
        np.testing.assert_array_equal(labels, expected_labels.astype(np.int64))
    assert proba.shape == expected_proba.shape
    np.testing.assert_allclose(proba, expected_proba, rtol=0, atol=PROBA_TOL)
    return onx


# --------------------------------------------------------------------------
# classifiers
# --------------------------------------------------------------------------


def test_binary_classifier_with_nans(train_X, test_X):
    y = (_signal(train_X) > 0.3).astype(np.int64)
    model = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(train_X, y)
    onx = _assert_classifier_matches(model, test_X)
    ops = [n.op_type for n in onx.graph.node]
    assert ops == ["TreeEnsembleClassifier"]
    node = onx.graph.node[0]
    attrs = {a.name: a for a in node.attribute}
    assert attrs["post_transform"].s == b"LOGISTIC"
    assert set(attrs["class_ids"].ints) == {0}
    assert len(attrs["base_values"].floats) == 1


def test_binary_classifier_bool_labels(train_X, test_X):
    y = _signal(train_X) > 0.0
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(train_X, y)
    _assert_classifier_matches(model, test_X)


@pytest.mark.parametrize("n_classes", [3, 5])
def test_multiclass_classifier_with_nans(train_X, test_X, n_classes):
    s = _signal(train_X)
    edges = np.quantile(s, np.linspace(0, 1, n_classes + 1)[1:-1])
    y = np.digitize(s, edges) * 10 + 3  # non-contiguous labels
    model = HistGradientBoostingClassifier(
        max_iter=40, max_leaf_nodes=15, random_state=0
    ).fit(train_X, y)
    onx = _assert_classifier_matches(model, test_X)
    node = onx.graph.node[0]
    attrs = {a.name: a for a in node.attribute}
    assert node.op_type == "TreeEnsembleClassifier"
    assert attrs["post_transform"].s == b"SOFTMAX"
    assert len(attrs["base_values"].floats) == n_classes
    assert list(attrs["classlabels_int64s"].ints) == [int(c) for c in model.classes_]


@pytest.mark.parametrize("labels", [["neg", "pos"], ["a", "b", "c"]])
def test_string_labels(train_X, test_X, labels):
    s = _signal(train_X)
    edges = np.quantile(s, np.linspace(0, 1, len(labels) + 1)[1:-1])
    y = np.array(labels)[np.digitize(s, edges)]
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(train_X, y)
    _assert_classifier_matches(model, test_X)


def test_classifier_double_input(train_X, test_X):
    s = _signal(train_X)
    y = np.digitize(s, np.quantile(s, [0.3, 0.7]))
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(
        train_X.astype(np.float64), y
    )
    _assert_classifier_matches(model, test_X.astype(np.float64), dtype=np.float64)


def test_binary_classifier_with_nonnegative_leaves():
    # Constant features: every tree is a single leaf with value 0, so no leaf
    # weight is negative; the converter must not rely on ORT's binary
    # "probability weights" rule (label = raw score > 0.5).
    X = np.zeros((50, 2), dtype=np.float32)
    y = np.r_[np.zeros(20), np.ones(30)].astype(np.int64)
    model = HistGradientBoostingClassifier(max_iter=3).fit(X, y)
    leaves = np.concatenate([p[0].nodes["value"] for p in model._predictors])
    assert np.all(leaves >= 0)
    X_test = np.array([[0, 0], [np.nan, 1], [3, np.nan]], dtype=np.float32)
    _assert_classifier_matches(model, X_test)


def test_default_zipmap_output(train_X, test_X):
    y = (_signal(train_X) > 0.3).astype(np.int64)
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(train_X, y)
    _, sess = _session(model, test_X, options={})
    labels, proba_maps = _run(sess, test_X)
    np.testing.assert_array_equal(labels, model.predict(test_X))
    proba = np.array([[row[c] for c in model.classes_] for row in proba_maps])
    np.testing.assert_allclose(
        proba, model.predict_proba(test_X), rtol=0, atol=PROBA_TOL
    )


def test_raw_scores_option(train_X, test_X):
    s = _signal(train_X)
    y = np.digitize(s, np.quantile(s, [0.3, 0.7]))
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(train_X, y)
    _, sess = _session(model, test_X, options={"zipmap": False, "raw_scores": True})
    _, scores = _run(sess, test_X)
    np.testing.assert_allclose(
        scores, model.decision_function(test_X), rtol=1e-5, atol=1e-5
    )


# --------------------------------------------------------------------------
# tree structure
# --------------------------------------------------------------------------


def test_missing_value_routing_matches_predictors(train_X):
    y = (_signal(train_X) > 0.3).astype(np.int64)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(train_X, y)
    onx, _ = _session(model, train_X)
    attrs = {a.name: a for a in onx.graph.node[0].attribute}
    expected = np.concatenate(
        [
            np.where(p.nodes["is_leaf"] != 0, 0, p.nodes["missing_go_to_left"])
            for it in model._predictors
            for p in it
        ]
    ).astype(np.int64)
    got = np.array(attrs["nodes_missing_value_tracks_true"].ints)
    np.testing.assert_array_equal(got, expected)
    # both routing directions occur in this model
    branch = np.array([m != b"LEAF" for m in attrs["nodes_modes"].strings])
    assert set(got[branch].tolist()) == {0, 1}


def test_threshold_between_adjacent_float32_values():
    # Two adjacent float32 values; scikit-learn's float64 threshold is their
    # midpoint, which rounds *up* to the larger value in float32.  The stored
    # threshold must be rounded down or the larger value goes left in ORT.
    lo = np.nextafter(np.float32(1.0), np.float32(2.0))
    hi = np.nextafter(lo, np.float32(2.0))
    X = np.where(np.arange(200) % 2 == 0, lo, hi).astype(np.float32).reshape(-1, 1)
    y = (X[:, 0] == hi).astype(np.int64)
    model = HistGradientBoostingClassifier(max_iter=5).fit(X, y)
    threshold = model._predictors[0][0].nodes["num_threshold"][0]
    assert np.float32(threshold) == hi  # naive rounding would be wrong
    _assert_classifier_matches(model, X)


# --------------------------------------------------------------------------
# regressors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "loss", ["squared_error", "absolute_error", "quantile", "poisson", "gamma"]
)
def test_regressor_with_nans(train_X, test_X, loss):
    s = _signal(train_X)
    y = np.exp(s / 2) if loss in ("poisson", "gamma") else s
    kwargs = {"quantile": 0.7} if loss == "quantile" else {}
    model = HistGradientBoostingRegressor(
        loss=loss, max_iter=50, random_state=0, **kwargs
    ).fit(train_X, y)
    onx, sess = _session(model, test_X)
    (pred,) = _run(sess, test_X)
    expected = model.predict(test_X)
    assert pred.shape == (len(test_X), 1)
    np.testing.assert_allclose(pred.ravel(), expected, rtol=1e-5, atol=1e-5)
    ops = [n.op_type for n in onx.graph.node]
    if loss in ("poisson", "gamma"):
        assert ops == ["TreeEnsembleRegressor", "Exp"]
    else:
        assert ops == ["TreeEnsembleRegressor"]


def test_regressor_double_input(train_X, test_X):
    model = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(
        train_X.astype(np.float64), _signal(train_X)
    )
    _, sess = _session(model, test_X, dtype=np.float64)
    (pred,) = _run(sess, test_X.astype(np.float64))
    assert pred.dtype == np.float64
    np.testing.assert_allclose(
        pred.ravel(), model.predict(test_X.astype(np.float64)), rtol=1e-6, atol=1e-6
    )


def test_categorical_features_rejected():
    rng = np.random.RandomState(0)
    X = np.c_[rng.randint(0, 4, 200), rng.randn(200)].astype(np.float32)
    y = (X[:, 0] == 2).astype(np.int64)
    model = HistGradientBoostingClassifier(
        max_iter=5, categorical_features=[0]
    ).fit(X, y)
    with pytest.raises(NotImplementedError):
        to_onnx(model, X[:1], options={"zipmap": False}, target_opset=TARGET_OPSET)
