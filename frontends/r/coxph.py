"""survival::coxph: the linear predictor, the relative risk and survival probabilities, as
predict.coxph (type = "lp", "risk") and survfit.coxph (summary at given times) compute them.

lp: predict.coxph's default reference = "strata": (x - m) b, with m the fit's column means
(fit$means) or, in a stratified model, the weighted column means of the row's own stratum
in the training data; risk = exp(lp). survival at time t: survfit(fit, newdata) as
summary(..., times = t, extend = TRUE) gives it, S0(t)^r with r = exp(x b - sum(fit$means b))
and S0 = exp(-H0) the baseline of the row's stratum (Breslow, or Efron's correction for ties
= "efron", as survfit.coxph computes it; R computes S0 at the chosen times, which are
constants of the graph). The times are `attr(fit, "modelport.times") <- c(...)`, set before
saveRDS; default: the quartiles of the event times (quantile type 7).

Strata: strata() terms of plain columns; a numeric one matches a stratum where R's text of
the number (15 significant digits) is the stratum's. A row of no known stratum (NA) gives NA.
Refused: offsets, tt(), frailty/ridge/pspline terms, interactions with strata, multi-state
fits, fits without covariates.
"""
from __future__ import annotations

import struct

import numpy as np

from modelport.errors import UnsupportedError, UsageError

from . import bridge
from .converted import Converted, value_output
from .terms import Frame

# R: is rebuilding the fit's model frame (model.frame(fit), which survfit and stratified
# predictions do) safe? It evaluates the call's data and the formula: only names,
# pkg::name and arithmetic, comparisons and the formula functions are let through, never
# an arbitrary expression from the model file.
R_SAFE = r"""
function(f) {
  ok_fn <- c("Surv", "strata", "cluster", "+", "-", "*", "/", "^", "==", "!=", "<", "<=", ">", ">=",
             "&", "|", "!", "(", "%in%", "c", "is.na", "log", "log2", "log10", "log1p", "exp",
             "expm1", "sqrt", "abs", "I", "factor", "as.factor", "ordered", "as.numeric", "poly",
             "scale", "ns", "bs", "offset", "~", ":", "pmin", "pmax")
  safe <- function(e) {
    if (is.symbol(e) || is.numeric(e) || is.character(e) || is.logical(e) || is.null(e)) return(TRUE)
    if (!is.call(e)) return(FALSE)
    fn <- e[[1]]
    if (is.call(fn) && as.character(fn[[1]]) %in% c("::", ":::"))
      return(is.symbol(fn[[3]]) && as.character(fn[[3]]) %in% ok_fn && all(vapply(as.list(e)[-1], safe, TRUE)))
    if (!is.symbol(fn)) return(FALSE)
    if (as.character(fn) %in% c("::", ":::")) return(all(vapply(as.list(e)[-1], is.symbol, TRUE)))
    as.character(fn) %in% ok_fn && all(vapply(as.list(e)[-1], safe, TRUE))
  }
  if (is.data.frame(f$model)) return(TRUE)
  cl <- as.list(f$call)[-1]
  all(vapply(cl, safe, TRUE)) && safe(f$terms[[3]]) && safe(f$terms[[2]])
}
"""

# R: the terms without their strata() terms (which only pick a baseline or a scale), refusing
# interactions with them; pasted into the R functions of coxph and survreg.
R_WITHOUT_STRATA = r"""
  modelport_without_strata <- function(tt2) {
    st <- survival:::untangle.specials(tt2, "strata")
    if (!length(st$terms)) return(list(terms = tt2, vars = st$vars))
    fac <- attr(tt2, "factors")
    if (any(colSums(fac[st$vars, , drop = FALSE] > 0) > 0 & attr(tt2, "order") > 1))
      stop("unsupported: interactions with strata() terms")
    list(terms = tt2[-st$terms], vars = st$vars)
  }
"""

R_MODEL = r"""
function(f) {""" + R_WITHOUT_STRATA + r"""
  tt <- f$terms
  sp <- attr(tt, "specials")
  for (s in c("tt", "frailty", "ridge", "pspline"))
    if (length(sp[[s]])) stop("unsupported: ", s, "() terms")
  if (inherits(f, "coxphms")) stop("unsupported: multi-state coxph fits")
  if (inherits(f, "coxph.null") || !length(f$coefficients)) stop("unsupported: a coxph fit without covariates")
  if (!is.null(attr(tt, "offset"))) stop("unsupported: offsets")
  tt2 <- delete.response(tt)
  if (length(sp$cluster)) tt2 <- survival:::drop.special(tt2, attr(tt2, "specials")$cluster)
  st <- modelport_without_strata(tt2)
  tt2 <- st$terms
  b <- ifelse(is.na(f$coefficients), 0, f$coefficients)
  xl <- f$xlevels
  xl <- xl[!(names(xl) %in% st$vars)]
  list(model = list(coef = unname(b), names = names(f$coefficients), means = unname(f$means),
                    xcenter = sum(f$means * b), method = f$method, strata = st$vars),
       terms = tt2, xlevels = if (length(xl)) xl else list(), contrasts = f$contrasts)
}
"""

# R: the strata of the training data (as predict.coxph, survfit.coxph and predict.survreg take them), the
# plain column names inside each strata() term, and (coxph) the weighted column means of
# the model matrix per stratum, as predict.coxph centres a stratified fit.
R_STRATA = r"""
function(f, means) {
  tt <- f$terms
  vars <- as.list(attr(tt, "variables"))[-1][attr(tt, "specials")$strata]
  inner <- lapply(vars, function(e) {
    a <- as.list(e)[-1]
    if (!is.null(names(a)) && any(names(a) != "")) stop("unsupported: named arguments of strata()")
    if (!all(vapply(a, is.symbol, TRUE))) stop("unsupported: strata() of an expression (use plain columns)")
    vapply(a, as.character, "")
  })
  st <- survival:::untangle.specials(tt, "strata")
  mf <- stats::model.frame(f)
  old <- if (!is.null(f$strata)) f$strata else if (length(st$vars) == 1) mf[[st$vars]] else
    survival::strata(mf[, st$vars], shortlabel = TRUE)
  out <- list(levels = levels(old), inner = inner)
  if (means) {
    hw <- any(names(f$call) == "weights")
    if (is.null(f[["x"]]) || hw || is.null(f$strata)) {
      x <- model.matrix(f, data = mf)
      w <- model.weights(mf)
      if (is.null(w)) w <- rep(1, nrow(x))
    } else {
      x <- f[["x"]]
      w <- rep(1, nrow(x))
    }
    xm <- rowsum(x * w, old) / c(rowsum(w, old))
    out$xmeans <- unname(xm[match(levels(old), rownames(xm)), colnames(x)[colnames(x) %in% names(f$coefficients)],
                            drop = FALSE])
    out$xnames <- colnames(x)[colnames(x) %in% names(f$coefficients)]
  }
  out
}
"""

# R: the stratum each row of a data frame falls in, as predict.coxph/predict.survreg find it
# (strata() of the columns, combined by strata(..., shortlabel = TRUE)); and R's own text of
# numbers.
R_LABELS = r"""
function(inner, d) {
  ns <- asNamespace("survival")
  terms <- lapply(inner, function(v) eval(as.call(c(as.name("strata"), lapply(v, as.name))), d, ns))
  if (length(terms) == 1) return(as.character(terms[[1]]))
  mf <- as.data.frame(terms)
  as.character(survival::strata(mf, shortlabel = TRUE))
}
"""
R_TEXT = "function(x) as.character(x)"

R_TIMES = r"""
function(f) {
  y <- f[["y"]]
  if (is.null(y)) y <- model.response(stats::model.frame(f))
  k <- ncol(y)
  quantile(y[y[, k] == 1, k - 1], c(0.25, 0.5, 0.75), names = FALSE)
}
"""

# R: the baseline survival S0(t) = exp(-H0(t)) per stratum at the times (survfit without
# newdata: the curve at risk 1), as summary.survfit finds it at each time.
R_BASELINE = r"""
function(f, times, levels) {
  sf <- suppressWarnings(survival::survfit(f, se.fit = FALSE))
  s <- summary(sf, times = times, extend = TRUE)
  k <- length(times)
  if (is.null(s$strata)) return(matrix(s$surv, nrow = 1))
  out <- matrix(NA_real_, length(levels), k)
  st <- as.character(s$strata)
  for (i in seq_along(levels)) out[i, ] <- s$surv[st == levels[i]][seq_len(k)]
  out
}
"""

R_PREDICT = r"""
function(f, d, times, inner) {
  lp <- unname(predict(f, newdata = d, type = "lp"))
  risk <- unname(predict(f, newdata = d, type = "risk"))
  n <- nrow(d); k <- length(times)
  rownames(d) <- NULL
  surv <- matrix(NA_real_, n, k)
  # A row of no stratum (NA) has no curve: survfit stops there, so it is left out (NA).
  keep <- if (length(inner)) stats::complete.cases(d[, unlist(inner), drop = FALSE]) else rep(TRUE, n)
  if (any(keep)) {
    dk <- d[keep, , drop = FALSE]
    sf <- survival::survfit(f, newdata = dk, se.fit = FALSE, na.action = na.pass)
    s <- summary(sf, times = times, extend = TRUE)
    if (!is.null(s$strata)) {
      surv[cbind(as.integer(as.character(s$strata)), match(s$time, times))] <- s$surv
    } else {
      v <- matrix(s$surv, nrow = k)
      surv[as.integer(rownames(dk)), ] <- t(v)
    }
  }
  list(lp = lp, risk = risk, surv = surv)
}
"""

# R: predict() and survfit() evaluate the formula's strata() and Surv() where the fit was made,
# where library(survival) had put them: attach it, as every R session using these fits has it.
R_ATTACH = ('function() if (!("package:survival" %in% search())) '
            'suppressPackageStartupMessages(attachNamespace("survival"))')

R_OPTION = "function(f, n) { v <- attr(f, n); if (is.null(v)) NULL else as.numeric(v) }"


def option(fit, name: str, what: str, check=None):
    """attr(fit, name): a numeric vector of distinct finite values (None when not set)."""
    try:
        v = bridge.py(bridge.call(R_OPTION, fit, name))
    except bridge.RError:
        raise UsageError(f"attr(fit, {name!r}) must be a numeric vector of {what}") from None
    if v is None:
        return None
    v = np.asarray(v, dtype=np.float64).reshape(-1)
    if not v.size or not np.all(np.isfinite(v)) or len(set(v.tolist())) != v.size or (check and not check(v)):
        raise UsageError(f"attr(fit, {name!r}) must be a numeric vector of distinct {what}, not {v.tolist()}")
    return v


def label(v: float) -> str:
    """A number as an output-name suffix (survival_365, quantile_0.5)."""
    return format(float(v), ".15g")


def named_outputs(g, value, tensor: str, values) -> list:
    """Output `tensor` [N, k], its columns `<tensor>_<value>` for each value."""
    names = [label(v) for v in values]
    cols = value_output(g, value, tensor, len(names), names=names)
    if len(names) == 1:
        cols[0].name = f"{tensor}_{names[0]}"
    return cols


def attach_survival():
    bridge.call(R_ATTACH)


def require_safe_frame(fit, why: str):
    if not bool(bridge.py(bridge.call(R_SAFE, fit))[0]):
        raise UnsupportedError(f"{why} R rebuilds the fit's model frame from its call, which holds expressions "
                               "other than column names, pkg::name data sets and formula arithmetic; refit with "
                               "model = TRUE (the model frame is then kept in the fit) to convert it")


def training_strata(fit, means: bool) -> dict:
    """{"levels": the training strata, "inner": [[column] per strata() term], and with `means`
    "xmeans" [K, p], "xnames"} (R_STRATA)."""
    try:
        s = bridge.py(bridge.call(R_STRATA, fit, means))
    except bridge.RError as exc:
        msg = str(exc)
        if "unsupported: " in msg:
            raise UnsupportedError(msg.split("unsupported: ", 1)[1].strip() + " is not supported; strata() takes "
                                   "plain columns") from None
        raise
    s["levels"], s["inner"] = list(s["levels"]), [list(t) for t in s["inner"]]
    return s


# ---- strata -------------------------------------------------------------------------------
def _ordered(x: float) -> int:
    i = struct.unpack("<q", struct.pack("<d", x + 0.0))[0]
    return i if i >= 0 else -(i & 0x7FFFFFFFFFFFFFFF)


def _double(o: int) -> float:
    bits = o if o >= 0 else (-o) | (1 << 63)
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def text_interval(v: float) -> tuple:
    """(lo, hi): the doubles whose text at 15 significant digits is that of v (R's
    as.character of a number, which factor() and strata() match by)."""
    key = format(v + 0.0, ".14e")
    o = _ordered(v)

    def edge(sign):
        step = 1
        while format(_double(o + sign * step) + 0.0, ".14e") == key:
            step *= 2
        inside, outside = o + sign * (step // 2), o + sign * step
        while abs(outside - inside) > 1:
            mid = (inside + outside) // 2
            if format(_double(mid) + 0.0, ".14e") == key:
                inside = mid
            else:
                outside = mid
        return _double(inside)
    return edge(-1), edge(1)


def _parse_levels(levels: list, inner: list) -> list:
    """Each stratum's value text per inner column ([{column: text}]), from the stratum labels
    strata() wrote: "v=1, w=a" (a term with a numeric column) or "a, b" (factor columns only),
    terms joined by ", "."""
    names = [v for term in inner for v in term]
    if len(set(names)) != len(names):
        raise UnsupportedError("a column used in two strata() terms is not supported")
    pieces = [lv.split(", ") for lv in levels]
    if any(len(p) != len(names) for p in pieces):
        raise UnsupportedError("strata whose values hold ', ' are not supported")
    out = [dict() for _ in levels]
    pos = 0
    for term in inner:
        prefixed = all(p[pos].startswith(term[0] + "=") for p in pieces)
        for j, v in enumerate(term):
            for k, p in enumerate(pieces):
                text = p[pos + j]
                if prefixed:
                    if not text.startswith(v + "="):
                        raise UnsupportedError(f"cannot read the strata labels of strata({', '.join(term)})")
                    text = text[len(v) + 1:]
                    if j:
                        text = text.rstrip(" ")  # strata() pads later columns' labels to one width
                out[k][v] = (text, prefixed)
        pos += len(term)
    return out


def _check_bounds(column: str, numbers: list, bounds: list):
    """R's own text must be the same at both ends of each interval and differ just beyond."""
    ro = bridge.robjects()
    inside = [b for lh in bounds for b in lh]
    beyond = [x for lo, hi in bounds for x in (np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf))]
    text = list(bridge.call(R_TEXT, ro.FloatVector(numbers)))
    a = list(bridge.call(R_TEXT, ro.FloatVector(inside)))
    b = list(bridge.call(R_TEXT, ro.FloatVector(beyond)))
    want = [t for t in text for _ in (0, 1)]
    if a != want or any(x == y for x, y in zip(b, want)):
        raise UnsupportedError(f"R writes the strata values of {column!r} with more than 15 significant digits; "
                               "numeric strata of such values are not supported")


def strata_indicator(frame: Frame, g, levels: list, inner: list):
    """(S [N, K] double: 1 in the column of the row's stratum, none: bool [N, 1], the row is in
    no stratum) for the strata `levels` and the columns of each strata() term."""
    ro = bridge.robjects()
    parsed = _parse_levels(levels, inner)
    columns = [v for term in inner for v in term]
    kinds, values = {}, {}
    for v in columns:
        texts = [p[v][0] for p in parsed]
        numeric = all(p[v][1] for p in parsed)
        if numeric:
            try:
                nums = [float(t) for t in texts]
            except ValueError:
                numeric = False
            else:
                back = list(bridge.call(R_TEXT, ro.FloatVector(nums)))
                numeric = back == texts
        kinds[v] = "number" if numeric else "string"
        values[v] = [float(t) for t in texts] if numeric else texts
    # R itself must put one row of each stratum's values in that stratum.
    cols = {}
    for v in columns:
        if kinds[v] == "number":
            cols[v] = ro.FloatVector(values[v])
        else:
            known = frame.columns.get(v)
            lv = list(known.levels) if known is not None and known.levels else list(dict.fromkeys(values[v]))
            cols[v] = bridge.call("function(x, l) factor(x, levels = l)", ro.StrVector(values[v]), ro.StrVector(lv))
    df = bridge.call("function(cols) as.data.frame(cols, stringsAsFactors = FALSE, optional = TRUE)",
                     ro.ListVector(list(cols.items())))
    r_inner = ro.ListVector([(str(i), ro.StrVector(t)) for i, t in enumerate(inner)])
    try:
        got = list(bridge.call(R_LABELS, r_inner, df))
    except bridge.RError as exc:
        raise UnsupportedError(f"cannot rebuild the strata in R: {exc}") from None
    if got != list(levels):
        raise UnsupportedError("cannot rebuild the strata from their labels (" + ", ".join(levels) + ")")
    K = len(levels)
    S = None
    for v in columns:
        if kinds[v] == "number":
            x = frame.numeric_column(v)
            bounds = [text_interval(n) for n in values[v]]
            _check_bounds(v, values[v], bounds)
            lo = g.const(np.array([[b[0] for b in bounds]]))
            hi = g.const(np.array([[b[1] for b in bounds]]))
            ind = g.to_double(g.op("And", g.op("GreaterOrEqual", x, lo), g.op("LessOrEqual", x, hi)))
            frame.exact[v] = sorted(set(values[v]))
        else:
            known = frame.columns.get(v)
            lv = list(known.levels) if known is not None and known.levels else list(dict.fromkeys(values[v]))
            var = frame.factor_column(v, lv)
            M = np.array([[1.0 if lvl == t else 0.0 for t in values[v]] for lvl in var.levels])
            ind = g.matmul(var.onehot, g.const(M.reshape(len(var.levels), K)))
        S = ind if S is None else g.mul(S, ind)
    total = g.matmul(S, g.const(np.ones((K, 1))))
    none = g.op("Less", total, g.const(np.array([[0.5]])))
    return S, none


def nan_where(g, none, value):
    """value, NA in the rows of no stratum."""
    return g.op("Where", none, g.const(np.array([[np.nan]])), value)


# ---- coxph --------------------------------------------------------------------------------
def _model(fit):
    try:
        return bridge.call(R_MODEL, fit)
    except bridge.RError as exc:
        msg = str(exc)
        if "unsupported: " in msg:
            raise UnsupportedError("coxph with " + msg.split("unsupported: ", 1)[1].strip() + " is not supported; "
                                   "supported: coxph with numeric and factor covariates, interactions and formula "
                                   "transforms, strata() of columns, weights, ties efron, breslow or exact") from None
        raise


def convert(fit, g) -> Converted:
    attach_survival()
    rm = _model(fit)
    get = bridge.function("function(f, n) f[[n]]")
    m = bridge.py(get(rm, "model"))
    beta = np.asarray(m["coef"], dtype=np.float64).reshape(-1)
    names = list(m["names"])
    means = np.asarray(m["means"], dtype=np.float64).reshape(-1)
    xcenter = float(bridge.scalar(m["xcenter"]))
    method = str(bridge.scalar(m["method"]))
    stratified = bool(m["strata"])
    contrasts = get(rm, "contrasts")
    frame = Frame.from_terms(g, get(rm, "terms"), get(rm, "xlevels"),
                             None if contrasts is bridge.robjects().NULL else contrasts)
    require_safe_frame(fit, "The survival curves of coxph need R's survfit, and")
    times = option(fit, "modelport.times", "finite times")
    if times is None:
        times = np.asarray(bridge.py(bridge.call(R_TIMES, fit)), dtype=np.float64).reshape(-1)
        times = np.array(sorted(set(times.tolist())))
    x = frame.matrix(names)
    xb = g.matmul(x, g.const(beta.reshape(-1, 1)))
    ro = bridge.robjects()
    inner = []
    if stratified:
        s = training_strata(fit, means=True)
        levels, inner = s["levels"], s["inner"]
        xmeans = np.asarray(s["xmeans"], dtype=np.float64).reshape(len(levels), -1)
        if list(s["xnames"]) != names:
            raise UnsupportedError("cannot match the per-stratum means to the coefficients")
        S, none = strata_indicator(frame, g, levels, inner)
        centred = g.sub(x, g.matmul(S, g.const(xmeans)))
        lp = nan_where(g, none, g.matmul(centred, g.const(beta.reshape(-1, 1))))
    else:
        levels, S, none = [None], None, None
        lp = g.matmul(g.sub(x, g.const(means[None, :])), g.const(beta.reshape(-1, 1)))
    base = np.asarray(bridge.py(bridge.call(R_BASELINE, fit, ro.FloatVector(times),
                                            ro.StrVector(levels if stratified else []))),
                      dtype=np.float64).reshape(len(levels), len(times))
    if not np.all(np.isfinite(base)):
        raise UnsupportedError("R's survfit gives no baseline survival at some of the times")
    risk2 = g.op("Exp", g.sub(xb, g.const(np.array([[xcenter]]))))
    s0 = g.matmul(S, g.const(base)) if stratified else g.const(base)
    # R's x^y is 1 where x is 1 (before the first event), whatever y (NA included).
    one = g.const(np.array([[1.0]]))
    surv = g.op("Where", g.op("Equal", s0, one), one, g.op("Pow", s0, risk2))
    if stratified:
        surv = nan_where(g, none, surv)
    outputs = value_output(g, lp, "lp") + value_output(g, g.op("Exp", lp), "risk") + \
        named_outputs(g, surv, "survival", times)
    r_times, r_inner = ro.FloatVector(times), ro.ListVector([(str(i), ro.StrVector(t)) for i, t in enumerate(inner)])

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df, r_times, r_inner))
        return {"lp": np.asarray(r["lp"], dtype=np.float64).reshape(-1, 1),
                "risk": np.asarray(r["risk"], dtype=np.float64).reshape(-1, 1),
                "survival": np.asarray(r["surv"], dtype=np.float64).reshape(-1, len(times))}
    strata = f", {len(levels)} strata" if stratified else ""
    return Converted(frame, outputs, "regressor", reference,
                     description=f"coxph ({method}{strata}; survival at t = {', '.join(label(t) for t in times)})")


