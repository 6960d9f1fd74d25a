"""Comparison rules, one per output kind (documented in docs/parity.md)."""
from __future__ import annotations

import numpy as np

# |target - expected| <= ATOL[kind] * scale + RTOL[kind] * |expected|
RTOL = {"probability": 1e-4, "value": 1e-4}
ATOL = {"probability": 1e-5, "value": 1e-5}
TIE = 1e-5  # labels may differ where the top two expected scores are this close


def _label_equal(a, b) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def compare(kind: str, got: np.ndarray, expected: np.ndarray, scores: np.ndarray | None = None) -> dict:
    """Compare one output tensor; `scores` (expected probabilities) excuse exact ties in labels."""
    n = len(expected)
    if got.shape != expected.shape:
        return {"passed": False, "rows": n, "detail": f"shape {got.shape} != expected {expected.shape}"}
    if kind == "label":
        bad = [i for i in range(n) if not all(_label_equal(a, b) for a, b in zip(got[i], expected[i]))]
        ties = []
        if scores is not None and bad:
            for i in bad:
                top = np.sort(np.asarray(scores[i], dtype=np.float64))[::-1]
                if len(top) > 1 and top[0] - top[1] <= TIE:
                    ties.append(i)
        real = [i for i in bad if i not in ties]
        return {"passed": not real, "rows": n, "mismatched": len(real), "ties": len(ties),
                "first_mismatch_row": real[0] if real else None}
    g = np.asarray(got, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    both_nan = np.isnan(g) & np.isnan(e)
    err = np.where(both_nan, 0.0, np.abs(g - e))
    err = np.where(np.isnan(err), np.inf, err)
    finite = np.abs(e[np.isfinite(e)])
    scale = max(1.0, float(np.sqrt(np.mean(finite ** 2)))) if finite.size else 1.0
    rtol, atol = RTOL.get(kind, 1e-4), ATOL.get(kind, 1e-5) * (1.0 if kind == "probability" else scale)
    tol = atol + rtol * np.abs(np.where(np.isfinite(e), e, 0.0))
    same_inf = np.isinf(g) & np.isinf(e) & (np.sign(g) == np.sign(e))
    ok = (err <= tol) | same_inf
    bad_rows = np.where(~ok.all(axis=1))[0] if ok.ndim == 2 else np.where(~ok)[0]
    finite_err = err[np.isfinite(err) & ~same_inf]
    return {"passed": bool(ok.all()), "rows": n, "mismatched": int(len(bad_rows)),
            "max_abs_error": float(finite_err.max()) if finite_err.size else 0.0,
            "tolerance": {"rtol": rtol, "atol": atol},
            "first_mismatch_row": int(bad_rows[0]) if len(bad_rows) else None}
