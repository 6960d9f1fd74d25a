"""Graph passes: the rewritten model means what the original means (ONNX Runtime on both)."""
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import skl2onnx
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

from modelport.passes import run_passes


def _run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"X": x})


def _convert(est, dtype=np.float32):
    tensor = FloatTensorType if dtype == np.float32 else DoubleTensorType
    options = {id(est): {"zipmap": False}} if hasattr(est, "classes_") else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return skl2onnx.to_onnx(est, initial_types=[("X", tensor([None, est.n_features_in_]))],
                                options=options, target_opset={"": 18, "ai.onnx.ml": 3})


@pytest.mark.parametrize("est, dtype", [
    (KNeighborsRegressor(n_neighbors=3), np.float32),
    (KNeighborsRegressor(n_neighbors=3, p=1), np.float32),
    (KNeighborsRegressor(n_neighbors=3, p=3), np.float32),
    (KNeighborsRegressor(n_neighbors=3, metric="sqeuclidean"), np.float32),
    (KNeighborsRegressor(n_neighbors=3), np.float64),
    (KNeighborsClassifier(n_neighbors=4), np.float32),
])
def test_knn_scan_rewrite_keeps_meaning(est, dtype):
    rng = np.random.RandomState(0)
    X = rng.randn(60, 4).astype(dtype)
    y = rng.randint(0, 3, 60) if isinstance(est, KNeighborsClassifier) else X.sum(axis=1)
    model = _convert(est.fit(X, y), dtype)
    rewritten = run_passes(model)
    onnx.checker.check_model(rewritten, full_check=True)
    assert "Scan" not in {n.op_type for n in rewritten.graph.node}
    assert "ArrayFeatureExtractor" not in {n.op_type for n in rewritten.graph.node}
    x = rng.normal(0, 2, (200, 4)).astype(dtype)
    x[:5] = X[:5]  # exact training points: distance 0
    for want, got in zip(_run(model, x), _run(rewritten, x)):
        if want.dtype.kind in "iu":
            assert np.array_equal(want, got)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_models_without_the_patterns_are_returned_unchanged():
    from sklearn.linear_model import LinearRegression
    rng = np.random.RandomState(0)
    X = rng.randn(20, 3).astype(np.float32)
    model = _convert(LinearRegression().fit(X, X.sum(axis=1)))
    assert run_passes(model) is model
