"""Unicode tables for the text runtime, read off the running Python itself.

scikit-learn's default analyzer is `str.lower` then `re.findall(r"(?u)\\b\\w\\w+\\b")`: what is a
word character and what each character lowercases to are Python's (its Unicode version), so
the tables are made here, from `str.isalnum` and `str.lower`, at compile time, and shipped in
the model as data. The runtimes (modelport_text.hpp, TextCounts.java) only read them.

One int32 table, four parts, each a count then its entries:
  word       ranges [lo, hi] of the characters `\\w` matches (isalnum() or "_")
  cased      ranges of characters that are cased and not case-ignorable
  ignorable  ranges of case-ignorable characters
  lower      (code point, c1, c2, c3) for every character whose lowercase differs (-1: none)

`str.lower` maps characters one by one, except capital sigma (U+03A3), which becomes final
sigma (U+03C2) after a cased character and before none, case-ignorable characters skipped
(Python's handle_capital_sigma): the two classes are probed through `str.lower` itself, so
they are exactly the ones Python's rule reads.
"""
from __future__ import annotations

import functools

import numpy as np

LIMIT = 0x110000
SIGMA, SMALL_SIGMA = "\u03a3", "\u03c3"


def _ranges(flags: np.ndarray) -> list:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return [(int(lo), int(hi) - 1) for lo, hi in zip(edges[::2], edges[1::2])]


@functools.lru_cache(maxsize=1)
def table() -> np.ndarray:
    """The int32 table described above (about 0.7 s to make; made once per process)."""
    word = np.zeros(LIMIT, bool)
    cased = np.zeros(LIMIT, bool)
    ignorable = np.zeros(LIMIT, bool)
    lower = []
    for cp in range(LIMIT):
        if 0xD800 <= cp < 0xE000:
            continue  # surrogates: never a character of a decoded text
        ch = chr(cp)
        word[cp] = ch.isalnum() or ch == "_"
        lo = ch.lower()
        if lo != ch:
            if len(lo) > 3:
                raise AssertionError(f"lowercase of U+{cp:04X} has {len(lo)} characters")
            lower.append([cp] + [ord(c) for c in lo] + [-1] * (3 - len(lo)))
        # sigma before ch: it stays small sigma iff ch is cased and not case-ignorable;
        # with a cased letter after ch, iff ch is either (ignorable ones are skipped)
        if ("A" + SIGMA + ch).lower()[1] == SMALL_SIGMA:
            cased[cp] = True
        elif ("A" + SIGMA + ch + "B").lower()[1] == SMALL_SIGMA:
            ignorable[cp] = True
    out = []
    for flags in (word, cased, ignorable):
        pairs = _ranges(flags)
        out += [len(pairs)] + [v for p in pairs for v in p]
    out += [len(lower)] + [v for e in lower for v in e]
    return np.asarray(out, dtype=np.int32)
