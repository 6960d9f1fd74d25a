"""Text columns end to end: CountVectorizer, TfidfVectorizer and TfidfTransformer tokenize in the
built C++ program and the jar exactly as scikit-learn's default analyzer does (Python's
str.lower and re's \\w, shipped as tables: frontends/sklearn_text_vectorizer.py,
compiler/ops/token_counts.py). The documents are random text over many scripts, so a
character the tables or the runtimes get wrong shows as a count that differs."""
import csv
import json
import random

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.svm import LinearSVC

import modelport
from modelport.api import inspect
from modelport.errors import UnsupportedError
from helpers import compile_and_check

# code points drawn from: ASCII, Latin, Greek (capital sigma often), Cyrillic, Greek extended
# (title-case letters), punctuation and spaces, combining marks, CJK, symbols and emoji, Deseret
# (letters outside the BMP), and single letters whose lowercase is special
POOLS = [range(0x20, 0x7f), range(0xa0, 0x250), range(0x370, 0x400), range(0x400, 0x530), range(0x1e00, 0x2000),
         range(0x2000, 0x2070), range(0x300, 0x370), range(0x4e00, 0x4e40), range(0x1f100, 0x1f200),
         range(0x10400, 0x10450),
         [0x130, 0x3a3, 0x3a3, 0x345, 0x2b0, 0xb2, 0x660, 0x2160, 0xfb01, 0x1e9e, 0x1c5, 0x1f88, 0x20, 0x20, 0x2e,
          0x5f, 0x27]]


def random_documents(n, seed):
    rng = random.Random(seed)
    return ["".join(chr(rng.choice(POOLS[rng.randrange(len(POOLS))])) for _ in range(rng.randint(0, 14)))
            for _ in range(n)]


def write_csv(path, columns: dict):
    names = list(columns)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(names)
        for row in zip(*columns.values()):
            w.writerow(row)
    return path


def exact(out):
    """Every check of the report agrees to the last bit (counts)."""
    report = json.loads((out / "parity.json").read_text())
    for c in report["checks"]:
        assert c["max_abs_error"] == 0, c


@pytest.mark.parametrize("vectorizer", [
    CountVectorizer(ngram_range=(1, 2)),
    CountVectorizer(lowercase=False, binary=True),
    CountVectorizer(ngram_range=(2, 3), stop_words=["the", "σς", "ab"], min_df=2),
], ids=["bigrams", "cased-binary", "stop-words-trigrams"])
def test_count_vectorizer_counts_random_unicode_exactly(tmp_path, vectorizer):
    docs = random_documents(1500, 0)
    vectorizer.fit(docs + ["the ab σς the ab", "ΟΔΥΣΣΕΥΣ ΣΊΣΥΦΟΣ İstanbul"] * 3)
    data = write_csv(tmp_path / "docs.csv", {"text": random_documents(1500, 1) + docs[:500]})
    manifest = compile_and_check(vectorizer, tmp_path, targets=("cpp", "java"), data=data)
    assert manifest["schema"]["inputs"][0]["name"] == "text"
    assert manifest["precision"]["model"] == "float64"
    exact(tmp_path / "out")


def frame(n, seed):
    rng = np.random.RandomState(seed)
    words = ["good", "bad", "great", "awful", "film", "plot", "actors", "Ending", "ÉPIC", "naïve", "ΣΟΦΟΣ", "İyi",
             "boring", "the", "and", "a"]
    text = [" ".join(rng.choice(words, rng.randint(0, 9))) + rng.choice(["", "!", ".", "?!", " :)"])
            for _ in range(n)]
    return pd.DataFrame({"review": text, "stars": rng.uniform(0, 5, n),
                         "site": rng.choice(["imdb", "rt", "mc"], n).astype(object)})


def sentiment(df):
    good = df["review"].str.lower().str.count("good|great|epic")
    bad = df["review"].str.lower().str.count("bad|awful|boring")
    return (good - bad + 0.3 * (df["stars"] - 2.5) > 0).astype(int)


def user_csv(tmp_path, seed=7):
    """Rows as a user has them: empty reviews, words never seen, other scripts."""
    df = frame(150, seed)
    df.loc[::11, "review"] = ""
    df.loc[5::13, "review"] = "Ünseen wörds ΚΑΙ ΛΟΓΟΣ, never trained on"
    path = tmp_path / "rows.csv"
    df.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("text", [
    TfidfVectorizer(),
    TfidfVectorizer(sublinear_tf=True, norm="l1", ngram_range=(1, 2)),
    TfidfVectorizer(use_idf=False, stop_words="english", max_features=8),
    make_pipeline(CountVectorizer(binary=True), TfidfTransformer(smooth_idf=False)),
], ids=["default", "sublinear-l1-bigrams", "no-idf-english-stop-words", "count-then-transformer"])
def test_tfidf_in_a_column_transformer(tmp_path, text):
    df = frame(400, 0)
    est = make_pipeline(
        ColumnTransformer([("text", text, "review"), ("num", StandardScaler(), ["stars"]),
                           ("site", OneHotEncoder(handle_unknown="ignore"), ["site"])]),
        LogisticRegression(max_iter=1000)).fit(df, sentiment(df))
    manifest = compile_and_check(est, tmp_path, targets=("cpp", "java"), data=user_csv(tmp_path))
    assert [c["kind"] for c in manifest["schema"]["inputs"]] == ["string", "number", "string"]
    assert manifest["precision"]["model"] == "float64"
    # generated rows (documents from the vocabulary, tricky text, empty and unseen ones)
    compile_and_check(est, tmp_path / "generated", targets=("cpp", "java"))


def test_bare_text_pipelines_with_string_labels_and_a_regressor(tmp_path):
    df = frame(400, 1)
    labels = np.where(sentiment(df) == 1, "positive", "negative")
    clf = make_pipeline(TfidfVectorizer(ngram_range=(1, 2)), LinearSVC()).fit(df["review"], labels)
    manifest = compile_and_check(clf, tmp_path / "clf", targets=("cpp", "java"))
    assert [c["name"] for c in manifest["schema"]["inputs"]] == ["text"]
    reg = make_pipeline(TfidfVectorizer(), Ridge()).fit(df["review"].tolist(), df["stars"])
    compile_and_check(reg, tmp_path / "reg", targets=("cpp", "java"))


def test_trees_on_tfidf_compare_in_float32(tmp_path):
    df = frame(300, 2)
    est = make_pipeline(TfidfVectorizer(), RandomForestClassifier(n_estimators=10, random_state=0))
    est.fit(df["review"], sentiment(df))
    manifest = compile_and_check(est, tmp_path, targets=("cpp", "java"))
    assert manifest["precision"]["model"] == "float32"


@pytest.mark.parametrize("vectorizer,named", [
    (CountVectorizer(analyzer="char_wb"), "analyzer='char_wb'"),
    (TfidfVectorizer(token_pattern=r"\w+"), "token_pattern="),
    (CountVectorizer(strip_accents="unicode"), "strip_accents='unicode'"),
    (CountVectorizer(tokenizer=str.split, token_pattern=None), "a custom tokenizer"),
])
def test_analyzers_the_runtimes_do_not_read_are_refused_by_name(tmp_path, vectorizer, named):
    est = make_pipeline(vectorizer, LogisticRegression()).fit(["good film", "bad film", "good", "bad"], [1, 0, 1, 0])
    with pytest.raises(UnsupportedError) as err:
        modelport.compile(est, targets=("cpp",), out=tmp_path / "out")
    assert named in str(err.value) and "token_pattern" in str(err.value)


def test_text_models_refuse_the_onnx_target(tmp_path):
    est = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(["good film", "bad film", "good", "bad"],
                                                                      [1, 0, 1, 0])
    with pytest.raises(UnsupportedError, match="onnx target needs ONNX Runtime to run every node.*TokenCounts"):
        modelport.compile(est, targets=("onnx",), out=tmp_path / "onnx")
    info = inspect(est)
    assert {t: info["targets"][t] for t in ("cpp", "java", "tvm-llvm")} == dict.fromkeys(("cpp", "java", "tvm-llvm"),
                                                                                         "supported")
    assert info["targets"]["onnx"].startswith("not supported")
    assert not (tmp_path / "onnx").exists()


def test_tvm_llvm_runs_the_tokenizer_in_its_stub_and_the_rest_in_tvm(tmp_path):
    df = frame(300, 3)
    est = make_pipeline(
        ColumnTransformer([("text", TfidfVectorizer(ngram_range=(1, 2)), "review"),
                           ("num", StandardScaler(), ["stars"])]),
        LogisticRegression(max_iter=1000)).fit(df, np.where(sentiment(df) == 1, "pos", "neg"))
    manifest = compile_and_check(est, tmp_path, targets=("tvm-llvm", "cpp"), data=user_csv(tmp_path))
    folder = tmp_path / "out" / "tvm-llvm"
    front, prepared = (onnx.load(str(folder / f)) for f in ("front.onnx", "prepared.onnx"))
    assert [n.op_type for n in front.graph.node] == ["TokenCounts"]
    assert {i.name for i in prepared.graph.input} >= {"stars", front.graph.output[0].name}
    report = json.loads((tmp_path / "out" / "parity.json").read_text())
    assert {c["runner"] for c in report["checks"] if c["target"] == "tvm-llvm"} >= {"prepared-onnx", "program", "jar"}
    assert manifest["targets"]["tvm-llvm"]["label_classes"] == {"label": ["neg", "pos"]}
