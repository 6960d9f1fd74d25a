"""End-to-end: scikit-learn models that skl2onnx converts to standard ONNX ops (neural
nets, naive Bayes, k-means, PCA, k-NN), through every target, compared with scikit-learn
and ONNX Runtime."""
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor

from helpers import compile_and_check


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 6).astype(np.float32)
    w = rng.randn(6)
    score = X @ w
    y3 = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3]))
    return X, y3, (score > 0).astype(int), score + 0.1 * rng.randn(300)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
@pytest.mark.parametrize("classes", [2, 3])
def test_mlp_classifier(tmp_path, data, activation, classes):
    X, y3, y2, _ = data
    model = MLPClassifier(hidden_layer_sizes=(16, 8), activation=activation, max_iter=300, random_state=0)
    compile_and_check(model.fit(X, y3 if classes == 3 else y2), tmp_path)


def test_mlp_regressor(tmp_path, data):
    X, _, _, y = data
    compile_and_check(MLPRegressor(hidden_layer_sizes=(12,), max_iter=500, random_state=0).fit(X, y), tmp_path)


def test_gaussian_nb(tmp_path, data):
    X, y3, _, _ = data
    compile_and_check(GaussianNB().fit(X, y3), tmp_path)


def test_kmeans(tmp_path, data):
    compile_and_check(KMeans(n_clusters=4, n_init=3, random_state=0).fit(data[0]), tmp_path)


def test_pca(tmp_path, data):
    compile_and_check(PCA(n_components=3).fit(data[0]), tmp_path)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
def test_knn_classifier(tmp_path, data, weights):
    X, y3, _, _ = data
    compile_and_check(KNeighborsClassifier(n_neighbors=5, weights=weights).fit(X, y3), tmp_path)


@pytest.mark.parametrize("p", [2, 1])
def test_knn_regressor(tmp_path, data, p):
    X, _, _, y = data
    compile_and_check(KNeighborsRegressor(n_neighbors=4, p=p).fit(X, y), tmp_path)
