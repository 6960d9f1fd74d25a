"""Everything a model carries is data: hostile feature names, class labels and category
levels compile, escape correctly in C++ and Java, and round-trip through the programs."""
import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from helpers import compile_and_check

HOSTILE = ['a"; system("rm -rf /"); //', "b */ \\u0022 /*", "c\\nd", "e,f (g/h)", "ü ✓"]


def test_hostile_names_labels_and_levels(tmp_path):
    rng = np.random.RandomState(0)
    n = 300
    df = pd.DataFrame({HOSTILE[0]: rng.randn(n), HOSTILE[1]: rng.randn(n),
                       HOSTILE[4]: rng.choice(['x"y', "z\\u000a", "*/", "plain"], n)})
    labels = np.array(['cls "1"', "cls\\u0022two", "three\n3"])
    y = labels[(df[HOSTILE[0]] > 0).astype(int) + (df[HOSTILE[1]] > 0.5)]
    model = Pipeline([
        ("prep", ColumnTransformer([("num", "passthrough", [HOSTILE[0], HOSTILE[1]]),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), [HOSTILE[4]])])),
        ("clf", LogisticRegression(max_iter=500)),
    ]).fit(df, y)
    manifest = compile_and_check(model, tmp_path, name="evil")
    cols = [c["name"] for c in manifest["schema"]["inputs"]]
    assert cols == [HOSTILE[0], HOSTILE[1], HOSTILE[4]]
    source = (tmp_path / "out" / "cpp" / "evil.cpp").read_text()
    assert 'system("rm' not in source.replace('\\"', "")


def test_model_names_that_are_keywords_or_namespaces(tmp_path):
    """A model named like a C++ keyword or the runtime's namespace builds: its identifiers get
    a trailing underscore (namespace short_, libshort_.so), its Java class is Short."""
    from sklearn.linear_model import LinearRegression
    from modelport.backends.naming import identifier
    assert [identifier(n) for n in ("short", "std", "modelport", "Class", "shorts")] == [
        "short_", "std_", "modelport_", "class_", "shorts"]
    X = np.random.RandomState(0).rand(50, 2)
    manifest = compile_and_check(LinearRegression().fit(X, X.sum(axis=1)), tmp_path, targets=("cpp", "java"),
                                 name="short")
    assert manifest["parity"]["passed"]
    assert (tmp_path / "out" / "cpp" / "bin" / "short_").is_file()
    assert (tmp_path / "out" / "java" / "short_.jar").is_file()
