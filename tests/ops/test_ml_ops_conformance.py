"""ai.onnx.ml ops on small hand-made graphs, for attribute variants scikit-learn does not produce.

Each graph is compiled to C++ and Java and checked against ONNX Runtime (the reference for an
ONNX model) on generated rows, or on the rows given as a CSV file.
"""
import numpy as np
import pytest
from onnx import TensorProto, numpy_helper

from helpers import compile_and_check, single_op_model

ML = "ai.onnx.ml"
F, I64 = TensorProto.FLOAT, TensorProto.INT64


def csv(tmp_path, header, rows):
    path = tmp_path / "rows.csv"
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


def forest(modes, n_classes, class_ids_per_leaf, weights_per_leaf, thresholds=(0.25, -0.5, 0.75)):
    """Two trees over 3 features: tree 0 has two splits (3 leaves), tree 1 one split (2 leaves).

    `modes` is the branch mode of the three splits; class_ids/weights_per_leaf list, per leaf
    (5 leaves in order), the class ids and weights it carries.
    """
    nodes = dict(nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1], nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
                 nodes_featureids=[0, 1, 0, 0, 0, 2, 0, 0],
                 nodes_values=[thresholds[0], thresholds[1], 0, 0, 0, thresholds[2], 0, 0],
                 nodes_modes=[modes[0], modes[1], "LEAF", "LEAF", "LEAF", modes[2], "LEAF", "LEAF"],
                 nodes_truenodeids=[1, 3, 0, 0, 0, 1, 0, 0], nodes_falsenodeids=[2, 4, 0, 0, 0, 2, 0, 0])
    leaves = [(0, 2), (0, 3), (0, 4), (1, 1), (1, 2)]
    tids, nids, cids, ws = [], [], [], []
    for (t, n), ids, w in zip(leaves, class_ids_per_leaf, weights_per_leaf):
        for c, v in zip(ids, w):
            tids.append(t), nids.append(n), cids.append(c), ws.append(v)
    nodes.update(class_treeids=tids, class_nodeids=nids, class_ids=cids, class_weights=ws)
    return nodes


def tree_classifier(attrs, labels=None, n_classes=3):
    attrs = dict(attrs)
    attrs["classlabels_int64s"] = labels or list(range(n_classes))
    return single_op_model("TreeEnsembleClassifier", [("X", F, ["N", 3])],
                           [("label", I64, ["N"]), ("scores", F, ["N", n_classes])], attrs, domain=ML)


ALL3 = [[0, 1, 2]] * 5
W3 = [[0.2, 0.5, 0.3], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4], [0.5, 0.25, 0.25]]


@pytest.mark.parametrize("modes", [("BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"), ("BRANCH_GTE", "BRANCH_LEQ", "BRANCH_LT"),
                                   ("BRANCH_GT", "BRANCH_GT", "BRANCH_GT")])
def test_tree_classifier_branch_modes(tmp_path, modes):
    compile_and_check(tree_classifier(forest(modes, 3, ALL3, W3)), tmp_path)


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"])
def test_tree_classifier_post_transforms(tmp_path, post):
    attrs = forest(("BRANCH_LEQ",) * 3, 3, ALL3, [[w / 2 for w in ws] for ws in W3])
    attrs.update(post_transform=post, base_values=[0.1, 0.0, -0.05])
    compile_and_check(tree_classifier(attrs, labels=[10, 20, 30]), tmp_path)


@pytest.mark.parametrize("base", [[], [0.05, -0.02, 0.0, 0.01]])
def test_tree_classifier_sparse_classes(tmp_path, base):
    """Leaves that score only some classes: an unscored class without a base value is skipped
    by the argmax even when its score (0) is the largest."""
    ids = [[1, 2], [0], [2], [1], [1, 2]]
    ws = [[-0.2, -0.5], [-0.6], [-0.1], [-0.35], [-0.25, -0.4]]
    attrs = forest(("BRANCH_LEQ",) * 3, 4, ids, ws)
    if base:
        attrs["base_values"] = base
    compile_and_check(tree_classifier(attrs, n_classes=4, labels=[4, 5, 6, 7]), tmp_path)


MIXED = [[-0.4], [0.7], [0.2], [-0.6], [0.15]]
BINARY = {
    # one class id, all weights positive (decision trees, forests): threshold 0.5, [1 - p, p]
    "positive": (dict(), [[0]] * 5, [[0.2], [0.7], [0.9], [0.1], [0.35]]),
    # one class id, mixed weights and one base value with LOGISTIC (gradient boosting)
    "boosting": (dict(base_values=[0.3], post_transform="LOGISTIC"), [[0]] * 5, MIXED),
    "mixed_none": (dict(), [[0]] * 5, MIXED),
    "mixed_softmax": (dict(post_transform="SOFTMAX"), [[0]] * 5, MIXED),
    # one class id, but class 1
    "class_one": (dict(), [[1]] * 5, [[0.2], [0.7], [0.9], [0.1], [0.35]]),
    # both class ids: a two-class model scored as two classes (the label is 1 when class 1 scores above 0)
    "two_ids": (dict(), [[0, 1]] * 5, [[0.8, 0.2], [0.3, 0.7], [0.1, 0.9], [0.6, 0.4], [0.5, 0.5]]),
    "two_ids_probit": (dict(post_transform="PROBIT"), [[0, 1]] * 5,
                       [[0.4, 0.1], [0.15, 0.35], [0.05, 0.45], [0.3, 0.2], [0.25, 0.25]]),
    "two_ids_base2": (dict(base_values=[0.1, 0.2], post_transform="LOGISTIC"), [[0, 1]] * 5,
                      [[0.8, -0.2], [0.3, 0.7], [-0.1, 0.9], [0.6, 0.4], [0.5, -0.5]]),
    # both class ids, but some leaves score one class only: a class without a score counts as 0
    "two_ids_some_leaves": (dict(), [[0], [0, 1], [0], [0], [1]], [[-0.8], [0.3, 0.7], [0.1], [0.6], [-0.5]]),
    "two_ids_some_leaves_base2": (dict(base_values=[0.25, -0.1]), [[0], [0, 1], [0], [0], [1]],
                                  [[-0.8], [0.3, 0.7], [0.1], [0.6], [-0.5]]),
}
# Not covered: where ONNX Runtime leaves the second score column unwritten (one score left and
# PROBIT, or both class ids with one base value and a row that reaches no class-1 weight).


@pytest.mark.parametrize("case", sorted(BINARY))
def test_tree_classifier_two_classes(tmp_path, case):
    extra, ids, ws = BINARY[case]
    attrs = forest(("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE"), 2, ids, ws)
    attrs.update(extra)
    compile_and_check(tree_classifier(attrs, n_classes=2), tmp_path)


def test_tree_classifier_two_classes_other_labels(tmp_path):
    extra, ids, ws = BINARY["positive"]
    compile_and_check(tree_classifier(forest(("BRANCH_LEQ",) * 3, 2, ids, ws), labels=[3, 9], n_classes=2),
                      tmp_path)


def test_tree_classifier_missing_value_tracks(tmp_path):
    attrs = forest(("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GT"), 3, ALL3, W3)
    attrs["nodes_missing_value_tracks_true"] = [1, 0, 0, 0, 0, 1, 0, 0]
    rows = [[0.1, 0.2, 0.3], ["NaN", 0.2, 0.3], ["NaN", "NaN", "NaN"], [1.0, "NaN", 0.9], [0.25, -0.5, 0.75],
            [-1, -1, "NaN"], [2, 2, 2]]
    compile_and_check(tree_classifier(attrs), tmp_path, data=csv(tmp_path, ["X_0", "X_1", "X_2"], rows))


# ---- LinearClassifier ----------------------------------------------------------------------

def linear_classifier(coefficients, intercepts, labels, post, width):
    attrs = dict(coefficients=coefficients, intercepts=intercepts, classlabels_ints=labels, post_transform=post)
    return single_op_model("LinearClassifier", [("X", F, ["N", 3])],
                           [("label", I64, ["N"]), ("scores", F, ["N", width])], attrs, domain=ML)


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO", "PROBIT"])
def test_linear_classifier_multiclass(tmp_path, post):
    scale = 0.1 if post == "PROBIT" else 1.0
    coef = [v * scale for v in [0.5, -1.0, 0.25, -0.5, 0.75, 1.0, 0.0, 0.2, -0.3]]
    compile_and_check(linear_classifier(coef, [0.1 * scale, 0.0, -0.2 * scale], [1, 2, 3], post, 3), tmp_path)


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX"])
def test_linear_classifier_one_score(tmp_path, post):
    """One coefficient row and two labels: the scores are [1 - s, s] (s after LOGISTIC only)."""
    compile_and_check(linear_classifier([0.5, -1.0, 0.25], [0.1], [4, 8], post, 2), tmp_path)


# ---- SVMClassifier / SVMRegressor ----------------------------------------------------------

SV = [0.5, -1.0, 0.25, -0.5, 0.75, 1.0, 0.0, 0.2, -0.3, 1.5, -0.5, 0.5, -1.2, 0.3, 0.8]  # 5 vectors


def svm_classifier(kernel, params, per_class, coef, rho, width, post="NONE", proba=None, labels=None):
    attrs = dict(kernel_type=kernel, kernel_params=params, vectors_per_class=per_class, support_vectors=SV,
                 coefficients=coef, rho=rho, post_transform=post,
                 classlabels_ints=labels or list(range(len(per_class))))
    if proba:
        attrs.update(prob_a=proba[0], prob_b=proba[1])
    return single_op_model("SVMClassifier", [("X", F, ["N", 3])],
                           [("label", I64, ["N"]), ("scores", F, ["N", width])], attrs, domain=ML)


@pytest.mark.parametrize("kernel,params", [("SIGMOID", [0.3, 0.1, 0.0]), ("POLY", [0.4, 1.0, 2.0]),
                                           ("POLY", [0.4, 0.5, 2.5]), ("RBF", [0.7, 0.0, 0.0]),
                                           ("LINEAR", [0.0, 0.0, 0.0])])
def test_svm_classifier_kernels(tmp_path, kernel, params):
    coef = [1.0, -0.5, 0.7, -1.0, 0.3, 0.4, 1.0, -0.8, -0.6, 0.9]  # 2 rows x 5 vectors
    compile_and_check(svm_classifier(kernel, params, [2, 2, 1], coef, [0.1, -0.2, 0.05], 3), tmp_path)


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX"])
def test_svm_classifier_binary_post(tmp_path, post):
    coef = [0.2, -0.3, 0.25, -0.1, 0.15]
    compile_and_check(svm_classifier("RBF", [0.5, 0.0, 0.0], [3, 2], coef, [0.05], 2, post=post, labels=[5, 6]),
                      tmp_path)


def test_svm_classifier_probabilities_four_classes(tmp_path):
    sv = SV + [0.1, 0.2, -0.4]
    coef = [1.0, -0.5, 0.7, -1.0, 0.3, 0.8, 0.4, 1.0, -0.8, -0.6, 0.9, -0.7, 0.5, 0.6, -0.2, 0.3, -0.4, 1.0]
    attrs = dict(kernel_type="RBF", kernel_params=[0.6, 0, 0], vectors_per_class=[2, 1, 2, 1], support_vectors=sv,
                 coefficients=coef, rho=[0.1, -0.2, 0.05, 0.3, -0.1, 0.2],
                 prob_a=[-2.0, -1.5, -3.0, -1.0, -2.5, -1.8], prob_b=[0.1, -0.2, 0.05, 0.0, 0.3, -0.1],
                 classlabels_ints=[0, 1, 2, 3])
    model = single_op_model("SVMClassifier", [("X", F, ["N", 3])], [("label", I64, ["N"]), ("scores", F, ["N", 4])],
                            attrs, domain=ML)
    compile_and_check(model, tmp_path)


@pytest.mark.parametrize("classes,post", [(3, "NONE"), (3, "SOFTMAX"), (2, "NONE"), (2, "LOGISTIC")])
def test_svm_classifier_linear_mode(tmp_path, classes, post):
    """No support vectors: one linear score per class plus rho[0]."""
    coef = [0.5, -1.0, 0.25, -0.5, 0.75, 1.0, 0.0, 0.2, -0.3][:3 * classes]
    attrs = dict(coefficients=coef, rho=[0.1], post_transform=post, classlabels_ints=list(range(classes)),
                 kernel_params=[0.0, 0.0, 0.0])
    model = single_op_model("SVMClassifier", [("X", F, ["N", 3])],
                            [("label", I64, ["N"]), ("scores", F, ["N", classes])], attrs, domain=ML)
    compile_and_check(model, tmp_path)


def test_svm_classifier_linear_mode_positive_weights(tmp_path):
    attrs = dict(coefficients=[0.1, 0.2, 0.3, 0.3, 0.05, 0.1], rho=[0.0], classlabels_ints=[0, 1],
                 kernel_params=[0.0, 0.0, 0.0])
    model = single_op_model("SVMClassifier", [("X", F, ["N", 3])],
                            [("label", I64, ["N"]), ("scores", F, ["N", 2])], attrs, domain=ML)
    compile_and_check(model, tmp_path)


@pytest.mark.parametrize("kernel,params,one_class", [("SIGMOID", [0.3, 0.1, 0.0], 0),
                                                     ("POLY", [0.2, 1.0, 4.0], 0), ("RBF", [0.5, 0.0, 0.0], 1)])
def test_svm_regressor(tmp_path, kernel, params, one_class):
    attrs = dict(kernel_type=kernel, kernel_params=params, n_supports=5, support_vectors=SV,
                 coefficients=[1.0, -0.5, 0.7, -1.0, 0.3], rho=[0.2], one_class=one_class)
    model = single_op_model("SVMRegressor", [("X", F, ["N", 3])], [("Y", F, ["N", 1])], attrs, domain=ML)
    compile_and_check(model, tmp_path)


def test_svm_regressor_linear_mode(tmp_path):
    attrs = dict(coefficients=[0.5, -1.0, 0.25], rho=[0.3], n_supports=0, kernel_params=[0.0, 0.0, 0.0])
    model = single_op_model("SVMRegressor", [("X", F, ["N", 3])], [("Y", F, ["N", 1])], attrs, domain=ML)
    compile_and_check(model, tmp_path)


# ---- preprocessing -------------------------------------------------------------------------

@pytest.mark.parametrize("norm", ["MAX", "L1", "L2"])
def test_normalizer(tmp_path, norm):
    model = single_op_model("Normalizer", [("X", F, ["N", 4])], [("Y", F, ["N", 4])], dict(norm=norm), domain=ML)
    rows = [[1, 2, 3, 4], [-1, -2, -3, -4], [0, 0, 0, 0], [0.5, -0.25, 0, 2], [-3, 0, 0, 0], [1e-20, 0, 0, 0]]
    rows += np.round(np.random.RandomState(0).normal(0, 2, (40, 4)), 4).tolist()
    compile_and_check(model, tmp_path, data=csv(tmp_path, ["X_0", "X_1", "X_2", "X_3"], rows))


def test_scaler_single_value(tmp_path):
    model = single_op_model("Scaler", [("X", F, ["N", 3])], [("Y", F, ["N", 3])],
                            dict(offset=[0.5], scale=[-2.0]), domain=ML)
    compile_and_check(model, tmp_path)


def test_scaler_per_feature_double_input(tmp_path):
    model = single_op_model("Scaler", [("X", TensorProto.DOUBLE, ["N", 3])], [("Y", F, ["N", 3])],
                            dict(offset=[0.5, -1.0, 2.0], scale=[-2.0, 0.25, 3.0]), domain=ML)
    compile_and_check(model, tmp_path)


@pytest.mark.parametrize("replaced", [float("nan"), 1.5])
@pytest.mark.parametrize("imputed", [[9.0], [7.0, -1.0, 0.5]])
def test_imputer_floats(tmp_path, replaced, imputed):
    model = single_op_model("Imputer", [("X", F, ["N", 3])], [("Y", F, ["N", 3])],
                            dict(imputed_value_floats=imputed, replaced_value_float=replaced), domain=ML)
    rows = [[1.5, "NaN", 2], ["NaN", 1.5, 1.5], [0, 0, 0], ["NaN", "NaN", "NaN"], [-1.5, 3, 1.5]]
    compile_and_check(model, tmp_path, data=csv(tmp_path, ["X_0", "X_1", "X_2"], rows))


def test_imputer_int64(tmp_path):
    model = single_op_model("Imputer", [("X", I64, ["N", 3])], [("Y", I64, ["N", 3])],
                            dict(imputed_value_int64s=[7, 8, 9], replaced_value_int64=0), domain=ML)
    rows = [[0, 1, 2], [3, 0, 0], [0, 0, 0], [-4, 5, -6]]
    compile_and_check(model, tmp_path, data=csv(tmp_path, ["X_0", "X_1", "X_2"], rows))


@pytest.mark.parametrize("dtype", [I64, F])
def test_one_hot_encoder_int64_categories(tmp_path, dtype):
    """Numbers are truncated to int64; a category listed twice counts at its last position."""
    model = single_op_model("OneHotEncoder", [("X", dtype, ["N", 2])], [("Y", F, ["N", 2, 5])],
                            dict(cats_int64s=[0, 1, -2, 3, 1], zeros=1), domain=ML)
    rows = [[0, 1], [1.7, -2.5], [-2, 3], [4, -1], [3.99, 0.5], [-0.5, 1]] if dtype == F else \
        [[0, 1], [1, -2], [-2, 3], [4, -1], [3, 0], [-1, 1], [5, -3]]
    compile_and_check(model, tmp_path, data=csv(tmp_path, ["X_0", "X_1"], rows))


def test_array_feature_extractor(tmp_path):
    idx = numpy_helper.from_array(np.array([3, 0, 3], np.int64), "idx")
    model = single_op_model("ArrayFeatureExtractor", [("X", F, ["N", 4])], [("Y", F, ["N", 3])], domain=ML,
                            initializers=[idx])
    compile_and_check(model, tmp_path)


def test_array_feature_extractor_3d(tmp_path):
    idx = numpy_helper.from_array(np.array([[2], [1]], np.int64), "idx")
    model = single_op_model("ArrayFeatureExtractor", [("X", I64, ["N", 2, 3])], [("Y", I64, ["N", 2, 2])],
                            domain=ML, initializers=[idx])
    rows = [[1, 2, 3, 4, 5, 6], [-1, -2, -3, -4, -5, -6]]
    compile_and_check(model, tmp_path, data=csv(tmp_path, [f"X_{i}" for i in range(6)], rows))


S = TensorProto.STRING
LABEL_ENCODERS = {
    # small non-negative int keys (a direct table), a duplicate key (its first value counts)
    "dense_int_to_float": ((I64, F), dict(keys_int64s=[0, 1, 2, 5, 1], values_floats=[0.5, 1.5, 2.5, 5.5, 9.0],
                                          default_float=-7.5),
                           [[0], [1], [2], [3], [5], [-3], [99999]]),
    # negative and large keys: a scan
    "sparse_int_to_int": ((I64, I64), dict(keys_int64s=[-5, 100000, 3, 3], values_int64s=[1, 2, 3, 4],
                                           default_int64=42),
                          [[-5], [100000], [3], [0], [7]]),
    "string_to_int": ((S, I64), dict(keys_strings=["a", "b", "c", "a"], values_int64s=[0, 1, 2, 9]),
                      [["a"], ["b"], ["c"], ["zz"], ["A"]]),
    "float_to_string": ((F, S), dict(keys_floats=[0.5, -1.25, 0.5], values_strings=["x", "y", "z"],
                                     default_string="none"),
                        [[0.5], [-1.25], [0.25], [7]]),
}


@pytest.mark.parametrize("case", sorted(LABEL_ENCODERS))
def test_label_encoder(tmp_path, case):
    (tin, tout), attrs, rows = LABEL_ENCODERS[case]
    model = single_op_model("LabelEncoder", [("X", tin, ["N", 1])], [("Y", tout, ["N", 1])], attrs, domain=ML)
    compile_and_check(model, tmp_path, data=csv(tmp_path, ["X"], rows))
