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
                      tmp_path / "2", targets=("cpp", "java", "tvm-llvm"))


def test_bagging_classifier_and_regressor(tmp_path):
    X, _, y3, yr = classic_data()
    compile_and_check(BaggingClassifier(n_estimators=4, random_state=0).fit(X, y3), tmp_path / "c")
    reg = BaggingRegressor(DecisionTreeRegressor(max_depth=5), n_estimators=4, random_state=0).fit(X, yr)
    compile_and_check(reg, tmp_path / "r", targets=("cpp", "java", "tvm-llvm"))


def test_voting_classifier_soft_and_hard_with_default_flatten_transform(tmp_path):
    # flatten_transform=True (the default) shapes only transform(): predictions compile as is.
    # Hard voting between two members ties often: scikit-learn takes the first class of a tie.
    from sklearn.ensemble import VotingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import GaussianNB
    X, y2, y3, _ = classic_data()
    members = [("lr", LogisticRegression()), ("nb", GaussianNB())]
    soft = VotingClassifier(members, voting="soft", weights=[2, 1]).fit(X, np.array(["a", "b", "c"])[y3])
    compile_and_check(soft, tmp_path / "soft", targets=("cpp", "java"))
    hard = VotingClassifier(members, voting="hard").fit(X, y3)
    m = compile_and_check(hard, tmp_path / "hard", targets=("cpp", "java"))
    assert [c["name"] for c in m["schema"]["outputs"]] == ["label"]
    assert hard.flatten_transform is True  # the user's estimator is left as it was


def test_stacking_classifier_with_a_tree_member(tmp_path):
    # the tree member reads float32 (scikit-learn casts X for it): the model compiles in float32
    from sklearn.ensemble import StackingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier
    X, y2, y3, _ = classic_data()
    X = X.astype(np.float64) + np.random.RandomState(1).uniform(-1e-3, 1e-3, X.shape)
    for name, y in (("binary", y2), ("multiclass", y3)):
        est = StackingClassifier([("lr", LogisticRegression()), ("tree", DecisionTreeClassifier(max_depth=3))])
        m = compile_and_check(est.fit(X, y), tmp_path / name, targets=("cpp", "java"))
        assert m["precision"]["model"] == "float32" and "DecisionTreeClassifier" in m["precision"]["why"]
