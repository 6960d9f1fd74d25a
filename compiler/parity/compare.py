"""Comparison rules, one per output kind and precision (documented in docs/parity.md)."""
from __future__ import annotations

import numpy as np

# |target - expected| <= ATOL[precision][kind] * scale + RTOL[precision][kind] * |expected|
# (scale: the root mean square of the expected values, at least 1; probabilities: 1).
RTOL = {"float32": {"probability": 1e-4, "value": 1e-4}, "float64": {"probability": 1e-9, "value": 1e-9}}
ATOL = {"float32": {"probability": 1e-5, "value": 1e-5}, "float64": {"probability": 1e-9, "value": 1e-9}}
# Labels may differ where the top two expected scores are this close (a tie).
TIE = {"float32": 1e-5, "float64": 1e-12}
WORST_ROWS = 10  # rows listed per check in parity.json and parity.html


def _label_equal(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def compare(kind: str, got: np.ndarray, expected: np.ndarray, scores: np.ndarray | None = None,
            precision: str = "float32", tie_rows=None) -> dict:
    """Compare one output tensor in `precision` ("float32" or "float64": the precision the
    artifact computes this output in). `scores` (expected probabilities) excuse labels whose
    top two scores tie; `tie_rows` (a bool per row, e.g. k-NN rows whose k-th and (k+1)-th
    neighbours are equally far) excuse any difference on those rows, counted as ties."""
    return compare_rows(kind, got, expected, scores, precision, tie_rows)[0]


def compare_rows(kind: str, got: np.ndarray, expected: np.ndarray, scores: np.ndarray | None = None,
                 precision: str = "float32", tie_rows=None) -> tuple[dict, dict | None]:
    """`compare`, and per row what the report page shows (None when the shapes differ):
    ratio (the row's largest error over its tolerance; labels: 0 equal, inf different),
    error (largest absolute error), column (where the ratio is largest), tolerance (there),
    tie (a bool per row: a difference there is excused as a tie)."""
    n = len(expected)
    if got.shape != expected.shape:
        return {"passed": False, "rows": n, "precision": precision,
                "detail": f"shape {got.shape} != expected {expected.shape}", "worst_rows": []}, None
    tied = np.zeros(n, bool) if tie_rows is None else np.asarray(tie_rows, bool).reshape(-1)[:n]
    if kind == "label":
        return _labels(got, expected, scores, precision, tied)
    g = np.asarray(got, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    both_nan = np.isnan(g) & np.isnan(e)
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, then infinite unless both are the same infinity
        err = np.where(both_nan, 0.0, np.abs(g - e))
    err = np.where(np.isnan(err), np.inf, err)
    finite = np.abs(e[np.isfinite(e)])
    scale = max(1.0, float(np.sqrt(np.mean(finite ** 2)))) if finite.size else 1.0
    rtol = RTOL[precision].get(kind, RTOL[precision]["value"])
    atol = ATOL[precision].get(kind, ATOL[precision]["value"]) * (1.0 if kind == "probability" else scale)
    tol = atol + rtol * np.abs(np.where(np.isfinite(e), e, 0.0))
    same_inf = np.isinf(g) & np.isinf(e) & (np.sign(g) == np.sign(e))
    ok = (err <= tol) | same_inf
    row_ok = ok.all(axis=1) if ok.ndim == 2 else ok
    tie_bad = np.where(~row_ok & tied)[0]
    bad_rows = np.where(~row_ok & ~tied)[0]
    counted = err[~tied] if err.ndim else err
    finite_err = counted[np.isfinite(counted) & ~same_inf[~tied]]
    err2 = np.where(same_inf, 0.0, err).reshape(n, -1)
    ratio2 = err2 / tol.reshape(n, -1)
    column = ratio2.argmax(axis=1) if ratio2.shape[1] else np.zeros(n, np.int64)
    at = (np.arange(n), column)
    ratio = ratio2[at] if ratio2.shape[1] else np.zeros(n)
    rows = {"ratio": ratio, "error": err2[at] if err2.shape[1] else np.zeros(n), "column": column,
            "tolerance": tol.reshape(n, -1)[at] if err2.shape[1] else np.zeros(n), "tie": ~row_ok & tied}
    counted_ratio = ratio[~tied]
    return {"passed": not len(bad_rows), "rows": n, "precision": precision, "mismatched": int(len(bad_rows)),
            "ties": int(len(tie_bad)), "tie_rows": tie_bad[:20].tolist(),
            "max_abs_error": float(finite_err.max()) if finite_err.size else 0.0,
            "tolerance": {"rtol": rtol, "atol": atol},
            "max_error_to_tolerance": float(counted_ratio.max()) if counted_ratio.size else 0.0,
            "first_mismatch_row": int(bad_rows[0]) if len(bad_rows) else None,
            "mismatch_rows": bad_rows[:20].tolist(), "worst_rows": worst_rows(ratio, rows["tie"])}, rows


def _labels(got, expected, scores, precision, tied):
    n = len(expected)
    bad = [i for i in range(n) if not all(_label_equal(a, b) for a, b in zip(got[i], expected[i]))]
    ties = [i for i in bad if tied[i]]
    if scores is not None:
        for i in bad:
            top = np.sort(np.asarray(scores[i], dtype=np.float64))[::-1]
            if i not in ties and len(top) > 1 and top[0] - top[1] <= TIE[precision] * max(1.0, abs(top[0])):
                ties.append(i)
    tie_set = set(ties)
    real = [i for i in bad if i not in tie_set]
    ratio = np.zeros(n)
    ratio[bad] = np.inf
    tie = np.zeros(n, bool)
    tie[ties] = True
    column = np.zeros(n, np.int64)
    for i in bad:  # the first column that differs (labels are one column but for multi-output models)
        column[i] = next(j for j, (a, b) in enumerate(zip(got[i], expected[i])) if not _label_equal(a, b))
    rows = {"ratio": ratio, "error": None, "column": column, "tolerance": None, "tie": tie}
    return {"passed": not real, "rows": n, "precision": precision, "mismatched": len(real),
            "ties": len(ties), "tie_rows": sorted(ties)[:20], "first_mismatch_row": real[0] if real else None,
            "mismatch_rows": real[:20], "worst_rows": worst_rows(ratio, tie)}, rows


def worst_rows(ratio: np.ndarray, tie: np.ndarray, limit: int = WORST_ROWS) -> list:
    """The rows with the largest error over tolerance (differences first, then excused ties;
    rows with no error at all are not listed)."""
    key = np.where(tie, -1.0, ratio)  # ties after every real difference
    order = np.lexsort((np.arange(len(ratio)), -np.where(np.isnan(key), np.inf, key)))
    return [int(i) for i in order if ratio[i] > 0 or tie[i]][:limit]
