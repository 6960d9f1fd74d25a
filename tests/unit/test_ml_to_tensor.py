"""ai.onnx.ml lowered to standard ONNX ops (modelport.passes.ml_to_tensor): for every
scikit-learn model family the project supports, ONNX Runtime on the lowered graph gives what it
gives on the original one (labels equal, numbers within float32 rounding), on random rows, rows
exactly at the trees' split thresholds and one float32 step either side, and NaN where the
model handles missing values; both tree strategies. Then the ml op variants scikit-learn does
not produce, on small hand-made graphs, the refusals, and TVM compiling lowered graphs.
"""
import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from sklearn.ensemble import (ExtraTreesClassifier, ExtraTreesRegressor, GradientBoostingClassifier,
                              GradientBoostingRegressor, HistGradientBoostingClassifier,
                              HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Binarizer, MinMaxScaler, Normalizer, OneHotEncoder, RobustScaler, StandardScaler
from sklearn.svm import SVC, SVR, LinearSVC, LinearSVR
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from helpers import single_op_model
from modelport.errors import UnsupportedError
from modelport.frontends import load_source
from modelport.passes.ml_to_tensor import LABEL_CLASSES_KEY, run

ML = "ai.onnx.ml"
F, I64 = TensorProto.FLOAT, TensorProto.INT64
# What TVM's Relax ONNX importer converts: the only ops a lowering may add.
ALLOWED = set("""
    Abs Add And ArgMax ArgMin Cast Ceil Clip Concat Constant ConstantOfShape Div Equal Erf Exp Expand
    Flatten Floor Gather GatherElements GatherND Gemm Greater GreaterOrEqual Identity IsNaN Less
    LessOrEqual Log MatMul Max Min Mul Neg Not OneHot Or Pow Reciprocal ReduceMax ReduceMean ReduceMin
    ReduceSum ReduceSumSquare Relu Reshape Shape Sigmoid Sign Slice Softmax Sqrt Squeeze Sub Sum Tanh
    Tile TopK Transpose Unsqueeze Where""".split())
NAMES = np.array(["cat", "dog", "eel", "fox"])


def _session(model):
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def _feed(model, x):
    return {model.graph.input[0].name: x} if not isinstance(x, dict) else x


def assert_lowered(original, lowered):
    """No ml op or opset left, only allowed ops added, no strings, a valid model."""
    assert not any(n.domain == ML for n in lowered.graph.node)
    assert ML not in {o.domain for o in lowered.opset_import}
    kept = {n.op_type for n in original.graph.node if n.domain != ML}
    assert {n.op_type for n in lowered.graph.node} <= ALLOWED | kept, \
        {n.op_type for n in lowered.graph.node} - ALLOWED - kept
    assert all(i.data_type != TensorProto.STRING for i in lowered.graph.initializer)
    assert all(o.type.tensor_type.elem_type != TensorProto.STRING for o in lowered.graph.output)
    onnx.checker.check_model(lowered, full_check=True)


def assert_same(want, got, lowered, outputs):
    """Labels equal (string labels through the recorded classes); numbers within float32
    rounding of the outputs' scale."""
    classes = {p.key[len(LABEL_CLASSES_KEY):]: json.loads(p.value) for p in lowered.metadata_props}
    for name, w, g in zip(outputs, want, got):
        if name in classes:
            assert g.dtype == np.int64
            g = np.asarray(classes[name], dtype=object)[g]
        if w.dtype.kind in "iubOU":
            mismatch = np.flatnonzero(np.asarray(w != g).reshape(len(w), -1).any(axis=1))
            assert mismatch.size == 0, f"{name}: rows {mismatch[:10]} differ: {w[mismatch[:3]]} vs {g[mismatch[:3]]}"
        else:
            scale = max(1.0, float(np.nanmax(np.abs(w)))) if np.isfinite(w).any() else 1.0
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * scale, equal_nan=True, err_msg=name)


def check(original, x, strategies=("auto",)):
    want = _session(original).run(None, _feed(original, x))
    outputs = [o.name for o in original.graph.output]
    for strategy in strategies:
        lowered = run(original, strategy)
        assert_lowered(original, lowered)
        assert_same(want, _session(lowered).run(None, _feed(original, x)), lowered, outputs)


def threshold_rows(model, base, limit=600):
    """Rows whose feature equals a split threshold, or lies one float32 step above or below it."""
    rows = []
    for n in model.graph.node:
        if not n.op_type.startswith("TreeEnsemble"):
            continue
        a = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        for f, t, mode in zip(a["nodes_featureids"], a["nodes_values"], a["nodes_modes"]):
            if mode == b"LEAF":
                continue
            t = np.float32(t)
            for v in (t, np.nextafter(t, np.float32(np.inf)), np.nextafter(t, np.float32(-np.inf))):
                row = base[len(rows) % len(base)].copy()
                row[f] = v
                rows.append(row)
    rows = np.asarray(rows, np.float32).reshape(-1, base.shape[1])
    return rows[np.random.RandomState(0).permutation(len(rows))[:limit]]


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(160, 5).astype(np.float32)
    y2 = (X[:, 0] + 0.8 * X[:, 1] - 0.3 * X[:, 4] + 0.3 * rng.randn(160) > 0).astype(np.int64)
    y3 = np.digitize(X[:, 0] + 0.5 * X[:, 2] + 0.3 * rng.randn(160), [-0.5, 0.6]).astype(np.int64)
    yr = X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5]) + 0.5 * np.sin(3 * X[:, 1])
    Xn = X.copy()
    Xn[rng.rand(*X.shape) < 0.15] = np.nan
    rows = np.concatenate([rng.normal(0, 1.5, (150, 5)).astype(np.float32), X[:10]])
    rows_nan = rows.copy()
    rows_nan[rng.rand(*rows.shape) < 0.15] = np.nan
    return dict(X=X, Xn=Xn, y2=y2, y3=y3, yr=yr, rows=rows, rows_nan=rows_nan)


# ---- trees: both strategies, split thresholds, NaN where the model handles it ------------------

TREES = {
    "decision_tree_2": (lambda: DecisionTreeClassifier(max_depth=5, random_state=0), "X", "y2"),
    "decision_tree_3_strings": (lambda: DecisionTreeClassifier(max_depth=4, random_state=0), "X", "s3"),
    "decision_tree_nan": (lambda: DecisionTreeClassifier(max_depth=5, random_state=0), "Xn", "y3"),
    "decision_tree_regressor": (lambda: DecisionTreeRegressor(max_depth=6, random_state=0), "X", "yr"),
    "random_forest_2_strings": (lambda: RandomForestClassifier(6, max_depth=5, random_state=0), "X", "s2"),
    "random_forest_3": (lambda: RandomForestClassifier(6, max_depth=7, random_state=0), "X", "y3"),
    "random_forest_regressor": (lambda: RandomForestRegressor(5, max_depth=6, random_state=0), "X", "yr"),
    "extra_trees_3": (lambda: ExtraTreesClassifier(5, max_depth=6, random_state=0), "X", "y3"),
    "extra_trees_regressor": (lambda: ExtraTreesRegressor(5, max_depth=6, random_state=0), "X", "yr"),
    "gradient_boosting_2": (lambda: GradientBoostingClassifier(n_estimators=8, random_state=0), "X", "y2"),
    "gradient_boosting_3": (lambda: GradientBoostingClassifier(n_estimators=5, random_state=0), "X", "y3"),
    "gradient_boosting_regressor": (lambda: GradientBoostingRegressor(n_estimators=8, random_state=0), "X", "yr"),
    "hist_gradient_boosting_2_nan": (lambda: HistGradientBoostingClassifier(max_iter=6, random_state=0), "Xn", "y2"),
    "hist_gradient_boosting_3_nan": (lambda: HistGradientBoostingClassifier(max_iter=4, random_state=0), "Xn", "y3"),
    "hist_gradient_boosting_regressor_nan": (lambda: HistGradientBoostingRegressor(max_iter=6, random_state=0),
                                             "Xn", "yr"),
}


def _target(data, key):
    return NAMES[data["y" + key[1]]] if key.startswith("s") else data[key]


@pytest.mark.parametrize("name", sorted(TREES))
def test_tree_ensembles(data, name):
    make, xkey, ykey = TREES[name]
    model = load_source(make().fit(data[xkey], _target(data, ykey)), precision="float32").onnx
    rows = data["rows_nan"] if xkey == "Xn" else data["rows"]
    x = np.concatenate([rows, threshold_rows(model, rows)])
    check(model, x, strategies=("gemm", "traversal", "auto"))


# ---- linear models, SVMs, preprocessing, models with label tables ------------------------------

MODELS = {
    "logistic_regression_2": (lambda: LogisticRegression(max_iter=500), "X", "y2"),
    "logistic_regression_3": (lambda: LogisticRegression(max_iter=500), "X", "y3"),
    "logistic_regression_strings": (lambda: LogisticRegression(max_iter=500), "X", "s3"),
    "logistic_regression_2_strings": (lambda: LogisticRegression(max_iter=500), "X", "s2"),
    "linear_regression": (lambda: LinearRegression(), "X", "yr"),
    "ridge": (lambda: Ridge(alpha=0.5), "X", "yr"),
    "linear_svc_2": (lambda: LinearSVC(random_state=0), "X", "y2"),
    "linear_svc_3": (lambda: LinearSVC(random_state=0), "X", "y3"),
    "linear_svr": (lambda: LinearSVR(random_state=0), "X", "yr"),
    "svc_rbf_2": (lambda: SVC(), "X", "y2"),
    "svc_rbf_3_strings": (lambda: SVC(), "X", "s3"),
    "svc_rbf_2_probability": (lambda: SVC(probability=True, random_state=0), "X", "y2"),
    "svc_rbf_3_probability": (lambda: SVC(probability=True, random_state=0), "X", "y3"),
    "svc_poly_3": (lambda: SVC(kernel="poly"), "X", "y3"),
    "svr_rbf": (lambda: SVR(C=3.0), "X", "yr"),
    "scalers_normalizer_logistic": (lambda: make_pipeline(StandardScaler(), MinMaxScaler(), Normalizer(),
                                                          LogisticRegression(max_iter=500)), "X", "y3"),
    "imputer_scaler_ridge_nan": (lambda: make_pipeline(SimpleImputer(), RobustScaler(), Ridge()), "Xn", "yr"),
    "imputer_median_tree_nan": (lambda: make_pipeline(SimpleImputer(strategy="median"),
                                                      DecisionTreeClassifier(max_depth=4, random_state=0)), "Xn", "s3"),
    "normalizer_l1_ridge": (lambda: make_pipeline(Normalizer("l1"), Ridge()), "X", "yr"),
    "binarizer": (lambda: Binarizer(threshold=0.3), "X", None),
    "knn_strings": (lambda: KNeighborsClassifier(n_neighbors=4), "X", "s3"),
    "gaussian_nb_strings": (lambda: GaussianNB(), "X", "s3"),
    "gaussian_nb_2": (lambda: GaussianNB(), "X", "y2"),
}


@pytest.mark.filterwarnings("ignore:The `probability` parameter was deprecated:FutureWarning")
@pytest.mark.parametrize("name", sorted(MODELS))
def test_models(data, name):
    make, xkey, ykey = MODELS[name]
    est = make().fit(data[xkey]) if ykey is None else make().fit(data[xkey], _target(data, ykey))
    model = load_source(est, precision="float32").onnx
    check(model, data["rows_nan"] if xkey == "Xn" else data["rows"])


def test_one_hot_encoder_over_numbers(data):
    # scikit-learn's encoder over numbers is converted to exact comparisons and a lookup (the
    # ml OneHotEncoder itself: test_preprocessing_ops); the LinearClassifier after it lowers
    rng = np.random.RandomState(1)
    X = rng.randint(0, 4, (160, 3)).astype(np.float64)
    model = load_source(make_pipeline(OneHotEncoder(handle_unknown="ignore"), LogisticRegression(max_iter=500))
                        .fit(X, data["y3"])).onnx
    check(model, np.concatenate([rng.randint(-1, 6, (100, 3)), [[0.5, 3.7, -0.2]]]).astype(np.float64))


# ---- ml op variants scikit-learn does not produce ---------------------------------------------

EDGE = np.array([0.25, -0.5, 0.75, np.nextafter(np.float32(0.25), 1), np.nextafter(np.float32(-0.5), -1),
                 np.nextafter(np.float32(0.75), 0), 0.0, -0.0, 1.0, -1.0, np.nan], np.float32)


def _edge_rows(n=300, width=3):
    return np.random.RandomState(2).choice(EDGE, (n, width))


def _forest(modes, ids, weights, prefix="class", mtt=None):
    """Two trees over 3 features: tree 0 has two splits (3 leaves), tree 1 one split (2 leaves);
    ids/weights: per leaf (5 in order) the targets it weighs and the weights."""
    a = dict(nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1], nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
             nodes_featureids=[0, 1, 0, 0, 0, 2, 0, 0], nodes_values=[0.25, -0.5, 0, 0, 0, 0.75, 0, 0],
             nodes_modes=[modes[0], modes[1], "LEAF", "LEAF", "LEAF", modes[2], "LEAF", "LEAF"],
             nodes_truenodeids=[1, 3, 0, 0, 0, 1, 0, 0], nodes_falsenodeids=[2, 4, 0, 0, 0, 2, 0, 0])
    if mtt:
        a["nodes_missing_value_tracks_true"] = mtt
    leaves = [(0, 2), (0, 3), (0, 4), (1, 1), (1, 2)]
    cols = {f"{prefix}_treeids": [], f"{prefix}_nodeids": [], f"{prefix}_ids": [], f"{prefix}_weights": []}
    for (t, n), leaf_ids, ws in zip(leaves, ids, weights):
        for c, w in zip(leaf_ids, ws):
            for key, v in zip(cols, (t, n, c, w)):
                cols[key].append(v)
    a.update(cols)
    return a


def _tree_classifier(attrs, n_classes=3, labels=None, strings=False):
    attrs = dict(attrs)
    if strings:
        attrs["classlabels_strings"] = [f"c{i}" for i in range(n_classes)]
    else:
        attrs["classlabels_int64s"] = labels or list(range(n_classes))
    return single_op_model("TreeEnsembleClassifier", [("X", F, ["N", 3])],
                           [("label", TensorProto.STRING if strings else I64, ["N"]),
                            ("scores", F, ["N", n_classes])], attrs, domain=ML)


W3 = [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4], [0.5, 0.25, 0.25]]
BOTH = ("gemm", "traversal")


@pytest.mark.parametrize("modes", [("BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"), ("BRANCH_GTE", "BRANCH_LEQ", "BRANCH_LT"),
                                   ("BRANCH_EQ", "BRANCH_NEQ", "BRANCH_LEQ"), ("BRANCH_NEQ",) * 3])
@pytest.mark.parametrize("mtt", [None, [1, 0, 0, 0, 0, 1, 0, 0]])
def test_branch_modes_and_missing_value_tracks(modes, mtt):
    check(_tree_classifier(_forest(modes, [[0, 1, 2]] * 5, W3, mtt=mtt)), _edge_rows(), BOTH)


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"])
def test_tree_post_transforms_and_base_values(post):
    attrs = _forest(("BRANCH_LEQ",) * 3, [[0, 1, 2]] * 5, [[w / 2 for w in ws] for ws in W3])
    attrs.update(post_transform=post, base_values=[0.1, 0.0, -0.05])
    check(_tree_classifier(attrs, labels=[10, 20, 30]), _edge_rows(), BOTH)


@pytest.mark.parametrize("strings", [False, True])
@pytest.mark.parametrize("base", [[], [0.05, -0.02, 0.0, 0.01]])
def test_tree_classes_scored_by_some_leaves(base, strings):
    attrs = _forest(("BRANCH_LEQ",) * 3, [[1, 2], [0], [2], [1], [1, 2]],
                    [[-0.2, -0.5], [-0.6], [-0.1], [-0.35], [-0.25, -0.4]])
    if base:
        attrs["base_values"] = base
    check(_tree_classifier(attrs, n_classes=4, labels=[4, 5, 6, 7], strings=strings), _edge_rows(), BOTH)


MIXED = [[-0.4], [0.7], [0.2], [-0.6], [0.15]]
TWO_CLASSES = {
    "positive": (dict(), [[0]] * 5, [[0.2], [0.7], [0.9], [0.1], [0.35]]),
    "boosting": (dict(base_values=[0.3], post_transform="LOGISTIC"), [[0]] * 5, MIXED),
    "mixed_softmax": (dict(post_transform="SOFTMAX"), [[0]] * 5, MIXED),
    "class_one_base2": (dict(base_values=[0.1, 0.2]), [[1]] * 5, [[0.2], [0.7], [0.9], [0.1], [0.35]]),
    "two_ids_probit": (dict(post_transform="PROBIT"), [[0, 1]] * 5,
                       [[0.4, 0.1], [0.15, 0.35], [0.05, 0.45], [0.3, 0.2], [0.25, 0.25]]),
    "two_ids_base2": (dict(base_values=[0.1, 0.2], post_transform="LOGISTIC"), [[0, 1]] * 5,
                      [[0.8, -0.2], [0.3, 0.7], [-0.1, 0.9], [0.6, 0.4], [0.5, -0.5]]),
    "two_ids_some_leaves": (dict(post_transform="SOFTMAX_ZERO"), [[0], [0, 1], [0], [0], [1]],
                            [[-0.8], [0.3, 0.7], [0.1], [0.6], [-0.5]]),
    "two_ids_some_leaves_base2": (dict(base_values=[0.25, -0.1]), [[0], [0, 1], [0], [0], [1]],
                                  [[-0.8], [0.3, 0.7], [0.1], [0.6], [-0.5]]),
}


@pytest.mark.parametrize("case", sorted(TWO_CLASSES))
def test_tree_two_classes(case):
    extra, ids, ws = TWO_CLASSES[case]
    attrs = _forest(("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE"), ids, ws)
    attrs.update(extra)
    check(_tree_classifier(attrs, n_classes=2, labels=[3, 9]), _edge_rows(), BOTH)


@pytest.mark.parametrize("agg", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("targets,base,post", [(1, [0.5], "PROBIT"), (2, [0.1, -0.2], "NONE"), (2, [], "SOFTMAX")])
def test_tree_regressor_aggregates(agg, targets, base, post):
    ids = [[0, 1], [1], [0], [0, 1], [1]] if targets == 2 else [[0]] * 5
    ws = [[0.1, 0.2], [0.3], [-0.4], [0.02, 0.5], [0.25]] if targets == 2 else [[0.1], [0.3], [-0.4], [0.02], [0.25]]
    attrs = _forest(("BRANCH_LEQ", "BRANCH_GT", "BRANCH_LT"), ids, ws, prefix="target")
    attrs.update(n_targets=targets, aggregate_function=agg, post_transform=post)
    if base:
        attrs["base_values"] = base
    model = single_op_model("TreeEnsembleRegressor", [("X", F, ["N", 3])], [("Y", F, ["N", targets])], attrs,
                            domain=ML)
    check(model, _edge_rows(), BOTH)


@pytest.mark.parametrize("agg,post", [(1, 0), (0, 1), (2, 2), (3, 0)])
def test_tree_ensemble_ml_opset_5(agg, post):
    """TreeEnsemble: leaves numbered apart from nodes, numbered modes and transforms."""
    attrs = dict(nodes_featureids=[0, 1, 2], nodes_modes=numpy_helper.from_array(np.array([0, 4, 3], np.uint8)),
                 nodes_splits=numpy_helper.from_array(np.array([0.25, -0.5, 0.75], np.float32)),
                 nodes_truenodeids=[1, 0, 3], nodes_trueleafs=[0, 1, 1], nodes_falsenodeids=[1, 2, 4],
                 nodes_falseleafs=[1, 1, 1], nodes_missing_value_tracks_true=[1, 0, 0], leaf_targetids=[0, 1, 0, 1, 1],
                 leaf_weights=numpy_helper.from_array(np.array([0.1, 0.2, -0.3, 0.4, 0.5], np.float32)),
                 tree_roots=[0, 2], n_targets=2, aggregate_function=agg, post_transform=post)
    node = helper.make_node("TreeEnsemble", ["X"], ["Y"], domain=ML, **attrs)
    graph = helper.make_graph([node], "te", [helper.make_tensor_value_info("X", F, ["N", 3])],
                              [helper.make_tensor_value_info("Y", F, ["N", 2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid(ML, 5)])
    model.ir_version = 10
    check(model, _edge_rows(), BOTH)


SV = [0.5, -1.0, 0.25, -0.5, 0.75, 1.0, 0.0, 0.2, -0.3, 1.5, -0.5, 0.5, -1.2, 0.3, 0.8]


@pytest.mark.parametrize("kernel,params", [("SIGMOID", [0.3, 0.1, 0.0]), ("POLY", [0.4, 0.5, 2.5]),
                                           ("LINEAR", [0.0, 0.0, 0.0])])
def test_svm_classifier_kernels(kernel, params):
    """A fractional degree makes some kernel values NaN: only the pairs using them turn NaN."""
    attrs = dict(kernel_type=kernel, kernel_params=params, vectors_per_class=[2, 2, 1], support_vectors=SV,
                 coefficients=[1.0, -0.5, 0.7, -1.0, 0.3, 0.4, 1.0, -0.8, -0.6, 0.9], rho=[0.1, -0.2, 0.05],
                 post_transform="SOFTMAX", classlabels_ints=[0, 1, 2])
    model = single_op_model("SVMClassifier", [("X", F, ["N", 3])], [("label", I64, ["N"]), ("scores", F, ["N", 3])],
                            attrs, domain=ML)
    check(model, np.random.RandomState(0).randn(200, 3).astype(np.float32))


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX", "PROBIT"])
def test_svm_classifier_two_classes_and_linear_mode(post):
    x = np.random.RandomState(0).randn(200, 3).astype(np.float32)
    attrs = dict(kernel_type="RBF", kernel_params=[0.5, 0.0, 0.0], vectors_per_class=[3, 2], support_vectors=SV,
                 coefficients=[0.2, -0.3, 0.25, -0.1, 0.15], rho=[0.05], post_transform=post, classlabels_ints=[5, 6])
    model = single_op_model("SVMClassifier", [("X", F, ["N", 3])], [("label", I64, ["N"]), ("scores", F, ["N", 2])],
                            attrs, domain=ML)
    if post != "PROBIT":  # ONNX Runtime leaves the second score unwritten under PROBIT
        check(model, x)
    attrs = dict(coefficients=[0.5, -1.0, 0.25, -0.5, 0.75, 1.0], rho=[0.1], post_transform=post,
                 classlabels_ints=[0, 1], kernel_params=[0.0, 0.0, 0.0])
    check(single_op_model("SVMClassifier", [("X", F, ["N", 3])], [("label", I64, ["N"]), ("scores", F, ["N", 2])],
                          attrs, domain=ML), x)


def test_linear_classifier_one_score_logistic():
    attrs = dict(coefficients=[0.5, -1.0, 0.25], intercepts=[0.1], classlabels_strings=["no", "yes"],
                 post_transform="LOGISTIC")
    model = single_op_model("LinearClassifier", [("X", F, ["N", 3])],
                            [("label", TensorProto.STRING, ["N"]), ("scores", F, ["N", 2])], attrs, domain=ML)
    check(model, np.random.RandomState(0).randn(100, 3).astype(np.float32))


@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer_rows_with_zero_and_nan(norm):
    x = np.array([[1, 2, 3, 4], [-1, -2, -3, -4], [0, 0, 0, 0], [-3, 0, 0, 0], [1e-20, 0, 0, 0],
                  [np.nan, 1, 2, 3]], np.float32)
    model = single_op_model("Normalizer", [("X", F, ["N", 4])], [("Y", F, ["N", 4])], dict(norm=norm), domain=ML)
    check(model, x)


def test_preprocessing_ops():
    x = np.array([[1.5, np.nan, 2], [np.nan, 1.5, 1.5], [0, 0, 0], [-1.5, 3, 1.5]], np.float32)
    imputer = single_op_model("Imputer", [("X", F, ["N", 3])], [("Y", F, ["N", 3])],
                              dict(imputed_value_floats=[7.0, -1.0, 0.5], replaced_value_float=float("nan")),
                              domain=ML)
    check(imputer, x)
    scaler = single_op_model("Scaler", [("X", TensorProto.DOUBLE, ["N", 3])], [("Y", F, ["N", 3])],
                             dict(offset=[0.5, -1.0, 2.0], scale=[-2.0, 0.25, 3.0]), domain=ML)
    check(scaler, x.astype(np.float64))
    ohe = single_op_model("OneHotEncoder", [("X", F, ["N", 2])], [("Y", F, ["N", 2, 5])],
                          dict(cats_int64s=[0, 1, -2, 3, 1], zeros=1), domain=ML)
    check(ohe, np.array([[0, 1], [1.7, -2.5], [-2, 3], [4, -1], [np.nan, 1e30]], np.float32))
    idx = numpy_helper.from_array(np.array([[2], [1]], np.int64), "idx")
    afe = single_op_model("ArrayFeatureExtractor", [("X", I64, ["N", 2, 3])], [("Y", I64, ["N", 2, 2])], domain=ML,
                          initializers=[idx])
    check(afe, np.arange(24).reshape(4, 2, 3).astype(np.int64))
    encoder = single_op_model("LabelEncoder", [("X", I64, ["N", 2])], [("Y", F, ["N", 2])],
                              dict(keys_int64s=[1, 2, 3, 2], values_floats=[0.1, 0.2, 0.3, 0.4], default_float=7.5),
                              domain=ML)
    check(encoder, np.array([[1, 2], [3, 7], [-1, 0]], np.int64))
    vectorizer = helper.make_model(helper.make_graph(
        [helper.make_node("FeatureVectorizer", ["A", "B"], ["Y"], domain=ML, inputdimensions=[3, 1])], "fv",
        [helper.make_tensor_value_info("A", F, ["N", 2]), helper.make_tensor_value_info("B", F, ["N", 3])],
        [helper.make_tensor_value_info("Y", F, ["N", 4])]),
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(ML, 1)])
    vectorizer.ir_version = 8
    check(vectorizer, {"A": x[:, :2], "B": x[:, ::-1].copy()})


# ---- refusals -------------------------------------------------------------------------------

def test_an_ml_op_without_lowering_is_refused_with_the_targets_that_support_it():
    node = helper.make_node("ZipMap", ["X"], ["Z"], domain=ML, classlabels_int64s=[0, 1])
    out = helper.make_value_info("Z", helper.make_sequence_type_proto(
        helper.make_map_type_proto(I64, helper.make_tensor_type_proto(F, []))))
    model = helper.make_model(helper.make_graph([node], "zipmap", [helper.make_tensor_value_info("X", F, ["N", 2])],
                                                [out]),
                              opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(ML, 1)])
    with pytest.raises(UnsupportedError, match=r"ZipMap.*onnx target"):
        run(model)


def test_string_inputs_are_refused_by_name():
    model = single_op_model("LabelEncoder", [("city", TensorProto.STRING, ["N", 1])], [("Y", I64, ["N", 1])],
                            dict(keys_strings=["a", "b"], values_int64s=[1, 2]), domain=ML)
    with pytest.raises(UnsupportedError, match=r"'city' holds strings: the TVM targets compute on numbers"):
        run(model)


def test_models_without_ml_ops_are_returned_as_they_are(data):
    from sklearn.decomposition import PCA
    model = load_source(PCA(2).fit(data["X"]), precision="float32").onnx
    assert run(model) is model


# ---- TVM imports and compiles the lowered graphs ------------------------------------------------

def test_tvm_compiles_lowered_forest_and_logistic_regression(data):
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    target = tvm.target.Target({"kind": "llvm", "mcpu": tvm.target.codegen.llvm_get_system_cpu(),
                                "mtriple": "x86_64-linux-gnu", "num-cores": 1})
    forest = RandomForestClassifier(5, max_depth=5, random_state=0).fit(data["X"], NAMES[data["y3"]])
    logistic = LogisticRegression(max_iter=500).fit(data["X"], data["y3"])
    with_nan = np.concatenate([data["rows"], data["rows_nan"][:20]])
    for est, strategy, x in [(forest, "gemm", with_nan), (forest, "traversal", with_nan),
                             (logistic, "auto", data["rows"])]:
        original = load_source(est, precision="float32").onnx
        lowered = run(original, strategy)
        batch = tvm.tirx.Var("batch", "int64")
        mod = from_onnx(lowered, shape_dict={"X": [batch, 5]}, dtype_dict={"X": "float32"}, keep_params_in_input=False)
        with target:
            mod = relax.get_pipeline("zero")(mod)
        vm = relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
        got = [o.numpy() for o in vm["main"](tvm.runtime.tensor(x))]
        want = _session(original).run(None, {"X": x})
        assert_same(want, got, lowered, [o.name for o in original.graph.output])
