"""The bridge to R: starts R through rpy2 (lazily), runs R code, and turns R values into
Python ones. Everything the R frontend asks of R goes through here."""
from __future__ import annotations

import functools

import numpy as np

from modelport.errors import UnsupportedError, UsageError

SETUP_HINT = ("R and rpy2 are installed by `make setup` (Debian: apt-get install r-base-core r-base-dev; "
              "pip install rpy2==3.5.17, as pinned in requirements.lock)")


class RError(Exception):
    """R signalled an error; the message is R's."""


@functools.lru_cache(maxsize=None)
def robjects():
    import os
    # Without TZ, R asks timedatectl (absent in containers) for the time zone and warns.
    os.environ.setdefault("TZ", "UTC")
    # Starting R puts R's library paths (the system's among them) into LD_LIBRARY_PATH; every
    # process started afterwards would inherit them (a child Python can then load the
    # system's libpython instead of its own). R has loaded what it needs: restore it.
    saved = os.environ.get("LD_LIBRARY_PATH")
    try:
        import rpy2.rinterface_lib.callbacks as callbacks
        import rpy2.robjects as ro
    except Exception as exc:  # ImportError, or R itself failing to load
        raise UsageError(f"R models need R and rpy2, which could not be loaded ({str(exc).splitlines()[0]}). "
                         + SETUP_HINT) from None
    finally:
        if saved is None:
            os.environ.pop("LD_LIBRARY_PATH", None)
        else:
            os.environ["LD_LIBRARY_PATH"] = saved
    # R's console output (package start-up notes, warnings) is not ours to print.
    callbacks.consolewrite_print = lambda s: None
    callbacks.consolewrite_warnerror = lambda s: None
    return ro


@functools.lru_cache(maxsize=None)
def function(code: str):
    """An R function from its source text (compiled once)."""
    return robjects().r(code)


def call(code: str, *args, **kwargs):
    """Call the R function `code` (source text); R errors become RError."""
    from rpy2.rinterface_lib.embedded import RRuntimeError
    try:
        return function(code)(*args, **kwargs)
    except RRuntimeError as exc:
        raise RError(str(exc).strip().removeprefix("Error in").strip()) from None


def require(package: str, what: str):
    """Load an R package, or say which one is missing and how to get it."""
    ok = call("function(p) suppressWarnings(suppressPackageStartupMessages(requireNamespace(p, quietly = TRUE)))",
              package)
    if not bool(ok[0]):
        raise UsageError(f"{what} needs the R package {package!r}, which is not installed in R. Install it "
                         f"(Debian: apt-get install r-cran-{package.lower()}; or install.packages({package!r}) "
                         "in R) and try again.")
    call("function(p) suppressPackageStartupMessages(loadNamespace(p))", package)


def r_version() -> str:
    return str(call("function() paste(R.version$major, R.version$minor, sep = '.')")[0])


def package_version(package: str) -> str:
    return str(call("function(p) as.character(utils::packageVersion(p))", package)[0])


def classes(obj) -> list:
    return [str(c) for c in call("function(x) class(x)", obj)]


def is_r_object(obj) -> bool:
    try:
        import rpy2.rinterface as ri
    except Exception:
        return False
    return isinstance(obj, ri.Sexp)


def read_rds(path) -> object:
    try:
        return call("function(p) readRDS(p)", str(path))
    except RError as exc:
        raise UsageError(f"cannot read {path} as an R data file (saveRDS): {exc}") from None


def py(x):
    """An R value as Python: NULL -> None, named list -> dict, list -> list, vectors -> numpy arrays
    (matrices keep their shape; character vectors become lists of str, NA as None)."""
    import rpy2.rinterface as ri
    if x is ri.NULL or x is None:
        return None
    if isinstance(x, ri.ListSexpVector):
        items = [py(v) for v in x]
        names = _names(x)
        if names is not None and any(names):
            return dict(zip(names, items))
        return items
    if isinstance(x, ri.StrSexpVector):
        return [None if v is ri.NA_Character else str(v) for v in x]
    if isinstance(x, (ri.FloatSexpVector, ri.IntSexpVector, ri.BoolSexpVector)):
        if isinstance(x, ri.FloatSexpVector):
            arr = np.array(x, dtype=np.float64)
        else:
            na = ri.NA_Integer if isinstance(x, ri.IntSexpVector) else ri.NA_Logical
            arr = np.array([np.nan if v is na or v == na else float(v) for v in x], dtype=np.float64)
        dim = _attr(x, "dim")
        if dim is not None and len(dim) == 2:
            arr = arr.reshape((int(dim[0]), int(dim[1])), order="F")
        return arr
    if isinstance(x, ri.SexpSymbol):
        return str(x)
    raise UnsupportedError(f"unexpected R value of type {type(x).__name__}")


def _attr(x, name):
    import rpy2.rinterface as ri
    v = x.do_slot(name) if name in list(x.list_attrs()) else ri.NULL
    return None if v is ri.NULL else list(v)


def _names(x):
    n = _attr(x, "names")
    return None if n is None else [str(v) for v in n]


def data_frame(columns: dict, kinds: dict, levels: dict | None = None):
    """An R data.frame from {name: array}; kinds[name] is "number" or "string" ("" is NA).
    String columns with `levels` become factors with exactly those levels (unknown values
    are an error, as they are in R's predict())."""
    ro = robjects()
    cols = {}
    for name, values in columns.items():
        if kinds[name] == "string":
            vals = [None if v is None or v == "" else str(v) for v in np.asarray(values, dtype=object).reshape(-1)]
            vec = ro.StrVector([ro.NA_Character if v is None else v for v in vals])
            lv = (levels or {}).get(name)
            if lv is not None:
                unknown = sorted({v for v in vals if v is not None and v not in set(lv)})
                if unknown:
                    raise RError(f"factor {name} has new level(s) {', '.join(unknown)}")
                vec = call("function(x, l) factor(x, levels = l)", vec, ro.StrVector(list(lv)))
            cols[name] = vec
        else:
            vals = np.asarray(values, dtype=np.float64).reshape(-1)
            cols[name] = ro.FloatVector([ro.NA_Real if np.isnan(v) else float(v) for v in vals])
    return call("function(cols, names) { d <- as.data.frame(cols, stringsAsFactors = FALSE, optional = TRUE); "
                "names(d) <- names; d }", ro.ListVector(list(zip([f"c{i}" for i in range(len(cols))], cols.values()))),
                ro.StrVector(list(columns)))


def scalar(v, default=None):
    """The single element of a converted R vector (None for NULL)."""
    if v is None:
        return default
    if isinstance(v, list):
        return v[0] if v else default
    arr = np.asarray(v).reshape(-1)
    return arr[0].item() if arr.size else default


def ints(v) -> list:
    """A converted R numeric vector (or list of them) as a list of Python ints."""
    if v is None:
        return []
    if isinstance(v, list):
        return [int(scalar(x)) for x in v]
    return [int(x) for x in np.asarray(v).reshape(-1)]
