"""stats::nls: predict(fit, newdata), the right-hand side of the formula evaluated on the
data columns with the parameters bound to coef(fit), as predict.nls does.

The right-hand side is arithmetic and the functions formulas support (expr.py: `exp`, `log`,
`sqrt`, `^`, ...), or one of R's selfStart models, which are replaced by the formula their
function computes, operation for operation (`SSlogis(Time, Asym, xmid, scal)` is
`Asym / (1 + exp((xmid - Time) / scal))`): SSlogis, SSmicmen, SSasymp, SSasympOff,
SSasympOrig, SSbiexp, SSfpl, SSgompertz, SSweibull, SSfol. Refused: the "plinear" algorithm,
indexed parameters (`b[1]`), other functions and selfStart models, and symbols that are
neither parameters nor data columns. Input columns are the data variables of the formula;
the output is `prediction`.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge, expr
from .converted import Converted, value_output
from .terms import Frame

# R: each supported selfStart model as the expression its function evaluates (the same
# operations in the same order: see body(SSlogis)), in the names of its formal arguments.
R_SELF_START = r"""
list(
  SSlogis = quote(Asym / (1 + exp((xmid - input) / scal))),
  SSmicmen = quote((Vm * input) / (K + input)),
  SSasymp = quote(Asym + ((R0 - Asym) * exp(((-exp(lrc)) * input)))),
  SSasympOff = quote(Asym * (1 - exp(((-exp(lrc)) * (input - c0))))),
  SSasympOrig = quote(Asym * (1 - exp(((-exp(lrc)) * input)))),
  SSbiexp = quote((A1 * exp(((-exp(lrc1)) * input))) + (A2 * exp(((-exp(lrc2)) * input)))),
  SSfpl = quote(A + (B - A) / (1 + exp((xmid - input) / scal))),
  SSgompertz = quote(Asym * exp((-b2) * b3^x)),
  SSweibull = quote(Asym - (Drop * exp(-(exp(lrc) * x^pwr)))),
  SSfol = quote((Dose * exp((lKe + lKa) - lCl)) * (exp((-exp(lKe)) * input) - exp((-exp(lKa)) * input)) /
                (exp(lKa) - exp(lKe)))
)
"""

# R: the parameters, the data variables and the right-hand side (selfStart models expanded)
# serialized as expr.normalize reads it.
R_MODEL = r"""
function(f, models) {
  alg <- f$call$algorithm
  if (!is.null(alg) && identical(as.character(alg), "plinear"))
    stop("the plinear algorithm (its linear parameters are not in the formula) is not supported")
  form <- f$m$formula()
  rhs <- form[[length(form)]]
  expand <- function(e) {
    if (!is.call(e)) return(e)
    fn <- sub("^stats::", "", paste(deparse(e[[1]]), collapse = ""))
    if (fn %in% names(models)) {
      a <- as.list(match.call(get(fn, envir = asNamespace("stats")), e))[-1]
      return(expand(do.call(substitute, list(models[[fn]], a))))
    }
    for (i in seq_along(e)[-1]) if (!is.null(e[[i]])) e[[i]] <- expand(e[[i]])
    e
  }
  ser <- function(e) {
    if (is.symbol(e)) return(list(kind = "sym", name = as.character(e)))
    if (is.call(e)) {
      args <- as.list(e)[-1]
      nm <- names(args); if (is.null(nm)) nm <- rep("", length(args))
      return(list(kind = "call", fn = paste(deparse(e[[1]]), collapse = ""), args = unname(lapply(args, ser)),
                  names = nm))
    }
    if (is.numeric(e) || is.logical(e)) return(list(kind = "num", value = as.numeric(e), logical = is.logical(e)))
    stop("unsupported element of type ", typeof(e), " in the formula")
  }
  p <- f$m$getPars()
  list(rhs = ser(expand(rhs)), pars = unname(as.numeric(p)), names = names(p),
       data = names(f$dataClasses), classes = unname(f$dataClasses))
}
"""

R_PREDICT = "function(f, d) as.numeric(predict(f, newdata = d))"

SELF_START = ("SSlogis", "SSmicmen", "SSasymp", "SSasympOff", "SSasympOrig", "SSbiexp", "SSfpl", "SSgompertz",
              "SSweibull", "SSfol")
# the functions expr.py evaluates outside model-matrix helpers (poly, scale, splines)
FUNCTIONS = ("+", "-", "*", "/", "^", "(", "I", "log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs")


class Bound:
    """The frame's columns, and the parameters as constants, for expr.evaluate (which reads
    symbols through `numeric_column`)."""

    def __init__(self, frame: Frame, params: dict):
        self.frame, self.g, self.params = frame, frame.g, params

    def numeric_column(self, name: str) -> str:
        if name in self.params:
            return self.g.const(np.array([[self.params[name]]], dtype=np.float64))
        return self.frame.numeric_column(name)


def _check(e, params: dict, data: list) -> None:
    """Refuse what the formula holds beyond arithmetic, expr.py's functions, parameters and data."""
    if e["kind"] == "sym":
        if e["name"] not in params and e["name"] not in data:
            raise UnsupportedError(f"the nls formula reads {e['name']!r}, which is neither a parameter "
                                   f"({', '.join(params)}) nor a data column: supported are formulas of "
                                   "parameters and data columns")
    elif e["kind"] == "call":
        if e["fn"] == "[":
            raise UnsupportedError("nls with indexed parameters (b[1], a[group]) is not supported; "
                                   "supported are one-number parameters")
        if e["fn"] not in FUNCTIONS:
            raise UnsupportedError(f"the function {e['fn']}() in the nls formula is not supported; supported: "
                                   f"{', '.join(FUNCTIONS)} and the selfStart models {', '.join(SELF_START)}")
        for a in e["args"]:
            _check(a, params, data)


def convert(fit, g) -> Converted:
    models = bridge.function(R_SELF_START)
    try:
        m = bridge.py(bridge.call(R_MODEL, fit, models))
    except bridge.RError as exc:
        raise UnsupportedError(f"this nls fit is not supported: {exc}") from None
    rhs = expr.normalize(m["rhs"])
    values = np.asarray(m["pars"], dtype=np.float64).reshape(-1)
    params = dict(zip(list(m["names"]), values))
    data = list(m["data"] or [])
    classes = dict(zip(data, list(m["classes"] or [])))
    _check(rhs, params, data)
    columns = [s for s in expr.symbols(rhs) if s not in params]
    if not columns:
        raise UnsupportedError("an nls formula that reads no data column (a constant) is not supported")
    for col in columns:
        if classes.get(col) not in ("numeric", "integer", None):
            raise UnsupportedError(f"the nls formula reads {col!r} of class {classes[col]}: supported are "
                                   "numeric columns")
    frame = Frame.from_columns(g, columns)
    y, _ = expr.evaluate(Bound(frame, params), rhs, "the nls formula")
    outputs = value_output(g, y, "prediction")

    def reference(df):
        p = bridge.py(bridge.call(R_PREDICT, fit, df))
        return {"prediction": np.asarray(p, dtype=np.float64).reshape(-1, 1)}
    return Converted(frame, outputs, "regressor", reference,
                     description=f"nls ({len(params)} parameters: {', '.join(params)})")
