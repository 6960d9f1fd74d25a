"""scikit-learn ensembles whose skl2onnx graphs compute shapes from the batch size or stack rows
as [1, N, k] (AdaBoost's ConstantOfShape, Bagging's stacks): the batch-first pass rewrites them
for the C++ and Java kernels (compiler/passes/batch_first_rules.py), checked end to end."""
import numpy as np
from sklearn.ensemble import AdaBoostClassifier, BaggingClassifier, BaggingRegressor
from sklearn.tree import DecisionTreeRegressor

from helpers import classic_data, compile_and_check


def test_adaboost_classifier(tmp_path):
    X, y2, y3, _ = classic_data()
    compile_and_check(AdaBoostClassifier(n_estimators=8, random_state=0).fit(X, y3), tmp_path / "3")
    compile_and_check(AdaBoostClassifier(n_estimators=8, random_state=0).fit(X, np.where(y2, "yes", "no")),
                      tmp_path / "2", targets=("cpp", "java"))


def test_bagging_classifier_and_regressor(tmp_path):
    X, _, y3, yr = classic_data()
    compile_and_check(BaggingClassifier(n_estimators=4, random_state=0).fit(X, y3), tmp_path / "c")
    reg = BaggingRegressor(DecisionTreeRegressor(max_depth=5), n_estimators=4, random_state=0).fit(X, yr)
    compile_and_check(reg, tmp_path / "r", targets=("cpp", "java", "tvm-llvm"))
