"""Helpers for R frontend tests: fit models in the real R (through rpy2) at test time and
check parity of every built artifact against R's own predict() on a data frame's rows."""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import ALL, compile_and_check

rpy2 = pytest.importorskip("rpy2", reason="R tests need rpy2 (installed by make setup)")


def _ro():
    """rpy2.robjects, with R started through the frontend's bridge (which keeps R's library
    paths out of the environment of processes the tests start)."""
    from modelport.frontends.r import bridge
    return bridge.robjects()


def r(code: str):
    """Evaluate R code in the global environment; return the value of the last expression."""
    return _ro().r(code)


def write_rows(frame_code: str, path: Path) -> Path:
    """Write the data frame `frame_code` (R code) to a CSV file (NA as empty fields)."""
    ro = _ro()
    ro.r("function(d, p) utils::write.csv(d, p, row.names = FALSE, na = '')")(ro.r(frame_code), str(path))
    return path


def fit_and_check(fit_code: str, data_code: str, tmp_path: Path, targets=ALL, name: str = "rmodel",
                  save_rds: bool = False) -> dict:
    """Fit `fit_code` in R, compile it (or its saveRDS file), and check parity on the rows of
    the data frame `data_code`; returns the manifest."""
    ro = _ro()
    fit = ro.r(fit_code)
    data = write_rows(data_code, Path(tmp_path) / "rows.csv")
    model = fit
    if save_rds:
        model = Path(tmp_path) / f"{name}.rds"
        ro.r("function(m, p) saveRDS(m, p)")(fit, str(model))
    return compile_and_check(model, tmp_path, targets=targets, data=data, name=name)
