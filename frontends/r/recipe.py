"""recipes: a prep()ed recipe in front of a fitted R model, in one graph. The compiled model
takes the recipe's original predictor columns; the recipe's steps compute the baked columns
(as bake() does, step by step, in double) and the model's own converter reads them through
Graph.upstream (as caret's finalModel reads the columns train() computes). The reference
is R's predict(model, bake(recipe, new_data = rows)), as the model's converter computes it
on the baked rows."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError, UsageError

from . import bridge
from .converted import Converted
from .recipe_steps import STEPS
from .terms import Frame, Variable

R_RECIPE = r"""
function(r) {
  if (!inherits(r, "recipe")) stop("not a recipe")
  steps <- r$steps
  vi <- r$var_info
  ti <- r$term_info
  list(classes = vapply(steps, function(s) class(s)[1], ""),
       trained = vapply(steps, function(s) isTRUE(s$trained), TRUE),
       skip = vapply(steps, function(s) isTRUE(s$skip), TRUE),
       prepped = !is.null(r$last_term_info) && !is.null(r$orig_lvls),
       variable = vi$variable, role = vi$role, source = vi$source,
       type = vapply(vi$type, function(t) t[1], ""),
       levels = lapply(setNames(vi$variable, vi$variable), function(v) {
         l <- r$orig_lvls[[v]]
         if (is.null(l) || all(is.na(l$values))) NULL else as.character(l$values)
       }),
       final = if (is.null(ti)) character(0) else ti$variable[ti$role %in% "predictor"])
}
"""

R_TEMPLATE = r"""
function(r, cols) {
  d <- r$template
  out <- list()
  for (c in cols) if (!is.null(d) && c %in% names(d) && is.numeric(d[[c]]))
    out[[c]] <- as.numeric(d[[c]][!is.na(d[[c]])])
  out
}
"""

# The outcome columns, absent from the rows, are given as NA (of their training type):
# step_select() keeps the outcome by name and bake() stops without it.
R_BAKE = r"""
function(r, d) {
  out <- r$var_info$variable[r$var_info$role %in% "outcome"]
  for (v in out) if (!(v %in% names(d)) && !is.null(r$template) && v %in% names(r$template))
    d[[v]] <- r$template[[v]][rep(NA_integer_, nrow(d))]
  as.data.frame(recipes::bake(r, new_data = d))
}
"""

NUMERIC_TYPES = ("double", "integer", "numeric")
NOMINAL_TYPES = ("factor", "ordered", "string", "character", "nominal")


def supported_steps() -> str:
    return ", ".join(sorted(STEPS))


class Baked:
    """The recipe's columns after each step: numbers (double [N, 1]) and factors (Variable).
    It is also the Graph.upstream the wrapped model reads its columns from."""

    def __init__(self, g, outer: Frame, numeric: list, factors: dict):
        self.g, self.outer = g, outer
        self.values: dict[str, str] = {}
        self.factors: dict[str, Variable] = {}
        self.order: list = []
        self.affine: dict[str, tuple] = {}  # baked column -> (raw column, a, b): value = a * raw + b
        self.thresholds: dict[str, list] = {}
        for n in numeric:
            self.set_number(n, outer.numeric_column(n))
            self.affine[n] = (n, 1.0, 0.0)
        for n, lv in factors.items():
            v = outer.factor_column(n, list(lv))
            self.set_factor(n, Variable(n, levels=list(lv), onehot=v.onehot, missing=v.missing))

    def c(self, x):
        return self.g.const(np.array([[x]], dtype=np.float64))

    def names(self) -> list:
        return list(self.order)

    def _absent(self, name, what):
        raise UnsupportedError(f"a recipe step reads the {what} column {name!r}, which the steps before it do "
                               f"not produce (columns there: {', '.join(self.order) or 'none'})")

    def number(self, name: str) -> str:
        if name in self.factors:
            raise UnsupportedError(f"a recipe step reads {name!r} as a number; it is a factor there")
        if name not in self.values:
            self._absent(name, "numeric")
        return self.values[name]

    def factor(self, name: str) -> Variable:
        if name in self.values:
            raise UnsupportedError(f"a recipe step reads {name!r} as a factor; it is a number there")
        if name not in self.factors:
            self._absent(name, "factor")
        return self.factors[name]

    def set_number(self, name: str, value: str, affine: tuple | None = None):
        old = self.affine.pop(name, None)
        if affine is not None and old is not None:
            a, b = affine
            self.affine[name] = (old[0], a * old[1], a * old[2] + b)
        self.factors.pop(name, None)
        self.values[name] = value
        if name not in self.order:
            self.order.append(name)

    def set_factor(self, name: str, v: Variable):
        self.values.pop(name, None)
        self.affine.pop(name, None)
        self.factors[name] = v
        if name not in self.order:
            self.order.append(name)

    def remove(self, name: str):
        self.values.pop(name, None)
        self.factors.pop(name, None)
        self.affine.pop(name, None)
        if name in self.order:
            self.order.remove(name)

    def threshold(self, name: str, values: list):
        """Values of column `name` (at this step) where the answer changes form, for parity
        rows: kept where the column is still an affine function of a raw column."""
        m = self.affine.get(name)
        if m is None or m[1] == 0:
            return
        raw, a, b = m
        self.thresholds.setdefault(raw, []).extend(float((v - b) / a) for v in values)

    def recode(self, v: Variable, levels: list, mapping: dict, na_to: str | None = None) -> Variable:
        """The factor `v` with new `levels`: old level -> mapping[old] (absent: NA), NA -> na_to
        (None: stays NA)."""
        g = self.g
        m = np.zeros((len(v.levels), len(levels)))
        for i, old in enumerate(v.levels):
            new = mapping.get(old)
            if new is not None and new in levels:
                m[i, levels.index(new)] = 1.0
        onehot = g.matmul(v.onehot, g.const(m))
        if na_to is not None and na_to in levels:
            e = np.zeros((1, len(levels)))
            e[0, levels.index(na_to)] = 1.0
            onehot = g.add(onehot, g.mul(g.to_double(v.missing), g.const(e)))
        total = g.matmul(onehot, g.const(np.ones((len(levels), 1))))
        missing = g.op("Less", total, self.c(0.5))
        return Variable(v.label, levels=list(levels), onehot=onehot, missing=missing)

    def __call__(self, name, kind, levels):
        """Graph.upstream: the baked column `name` for the wrapped model."""
        if name not in self.values and name not in self.factors:
            raise UnsupportedError(f"the model reads a column {name!r} that the recipe does not produce "
                                   f"(it produces: {', '.join(self.order) or 'none'})")
        if kind == "number":
            return self.number(name)
        v = self.factor(name)
        want = list(levels or v.levels)
        return self.recode(v, want, {x: x for x in v.levels if x in want})


def _info(recipe) -> dict:
    try:
        info = bridge.py(bridge.call(R_RECIPE, recipe))
    except bridge.RError as exc:
        raise UsageError(f"cannot read the recipe: {exc}") from None
    for key in ("classes", "variable", "role", "source", "type", "final"):
        v = info.get(key)
        info[key] = [] if v is None else [str(x) for x in (v if isinstance(v, list) else np.asarray(v).reshape(-1))]
    for key in ("trained", "skip"):
        info[key] = [bool(x) for x in np.asarray(info.get(key) if info.get(key) is not None else []).reshape(-1)]
    return info


def check(recipe) -> dict:
    """The recipe's facts, or UsageError when it is not a prepped recipe."""
    if "recipe" not in bridge.classes(recipe):
        raise UsageError(f"--recipe must be a recipes::recipe (saveRDS of a prep()ed recipe); got an R "
                         f"{'/'.join(bridge.classes(recipe))}")
    bridge.require("recipes", "a recipe")
    info = _info(recipe)
    if not bool(bridge.scalar(info["prepped"], False)) or not all(info["trained"]):
        raise UsageError("the recipe is not prepped: run prep(recipe, training = data) in R, save that "
                         "(saveRDS) and compile with it")
    return info


def _columns(info) -> tuple:
    """(numeric names, {factor name: levels}) of the recipe's original predictors."""
    numeric, factors = [], {}
    levels = info.get("levels") or {}
    for var, role, source, typ in zip(info["variable"], info["role"], info["source"], info["type"]):
        if source != "original" or role == "outcome":
            continue
        if role != "predictor":
            raise UnsupportedError(f"recipe column {var!r} has the role {role!r}: supported are recipes whose "
                                   "original columns are predictors and outcomes")
        if typ in NUMERIC_TYPES:
            numeric.append(var)
        elif typ in NOMINAL_TYPES and levels.get(var):
            factors[var] = [str(x) for x in levels[var]]
        else:
            raise UnsupportedError(f"recipe column {var!r} is of type {typ!r}: supported are numeric columns "
                                   "and factor/character columns with the levels prep() recorded")
    return numeric, factors


def convert(recipe, fit, module, g) -> Converted:
    """The recipe's steps, then `module`'s converter on `fit` reading the baked columns."""
    info = check(recipe)
    numeric, factors = _columns(info)
    outer = Frame.from_columns(g, numeric, factors)
    baked = Baked(g, outer, numeric, factors)
    step_at = bridge.function("function(r, i) r$steps[[i]]")
    for i, cls in enumerate(info["classes"]):
        if info["skip"][i]:
            continue  # bake() skips it
        translate = STEPS.get(cls)
        if translate is None:
            raise UnsupportedError(f"the recipe step {cls} is not supported; supported steps: {supported_steps()}")
        try:
            translate(baked, step_at(recipe, i + 1))
        except bridge.RError as exc:
            raise UnsupportedError(f"cannot read the recipe step {cls}: {exc}") from None
    if not any(info["skip"]) and set(baked.names()) != set(info["final"]):
        raise UnsupportedError(
            "the recipe's translated steps give the columns " + ", ".join(baked.names()) +
            "; prep() recorded " + ", ".join(info["final"]))
    g.upstream = baked
    try:
        inner = module.convert(fit, g)
    finally:
        g.upstream = None
    for col, values in (inner.thresholds or {}).items():
        baked.threshold(col, list(values))  # the model's own cut points, on a raw column where it can
    thresholds = {k: sorted(set(v)) for k, v in baked.thresholds.items()}

    def reference(df):
        return inner.reference(bridge.call(R_BAKE, recipe, df))
    steps = ", ".join(c for c, s in zip(info["classes"], info["skip"]) if not s) or "no steps"
    return Converted(outer, inner.outputs, inner.task, reference, classes=inner.classes,
                     description=f"recipes::recipe ({steps}) then {inner.description or 'the model'}",
                     package=inner.package, thresholds=thresholds)


def samples(recipe, frame: Frame) -> dict:
    """{column: {"values", "exact"}}: the recipe's training values (its template) of the numeric inputs."""
    ro = bridge.robjects()
    numeric = [c.name for c in frame.columns.values() if c.kind == "number"]
    found = bridge.py(bridge.call(R_TEMPLATE, recipe, ro.StrVector(numeric))) if numeric else None
    return {k: {"values": np.asarray(v, dtype=np.float64).reshape(-1), "exact": False}
            for k, v in (found or {}).items() if np.asarray(v).size}
