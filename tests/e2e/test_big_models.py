"""Big models build in both languages: a 500-tree random forest of depth 12."""
import numpy as np
from sklearn.ensemble import RandomForestClassifier

from helpers import compile_and_check


def test_500_tree_depth_12_forest_builds_and_matches(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.randn(3000, 20).astype(np.float32)
    y = (X[:, 0] * X[:, 1] + np.sin(3 * X[:, 2]) + 0.3 * rng.randn(3000) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=500, max_depth=12, random_state=0, n_jobs=2).fit(X, y)
    assert max(e.get_depth() for e in model.estimators_) == 12
    manifest = compile_and_check(model, tmp_path, targets=("cpp", "java"), rows=200)
    assert manifest["targets"]["java"]["seconds"] > 0
