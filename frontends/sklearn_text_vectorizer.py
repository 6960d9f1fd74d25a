"""CountVectorizer, TfidfVectorizer and TfidfTransformer on a text column, as scikit-learn
computes them.

skl2onnx converts the vectorizers to ONNX Runtime's Tokenizer (RE2, whose \\w is ASCII) and
StringNormalizer (the C library's locale lowercase): neither is Python's `str.lower` and
`re`, so non-ASCII text splits and counts differently. Here the analyzer is modelport's own
op, modelport.text:TokenCounts (compiler/ops/token_counts.py: Python's own rules, shipped to
the C++ and Java runtimes as tables), and TF-IDF follows TfidfTransformer.transform in double
with standard ops:

    tf   = counts                          (binary: presence)
    tf   = Where(tf > 0, Log(tf) + 1, 0)   (sublinear_tf)
    tf   = tf * idf_                       (use_idf)
    out  = tf / norm(tf)                   (norm "l2": sqrt of the sum of squares in column
                                            order, as scikit-learn's CSR loop; "l1": of |tf|;
                                            a zero norm leaves the row as it is)

Supported: the word analyzer with the default token pattern, `lowercase`, `ngram_range`,
`stop_words` (a list or "english"), `binary`, the vocabulary however it was chosen (min_df,
max_df, max_features or given). Anything else that changes how a document is read (a
callable analyzer, tokenizer or preprocessor, another token pattern, strip_accents, char
n-grams) is refused by name.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from .sklearn_double_builder import converter, install_in_front
from .sklearn_string_encoders import _number_type, numbers_from_parse

DOMAIN = "modelport.text"
DEFAULT_PATTERN = r"(?u)\b\w\w+\b"


def install() -> None:
    """Put the converters in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
    from skl2onnx._supported_operators import sklearn_operator_name_map
    install_in_front({c: sklearn_operator_name_map[c] for c in (CountVectorizer, TfidfVectorizer)},
                     converter("text", _build_vectorizer, lambda operator, container: True), shape=_shape)
    install_in_front({TfidfTransformer: sklearn_operator_name_map[TfidfTransformer]},
                     converter("tfidf", _build_transformer, lambda operator, container: True), shape=_shape)
    numbers_from_parse([CountVectorizer, TfidfVectorizer, TfidfTransformer])


def is_text(e) -> bool:
    from sklearn.feature_extraction.text import CountVectorizer
    return isinstance(e, CountVectorizer)


def _shape(original):
    def calculate(operator):
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
        model = operator.raw_operator
        width = len(model.vocabulary_) if hasattr(model, "vocabulary_") else len(model.idf_)
        kind = DoubleTensorType if _number_type[-1] == "float64" else FloatTensorType
        operator.outputs[0].type = kind([None, width])
    return calculate


def check(model) -> None:
    """Refuse what the runtimes do not read as scikit-learn does, naming the parameter."""
    name = type(model).__name__
    wrong = []
    if model.analyzer != "word":
        wrong.append(f"analyzer={model.analyzer!r}" if isinstance(model.analyzer, str) else "a callable analyzer")
    for attr in ("tokenizer", "preprocessor"):
        if getattr(model, attr) is not None:
            wrong.append(f"a custom {attr}")
    if model.token_pattern != DEFAULT_PATTERN:
        wrong.append(f"token_pattern={model.token_pattern!r}")
    if model.strip_accents is not None:
        wrong.append(f"strip_accents={model.strip_accents!r}")
    if model.input != "content":
        wrong.append(f"input={model.input!r}")
    if name == "TfidfVectorizer" and np.dtype(model.dtype) != np.float64:
        wrong.append(f"dtype={np.dtype(model.dtype).name}")
    if wrong:
        raise UnsupportedError(
            f"{name} with {', '.join(wrong)} is not supported: the compiled model tokenizes as scikit-learn's "
            f"default analyzer does (analyzer='word', token_pattern={DEFAULT_PATTERN!r}, no strip_accents, "
            "no custom tokenizer or preprocessor; lowercase, ngram_range, stop_words, binary and any vocabulary "
            "are supported). Refit with those settings to compile it.")


def _vocabulary(model) -> list:
    terms = [None] * len(model.vocabulary_)
    for term, j in model.vocabulary_.items():
        terms[j] = term
    return terms


def _build_vectorizer(b, model, operator, container):
    check(model)
    x = operator.inputs[0].full_name
    if len(operator.inputs) != 1:
        raise UnsupportedError(f"{type(model).__name__} reads one text column, not {len(operator.inputs)}")
    lo, hi = model.ngram_range
    stop = model.get_stop_words()
    stop = {"stop_words": sorted(stop)} if stop else {}  # (an empty list attribute has no type)
    counts = b.op("TokenCounts", x, domain=DOMAIN, vocabulary=_vocabulary(model), lowercase=int(bool(model.lowercase)),
                  ngram_min=int(lo), ngram_max=int(hi), binary=int(bool(model.binary)), **stop)
    if hasattr(model, "_tfidf"):
        counts = _tfidf(b, counts, model._tfidf)
    _finish(b, counts, operator)


def _build_transformer(b, model, operator, container):
    x = b.input(operator)
    _finish(b, _tfidf(b, b.cast(x, 11) if not _is_double(operator) else x, model), operator)


def _is_double(operator) -> bool:
    from .sklearn_double_builder import all_double
    return all_double(operator)


def _finish(b, x: str, operator) -> None:
    if _number_type[-1] != "float64":
        x = b.cast(x, 1)  # FLOAT
    b.op("Identity", x, out=operator.outputs[0].full_name)


def _tfidf(b, x: str, t) -> str:
    """TfidfTransformer.transform on double counts."""
    if t.sublinear_tf:
        positive = b.op("Greater", x, b.const(np.float64(0)))
        x = b.where(positive, b.op("Add", b.op("Log", x), b.const(np.float64(1))), x)
    if t.use_idf:
        x = b.op("Mul", x, b.const(np.asarray(t.idf_, np.float64).reshape(1, -1), hint="idf"))
    if t.norm is None:
        return x
    if t.norm == "l2":
        norm = b.op("Sqrt", b.reduce("ReduceSumSquare", x, [1], keepdims=1))
    elif t.norm == "l1":
        norm = b.reduce("ReduceSum", b.op("Abs", x), [1], keepdims=1)
    else:
        raise UnsupportedError(f"TF-IDF norm {t.norm!r}: supported are 'l2', 'l1' and None")
    zero = b.op("Equal", norm, b.const(np.float64(0)))
    return b.op("Div", x, b.where(zero, b.const(np.array([[1.0]])), norm))


# Text that breaks ports of the analyzer: letters whose lowercase is longer (İ) or depends on
# context (final sigma), ligatures, title case, combining marks (not word characters), digits
# of other scripts, superscripts, letters outside the BMP, symbols and emoji, and separators
# that are not spaces.
TRICKY = ["İstanbul", "ΣΊΣΥΦΟΣ", "ὈΔΥΣΣΕΎΣ", "Σ.", "ΑΣ'Β", "straße", "STRASSE", "ǅemal", "ǈ", "naïve", "nai\u0308ve",
          "x²", "٣٤٥", "Ⅻ", "ﬁne", "ŉ", "𐐀𐐨", "🙂ok🙂", "日本語テキスト", "a_b", "__", "e\u0301t\u00e9", "1.5", "3,000",
          "word\u00a0word", "tab\tsep", "semi;colon", "it's", "re-use", "\u200bzero\u200bwidth", "A", "Ab", "ÀÉÎ"]


def sample_documents(model, n: int = 160, seed: int = 0) -> list:
    """Documents for parity rows: the vocabulary's words (and stop words) in random case,
    with punctuation, tricky text, and empty and one-letter documents."""
    rng = np.random.RandomState(seed)
    words = sorted({w for term in getattr(model, "vocabulary_", {}) for w in term.split(" ")}) or ["word"]
    stop = sorted(model.get_stop_words() or []) if hasattr(model, "get_stop_words") else []
    seps = [" ", " ", " ", ", ", ". ", "-", "/", "!", "  ", "\t", "(", ")", ":", "'", "\u00a0"]
    docs = ["", " ", "a", "A b c", ". , !"]
    for _ in range(n - len(docs)):
        pieces = []
        for _ in range(rng.randint(1, 14)):
            u = rng.rand()
            w = stop[rng.randint(len(stop))] if stop and u < 0.1 else TRICKY[rng.randint(len(TRICKY))] if u < 0.25 \
                else words[rng.randint(len(words))]
            case = rng.rand()
            w = w.upper() if case < 0.15 else w.title() if case < 0.3 else w
            pieces += [w, seps[rng.randint(len(seps))]]
        docs.append("".join(pieces[:-1]))
    return docs
