"""modelport.text:TokenCounts: word counts of a text column over a fixed vocabulary, as
scikit-learn's CountVectorizer counts them with its default analyzer.

    input   X: string [N, 1] (or [N]), one document per row
    output  Y: double [N, V]: Y[r, j] = how often vocabulary[j] occurs in document r (binary: 0 or 1)
    attributes
      vocabulary   strings: the terms (n-grams are words joined by one space), column order
      stop_words   strings: tokens dropped before n-grams are formed
      lowercase    int: lowercase the document first (Python's str.lower)
      ngram_min, ngram_max   ints: the n-gram range
      binary       int: 1 for presence instead of counts

Per document (sklearn.feature_extraction.text, `_word_ngrams` with the default token pattern
r"(?u)\\b\\w\\w+\\b"): lowercase; tokens are the maximal runs of word characters of two or more
code points; drop stop words; emit the n-grams for n in the range; count those in the
vocabulary. ONNX Runtime has no such op: wherever the compiler runs a graph with ONNX Runtime
it computes this node with `evaluate` (compiler/ort_session.py), which does it as
scikit-learn does, with Python's `re` and `str.lower`. The C++ and Java runtimes do it with
tables made from the same Python (_text_unicode): the kernel calls the runtime procedure
`text_counts` once per block.
"""
from __future__ import annotations

import re

import numpy as np

from ..errors import UnsupportedError
from ..kernel import ast as k
from . import _text_unicode

OP = "TokenCounts"
DOMAIN = "modelport.text"
TOKEN_PATTERN = r"(?u)\b\w\w+\b"  # scikit-learn's default, the one the runtimes implement
_TOKENS = re.compile(TOKEN_PATTERN)


def _strings(attrs: dict, name: str) -> list:
    return [v.decode("utf-8", "surrogatepass") if isinstance(v, bytes) else str(v) for v in attrs.get(name, [])]


def options(attrs: dict) -> dict:
    lo, hi = int(attrs.get("ngram_min", 1)), int(attrs.get("ngram_max", 1))
    if not 1 <= lo <= hi:
        raise UnsupportedError(f"{OP}: n-gram range ({lo}, {hi}) is not a range of positive sizes")
    return {"vocabulary": _strings(attrs, "vocabulary"), "stop_words": _strings(attrs, "stop_words"),
            "lowercase": bool(attrs.get("lowercase", 1)), "ngram": (lo, hi), "binary": bool(attrs.get("binary", 0))}


def terms(doc: str, o: dict) -> list:
    """The document's n-grams, as scikit-learn's word analyzer gives them."""
    tokens = _TOKENS.findall(doc.lower() if o["lowercase"] else doc)
    if o["stop_words"]:
        stop = set(o["stop_words"])
        tokens = [t for t in tokens if t not in stop]
    lo, hi = o["ngram"]
    out = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
        out += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return out


def evaluate(attrs: dict, x: np.ndarray) -> np.ndarray:
    """The node's output for documents `x` (a missing document, None or NaN, counts nothing)."""
    o = options(attrs)
    column = {t: j for j, t in enumerate(o["vocabulary"])}
    docs = np.asarray(x, dtype=object).reshape(len(x), -1)
    if docs.shape[1] != 1:
        raise UnsupportedError(f"{OP}: one document per row expected, not {docs.shape[1]}")
    out = np.zeros((len(docs), len(column)), dtype=np.float64)
    for r, doc in enumerate(docs[:, 0]):
        if isinstance(doc, bytes):
            doc = doc.decode("utf-8")
        if not isinstance(doc, str):
            continue
        for t in terms(doc, o):
            j = column.get(t)
            if j is not None:
                out[r, j] = 1.0 if o["binary"] else out[r, j] + 1.0
    return out


def lower(ctx, node, ins, outs):
    x, out = ins[0], outs[0]
    o = options(node.attrs)
    if x.dtype != "str" or out.dtype != "f64":
        raise UnsupportedError(f"{OP}: string documents to double counts, not {x.dtype} to {out.dtype}")
    if x.size != 1 or out.size != len(o["vocabulary"]):
        raise UnsupportedError(f"{OP}: rows of {x.size} documents to {out.size} counts "
                               f"(one document, {len(o['vocabulary'])} terms expected)")
    lo, hi = o["ngram"]
    unicode = ctx.table("unicode", _text_unicode.table(), "i32")
    # tables hold one element at least (C++ has no empty arrays): the counts are in `opts`
    vocab = ctx.table("vocabulary", o["vocabulary"] or [""], "str")
    stop = ctx.table("stopwords", o["stop_words"] or [""], "str")
    opts = ctx.table("textoptions", [int(o["lowercase"]), lo, hi, int(o["binary"]), len(o["vocabulary"]),
                                     len(o["stop_words"])], "i64")
    return [k.Invoke("text_counts", (unicode, vocab, stop, opts, k.Slice(x.buf, x.flat(k.Const(0, "idx"), 0)),
                                     k.Const(x.size, "idx"), ctx.nb, k.Slice(out.buf, out.flat(k.Const(0, "idx"), 0)),
                                     k.Const(out.size, "idx")))]
