"""Formulas and data frames: R's model frame and model matrix, rebuilt as ONNX.

A fitted model's `terms` say which variables it reads (expressions over the data frame's
columns, with the data-dependent parts such as poly() coefficients or scale() centers
recorded in "predvars"), how factors are coded (contrasts) and which products of
variables form the model matrix. `Frame` evaluates the variables from the original
columns; `Frame.matrix` builds model-matrix columns and checks their names against the
names R gave them, so that a coding we do not reproduce is an error, never a silent
difference.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge, expr
from .graph import DOUBLE, FLOAT, STRING, Graph

# R: everything about a terms object that the model matrix depends on.
R_TERMS = r"""
function(tt, xlevels, contrasts, oc) {
  offset_call <- if (length(oc)) oc[[1]] else NULL
  # A spline basis (splines::ns/bs with its recorded knots) is a polynomial of degree <= 3
  # between consecutive knots, and beyond the boundary knots: its coefficients per piece
  # (in powers of x - center) come from R's own basis at a few points of each piece.
  pieces <- function(e) {
    f <- e; f[[2]] <- quote(.mp_x)
    kn <- sort(unique(c(as.numeric(e$Boundary.knots), as.numeric(e$knots))))
    deg <- if (!is.null(e$degree)) as.integer(e$degree) else 3L
    brk <- c(-Inf, kn, Inf)
    span <- if (length(kn) > 1) diff(range(kn)) else 1
    centers <- numeric(0); coef <- list()
    for (i in seq_len(length(brk) - 1)) {
      lo <- brk[i]; hi <- brk[i + 1]
      if (is.infinite(lo)) { c0 <- hi; pts <- hi - span * (1:(deg + 1)) / (deg + 1) }
      else if (is.infinite(hi)) { c0 <- lo; pts <- lo + span * (1:(deg + 1)) / (deg + 1) }
      else { c0 <- (lo + hi) / 2; pts <- lo + (hi - lo) * (1:(deg + 1)) / (deg + 2) }
      B <- suppressWarnings(eval(f, list(.mp_x = pts), asNamespace("splines")))
      V <- outer(pts - c0, 0:deg, "^")
      centers <- c(centers, c0)
      coef[[i]] <- unname(solve(V, unclass(B)[, , drop = FALSE]))
    }
    cn <- colnames(B); if (is.null(cn)) cn <- as.character(seq_len(ncol(B)))
    list(breaks = brk, centers = centers, coef = coef, names = cn)
  }
  ser <- function(e) {
    if (is.symbol(e)) return(list(kind = "sym", name = as.character(e)))
    if (is.call(e)) {
      a <- as.list(e)
      args <- a[-1]
      nm <- names(args); if (is.null(nm)) nm <- rep("", length(args))
      fn <- paste(deparse(a[[1]]), collapse = "")
      out <- list(kind = "call", fn = fn, args = unname(lapply(args, ser)), names = nm)
      if (fn %in% c("ns", "bs", "splines::ns", "splines::bs")) out$pieces <- pieces(e)
      return(out)
    }
    if (is.list(e)) {
      nm <- names(e); if (is.null(nm)) nm <- rep("", length(e))
      return(list(kind = "list", items = unname(lapply(e, ser)), names = nm))
    }
    if (is.numeric(e) || is.logical(e)) return(list(kind = "num", value = as.numeric(e), logical = is.logical(e)))
    if (is.character(e)) return(list(kind = "str", value = e))
    if (is.null(e)) return(list(kind = "null"))
    stop("unsupported element of type ", typeof(e), " in the formula")
  }
  lab <- function(e) paste(deparse(e, width.cutoff = 500L), collapse = " ")
  vars <- as.list(attr(tt, "variables"))[-1]
  pv <- attr(tt, "predvars"); if (is.null(pv)) pv <- attr(tt, "variables")
  pv <- as.list(pv)[-1]
  labels <- vapply(vars, lab, "")
  dc <- attr(tt, "dataClasses")
  classes <- if (is.null(dc)) rep(NA_character_, length(labels)) else unname(dc[labels])
  fac <- attr(tt, "factors")
  resp <- attr(tt, "response")
  if (length(fac) && attr(tt, "intercept") == 0) {
    # Without an intercept, model.matrix codes the first factor of the first term that has
    # one by all its levels (modelmatrix() in R's C code).
    fcls <- c("factor", "ordered", "character", "logical")
    isf <- rownames(fac) %in% c(names(xlevels), if (!is.null(dc)) names(dc)[dc %in% fcls])
    done <- FALSE
    for (j in seq_len(ncol(fac))) for (i in seq_len(nrow(fac)))
      if (!done && isf[i] && fac[i, j] > 0) { fac[i, j] <- 2L; done <- TRUE }
  }
  ctr <- list()
  for (v in names(xlevels)) {
    lv <- xlevels[[v]]
    cls <- if (is.null(dc) || is.na(dc[v])) "factor" else dc[[v]]
    f <- factor(lv, levels = lv, ordered = identical(cls, "ordered"))
    if (!is.null(contrasts[[v]]) && length(lv) > 1) contrasts(f) <- contrasts[[v]]
    full <- contrasts(f, contrasts = FALSE)
    cm <- if (length(lv) > 1) contrasts(f) else full
    cn <- colnames(cm); if (is.null(cn)) cn <- as.character(seq_len(ncol(cm)))
    ctr[[v]] <- list(matrix = unname(cm), names = cn)
  }
  list(variables = unname(lapply(pv, ser)), labels = labels, classes = classes,
       factors = if (length(fac)) unname(fac) else NULL,
       term_labels = attr(tt, "term.labels"),
       factor_vars = if (length(fac)) rownames(fac) else character(0),
       intercept = attr(tt, "intercept"), response = resp,
       offsets = attr(tt, "offset"),
       offset_call = if (is.null(offset_call)) NULL else ser(offset_call),
       contrasts = ctr, xlevels = xlevels)
}
"""

FACTOR_CLASSES = ("factor", "ordered", "character", "logical")

# R: the training values of numeric columns, where R can still find them (the data the model
# was fitted on, when it can be evaluated, or the model frame the fit kept).
R_SAMPLES = r"""
function(fit, cols) {
  # Only a plain name is looked up: evaluating any other expression kept in a model's call
  # (read.csv(...), or worse) would run code from the model file.
  lookup <- function(e) {
    if (!is.name(e)) return(NULL)
    env <- tryCatch(environment(stats::formula(fit)), error = function(err) globalenv())
    if (is.null(env)) env <- globalenv()
    v <- tryCatch(get(as.character(e), envir = env), error = function(err) NULL)
    if (is.matrix(v)) v <- as.data.frame(v)
    if (is.data.frame(v)) v else NULL
  }
  d <- if (is.list(fit) && !is.null(fit$call)) lookup(fit$call$data) else NULL
  if (is.null(d) && is.list(fit) && !is.null(fit$call)) d <- lookup(fit$call$x)
  mf <- if (is.list(fit) && is.data.frame(fit$model)) fit$model else NULL
  out <- list()
  for (c in cols) {
    v <- NULL
    if (!is.null(d) && c %in% names(d)) v <- d[[c]] else if (!is.null(mf) && c %in% names(mf)) v <- mf[[c]]
    if (!is.null(v) && (is.numeric(v) || is.logical(v))) out[[c]] <- as.numeric(v[!is.na(v)])
  }
  out
}
"""


@dataclass
class Column:
    """One input column of the data frame (the CSV column)."""
    name: str
    kind: str  # "number" | "string"
    tensor: str
    levels: list = field(default_factory=list)


@dataclass
class Variable:
    """A model-frame variable: numeric columns [N, k] with names, or a factor."""
    label: str
    value: str | None = None  # numeric: double [N, k]
    names: list = field(default_factory=list)
    levels: list | None = None  # factor: its levels
    onehot: str | None = None  # factor: double [N, K] indicators
    missing: str | None = None  # factor: bool [N, 1], the value is NA


class Frame:
    """The data frame columns a model reads, and the model frame/matrix built from them."""

    def __init__(self, g: Graph, info: dict):
        self.g = g
        self.info = info
        self.columns: dict[str, Column] = {}
        self._values: dict[str, str] = {}
        self._vars: dict[str, Variable] = {}
        self.exact: dict[str, list] = {}  # numeric columns read only as factors: their level values
        self._virtual: dict[str, Column] = {}  # columns a wrapping model computes (Graph.upstream)

    # ---- construction -------------------------------------------------------------------
    @staticmethod
    def from_terms(g: Graph, terms, xlevels=None, contrasts=None, offset_call=None) -> "Frame":
        """offset_call: an R list holding the offset= argument of the call (a language object), if any."""
        ro = bridge.robjects()
        info = bridge.py(bridge.call(R_TERMS, terms, xlevels if xlevels is not None else ro.ListVector({}),
                                     contrasts if contrasts is not None else ro.ListVector({}),
                                     offset_call if offset_call is not None else ro.ListVector({})))
        info["variables"] = [expr.normalize(v) for v in info["variables"]]
        if info.get("offset_call"):
            info["offset_call"] = expr.normalize(info["offset_call"])
        for key in ("labels", "classes", "term_labels", "factor_vars"):
            info[key] = list(info.get(key) or [])
        frame = Frame(g, info)
        frame._declare_columns()
        return frame

    @staticmethod
    def from_columns(g: Graph, numeric: list, factors: dict | None = None) -> "Frame":
        """A frame of plain columns (matrix interfaces): numeric names, and factor name -> levels."""
        frame = Frame(g, {"variables": [], "labels": [], "classes": [], "xlevels": factors or {},
                          "contrasts": {}})
        for n in numeric:
            frame._column(n, "number")
        for n, lv in (factors or {}).items():
            frame._column(n, "string", list(lv))
        return frame

    def _predictor_indices(self):
        resp = int(bridge.scalar(self.info.get("response"), 0))
        offs = set(bridge.ints(self.info.get("offsets")))
        return [i for i in range(len(self.info["labels"])) if i + 1 != resp and i + 1 not in offs]

    def _declare_columns(self):
        labels, classes = self.info["labels"], self.info["classes"]
        xlevels = self.info.get("xlevels") or {}
        wanted = self._predictor_indices() + [o - 1 for o in bridge.ints(self.info.get("offsets"))]
        for i in wanted:
            var, cls = self.info["variables"][i], classes[i]
            if var["kind"] == "sym" and (cls in FACTOR_CLASSES or labels[i] in xlevels):
                lv = xlevels.get(labels[i])
                if cls == "logical" and lv is None:
                    lv = ["FALSE", "TRUE"]
                self._column(var["name"], "string", list(lv or []))
            else:
                for sym in expr.symbols(var):
                    self._column(sym, "number")
        if self.info.get("offset_call"):
            for sym in expr.symbols(self.info["offset_call"]):
                self._column(sym, "number")

    def _column(self, name, kind, levels=None):
        old = self.columns.get(name) or self._virtual.get(name)
        if old is not None:
            if old.kind != kind:
                raise UnsupportedError(f"column {name!r} is used both as a number and as a factor in the formula")
            return old
        upstream = getattr(self.g, "upstream", None)
        if upstream is not None:
            # A wrapped model (caret's finalModel) reads columns its wrapper computes.
            col = Column(name, kind, None, levels or [])
            self._virtual[name] = col
            if kind == "number":
                self._values[name] = upstream(name, "number", None)
            else:
                self._vars[f"factor:{name}"] = upstream(name, "string", list(levels or []))
            return col
        number = self.g.number
        tensor = self.g.input(STRING if kind == "string" else number)
        col = Column(name, kind, tensor, levels or [])
        self.columns[name] = col
        if kind == "number":
            self._values[name] = tensor if number == DOUBLE else self.g.to_double(tensor)
        return col

    def known_columns(self) -> dict:
        """The input columns, and the columns a wrapping model computes (Graph.upstream)."""
        return {**self.columns, **self._virtual}

    # ---- the model frame ----------------------------------------------------------------
    def numeric_column(self, name: str) -> str:
        """The double [N, 1] value of a numeric input column."""
        col = self._column(name, "number")
        if col.kind != "number":
            raise UnsupportedError(f"column {name!r} is a factor where a number is needed")
        return self._values[name]

    def float_column(self, name: str) -> str:
        """The float [N, 1] value of a numeric column (the input tensor itself when it is a
        float32 one)."""
        value = self.numeric_column(name)
        col = self.columns.get(name)
        return col.tensor if col is not None and self.g.number == FLOAT else self.g.to_float(value)

    def factor_column(self, name: str, levels: list) -> Variable:
        """A string input column read as a factor with these levels."""
        col = self._column(name, "string", list(levels))
        key = f"factor:{name}"
        if key not in self._vars:
            self._vars[key] = self._encode_strings(name, col.tensor, list(levels))
        return self._vars[key]

    def _encode_strings(self, label, tensor, levels) -> Variable:
        g = self.g
        if "" in levels:
            raise UnsupportedError(f"factor {label!r} has the empty string as a level: it cannot be told "
                                   "apart from a missing value in CSV input")
        hot = g.op("OneHotEncoder", tensor, domain="ai.onnx.ml", cats_strings=list(levels) + [""], zeros=1)
        hot = g.op("Reshape", hot, g.const(np.array([-1, len(levels) + 1], dtype=np.int64), np.int64))
        hot = g.to_double(hot)
        onehot = g.columns(hot, list(range(len(levels))))
        missing = g.op("Greater", g.columns(hot, [len(levels)]), g.const(np.array([[0.5]])))
        return Variable(label, levels=list(levels), onehot=onehot, missing=missing)

    def variable(self, label: str) -> Variable:
        if label in self._vars:
            return self._vars[label]
        labels = self.info["labels"]
        if label not in labels:
            col = self.known_columns().get(label)
            if col is None and getattr(self.g, "upstream", None) is not None and not labels:
                col = self._column(label, "number")
            if col is None:
                raise UnsupportedError(f"the model refers to {label!r}, which is not a variable of its formula")
            if col.kind == "number":
                return Variable(label, value=self.numeric_column(label), names=[""])
            v = self.factor_column(label, col.levels)
            return Variable(label, levels=v.levels, onehot=v.onehot, missing=v.missing)
        i = labels.index(label)
        var, cls = self.info["variables"][i], self.info["classes"][i]
        xlevels = self.info.get("xlevels") or {}
        if label in xlevels or cls in FACTOR_CLASSES:
            levels = list(xlevels.get(label) or (["FALSE", "TRUE"] if cls == "logical" else []))
            if var["kind"] == "sym":
                v = self.factor_column(var["name"], levels)
                v = Variable(label, levels=v.levels, onehot=v.onehot, missing=v.missing)
            else:
                v = self._numeric_factor(label, var, levels)
        else:
            value, names = expr.evaluate(self, var, label)
            v = Variable(label, value=value, names=names)
        self._vars[label] = v
        return v

    def _numeric_factor(self, label, var, levels) -> Variable:
        """factor(x) / as.factor(x) of a numeric column: levels are the numbers' R text."""
        if not (var["kind"] == "call" and var["fn"] in ("factor", "as.factor", "ordered", "as.ordered")
                and var["args"] and var["args"][0]["kind"] == "sym"):
            raise UnsupportedError(f"cannot translate the factor {label!r}: supported are factor columns and "
                                   "factor(x)/as.factor(x) of a numeric column")
        try:
            values = [float(lv) for lv in levels]
        except ValueError:
            raise UnsupportedError(f"cannot translate {label!r}: its levels {levels} are not numbers") from None
        g = self.g
        x = self.numeric_column(var["args"][0]["name"])
        self.exact[var["args"][0]["name"]] = values
        eq = g.op("Equal", x, g.const(np.array([values])))
        onehot = g.to_double(eq)
        # NA, or a number that is not a level (R's predict() stops there): the row gives NA.
        missing = g.op("Less", g.matmul(onehot, g.const(np.ones((len(values), 1)))), g.const(np.array([[0.5]])))
        return Variable(label, levels=list(levels), onehot=onehot, missing=missing)

    # ---- the model matrix ---------------------------------------------------------------
    def coded(self, label: str, full: bool):
        """(value [N, c], names) of one variable as model.matrix codes it."""
        v = self.variable(label)
        if v.levels is None:
            return v.value, [label + n for n in v.names]
        g = self.g
        if full:
            value, names = v.onehot, [label + lv for lv in v.levels]
        else:
            c = self.info["contrasts"].get(label)
            if c is None:
                raise UnsupportedError(f"no contrasts recorded for the factor {label!r}")
            cm = np.asarray(c["matrix"], dtype=np.float64).reshape(len(v.levels), -1)
            value, names = g.matmul(v.onehot, g.const(cm)), [label + n for n in c["names"]]
        nan = g.const(np.array([[np.nan]]))
        return g.op("Where", v.missing, nan, value), names

    def term(self, j: int):
        """(value [N, c], names) of term j (1-based column of the factors matrix)."""
        fac = np.asarray(self.info["factors"]).reshape(len(self.info["factor_vars"]), -1)
        value, names = None, None
        for i, code in enumerate(fac[:, j - 1]):
            if code == 0:
                continue
            v, n = self.coded(self.info["factor_vars"][i], full=(code == 2))
            value, names = (v, n) if value is None else self._product(value, names, v, n)
        return value, names

    def _product(self, a, an, b, bn):
        """Columns a_i * b_j, the first factor varying fastest (as model.matrix orders them)."""
        p, q = len(an), len(bn)
        g = self.g
        ea = np.zeros((p, p * q))
        eb = np.zeros((q, p * q))
        for j in range(q):
            for i in range(p):
                ea[i, j * p + i] = 1.0
                eb[j, j * p + i] = 1.0
        av = a if q == 1 else g.matmul(a, g.const(ea))
        bv = b if p == 1 else g.matmul(b, g.const(eb))
        return g.mul(av, bv), [f"{x}:{y}" for y in bn for x in an]

    def matrix(self, want: list):
        """The model-matrix columns named `want` (R's names, in that order; no intercept) as
        double [N, len(want)]."""
        have_v, have_n = [], []
        for j in range(1, len(self.info.get("term_labels") or []) + 1):
            v, n = self.term(j)
            have_v.append(v)
            have_n.extend(n)
        missing = [w for w in want if w not in have_n]
        if missing:
            raise UnsupportedError(
                "cannot rebuild the model-matrix column(s) " + ", ".join(repr(m) for m in missing) +
                " from the formula (built: " + (", ".join(repr(h) for h in have_n) or "none") + ")")
        if not want:
            raise UnsupportedError("the model has no predictor columns (an intercept-only model)")
        full = self.g.concat(have_v)
        idx = [have_n.index(w) for w in want]
        if idx == list(range(len(have_n))):
            return full
        return self.g.columns(full, idx)

    def samples(self, fit) -> dict:
        """{column: {"values", "exact"}} for parity rows: training values where R has them."""
        ro = bridge.robjects()
        numeric = [c.name for c in self.columns.values() if c.kind == "number"]
        found = bridge.py(bridge.call(R_SAMPLES, fit, ro.StrVector(numeric))) if numeric else None
        out = {k: {"values": np.asarray(v, dtype=np.float64).reshape(-1), "exact": False}
               for k, v in (found or {}).items() if np.asarray(v).size}
        for k, v in self.exact.items():
            out[k] = {"values": np.asarray(v, dtype=np.float64), "exact": True}
        return out

    def offset(self):
        """The offset terms and offset= argument summed, as double [N, 1], or None."""
        parts = []
        for o in bridge.ints(self.info.get("offsets")):
            var = self.info["variables"][o - 1]
            inner = var["args"][0] if var["kind"] == "call" and var["fn"] == "offset" else var
            parts.append(expr.evaluate(self, inner, self.info["labels"][o - 1])[0])
        if self.info.get("offset_call"):
            parts.append(expr.evaluate(self, self.info["offset_call"], "offset")[0])
        if not parts:
            return None
        total = parts[0]
        for p in parts[1:]:
            total = self.g.add(total, p)
        return total
