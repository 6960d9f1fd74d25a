"""What differs between two models' answers to the same rows, output by output."""
from __future__ import annotations

import math
from collections import Counter

import numpy as np

WORST_ROWS = 10   # rows listed per numeric output, largest difference first
FLIP_ROWS = 50    # label flips listed per label output
PSI_BINS = 10
PSI_FLOOR = 1e-4  # a bin's share is at least this in the PSI sum (empty bins would be infinite)


def number(text: str) -> float:
    """A CSV output field as a float (an empty field or NaN: NaN)."""
    try:
        return float(text) if text != "" else math.nan
    except ValueError:
        return math.nan


def psi_numbers(old: np.ndarray, new: np.ndarray) -> float:
    """Population stability index of `new` against `old`: bins at old's deciles (NaN its own
    bin), sum of (new share - old share) * ln(new share / old share)."""
    finite = old[np.isfinite(old)]
    edges = np.unique(np.quantile(finite, np.linspace(0, 1, PSI_BINS + 1)[1:-1])) if finite.size else np.array([])

    def shares(v):
        nan = ~np.isfinite(v)
        counts = np.bincount(np.searchsorted(edges, v[~nan], side="right"), minlength=len(edges) + 1)
        return np.append(counts, nan.sum()) / max(len(v), 1)
    return _psi(shares(old), shares(new))


def psi_labels(old: list, new: list) -> float:
    levels = sorted(set(old) | set(new))
    co, cn = Counter(old), Counter(new)
    return _psi(np.array([co[x] / max(len(old), 1) for x in levels]),
                np.array([cn[x] / max(len(new), 1) for x in levels]))


def _psi(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.maximum(a, PSI_FLOOR), np.maximum(b, PSI_FLOOR)
    return float(np.sum((b - a) * np.log(b / a)))


def compare_label(name: str, old: list, new: list, rows: list) -> dict:
    """A label output: flips (rows whose label changed), the transitions, the shift of the
    label frequencies. `rows` are the compared rows' indices in the data."""
    flips = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
    transitions = Counter((old[i], new[i]) for i in flips)
    return {"output": name, "kind": "label", "rows": len(old), "differing": len(flips),
            "label_flips": len(flips), "flip_rate": len(flips) / max(len(old), 1),
            "transitions": [{"old": a, "new": b, "rows": n} for (a, b), n in transitions.most_common()],
            "psi": psi_labels(old, new),
            "old_counts": dict(Counter(old).most_common()), "new_counts": dict(Counter(new).most_common()),
            "flipped_rows": [{"row": rows[i], "old": old[i], "new": new[i]} for i in flips[:FLIP_ROWS]],
            "_differing": flips}  # positions in old/new; not written to diff.json


def compare_numbers(name: str, old_text: list, new_text: list, rows: list) -> dict:
    """A numeric output: how many rows differ (NaN equals NaN), by how much, and the shift of
    its distribution."""
    old = np.array([number(t) for t in old_text], dtype=np.float64)
    new = np.array([number(t) for t in new_text], dtype=np.float64)
    both_nan = np.isnan(old) & np.isnan(new)
    with np.errstate(invalid="ignore"):
        diff = np.abs(old - new)
    diff[both_nan] = 0.0
    diff[np.isnan(diff)] = math.inf  # NaN against a number, or inf against inf of the other sign
    diff[(old == new)] = 0.0
    differing = np.flatnonzero(diff > 0)
    order = differing[np.argsort(-diff[differing], kind="stable")][:WORST_ROWS]
    finite = diff[np.isfinite(diff)]
    return {"output": name, "kind": "number", "rows": len(old), "differing": int(differing.size),
            "max_abs_diff": float(diff.max()) if diff.size else 0.0,
            "mean_abs_diff": float(finite.mean()) if finite.size else 0.0,
            "p99_abs_diff": float(np.quantile(finite, 0.99)) if finite.size else 0.0,
            "psi": psi_numbers(old, new),
            "old_mean": _mean(old), "new_mean": _mean(new),
            "worst_rows": [{"row": rows[i], "old": old_text[i], "new": new_text[i], "abs_diff": float(diff[i])}
                           for i in order],
            "_values": (old, new),  # for the page's plot; not written to diff.json
            "_differing": differing.tolist()}


def _mean(v: np.ndarray) -> float | None:
    f = v[np.isfinite(v)]
    return float(f.mean()) if f.size else None
