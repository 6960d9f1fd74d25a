"""recipes steps, each translated as its bake() method computes it (recipes 1.0.4), in
double. A translator reads the prepped step's stored values (never re-running selectors)
and updates the baked columns (recipe.Baked) in place.

The registry is STEPS below; the numeric steps live here, the factor steps in
recipe_steps_factor.py and the basis steps (poly, ns, pca, interact) in
recipe_steps_basis.py."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from . import recipe_steps_basis as basis
from . import recipe_steps_factor as factor

# R: a step's plain fields (numbers, strings, named vectors and lists of them); terms,
# quosures, functions and other language objects are left out (translators that need
# more read it with their own R code).
R_FIELDS = r"""
function(s) {
  plain <- function(v) {
    if (is.null(v)) return(NULL)
    if (is.function(v) || is.language(v) || inherits(v, c("quosures", "quosure", "formula", "terms")))
      return(NULL)
    if (is.atomic(v)) {
      a <- attributes(v)
      out <- if (is.matrix(v)) v else as.vector(v)
      if (is.matrix(v)) dimnames(out) <- NULL
      if (!is.null(names(v)) && !is.matrix(v)) return(list(values = unname(out), names = names(v)))
      if (is.matrix(v)) return(list(values = out, rownames = rownames(v), colnames = colnames(v)))
      return(out)
    }
    if (is.list(v)) {
      r <- lapply(unclass(v), plain)
      if (is.null(names(v))) return(unname(r))
      return(r)
    }
    NULL
  }
  x <- unclass(s)
  x[["terms"]] <- NULL
  lapply(x, plain)
}
"""


def fields(step) -> dict:
    return bridge.py(bridge.call(R_FIELDS, step)) or {}


def named(v) -> dict:
    """A named R vector read by R_FIELDS as {name: value}."""
    if v is None:
        return {}
    if isinstance(v, dict) and "values" in v and "names" in v:
        vals = v["values"]
        vals = vals if isinstance(vals, list) else list(np.asarray(vals).reshape(-1))
        return dict(zip(v["names"], vals))
    if isinstance(v, dict):  # a named list of scalars
        return {k: bridge.scalar(x) for k, x in v.items()}
    raise UnsupportedError("unexpected stored values in a recipes step")


def names_of(v) -> list:
    """The names of a named R vector, or the values of a character vector."""
    if v is None:
        return []
    if isinstance(v, dict) and "values" in v:
        return [str(x) for x in (v["values"] if isinstance(v["values"], list) else np.asarray(v["values"]).reshape(-1))]
    if isinstance(v, list):
        return [str(x) for x in v]
    return [str(x) for x in np.asarray(v).reshape(-1)]


def _affine_step(baked, stats: dict, op: str):
    for col, s in stats.items():
        s = float(s)
        x = baked.number(col)
        if op == "sub":
            baked.set_number(col, baked.g.sub(x, baked.c(s)), affine=(1.0, -s))
        else:
            baked.set_number(col, baked.g.div(x, baked.c(s)), affine=(1.0 / s, 0.0))


def center(baked, step):
    _affine_step(baked, named(fields(step)["means"]), "sub")


def scale(baked, step):
    _affine_step(baked, named(fields(step)["sds"]), "div")


def normalize(baked, step):
    f = fields(step)
    sds = named(f["sds"])
    for col, mean in named(f["means"]).items():
        mean, sd = float(mean), float(sds[col])
        g = baked.g
        baked.set_number(col, g.div(g.sub(baked.number(col), baked.c(mean)), baked.c(sd)),
                         affine=(1.0 / sd, -mean / sd))


def range_(baked, step):
    """(x - min) * (hi - lo) / (max - min) + lo, then pmax(., lo) and pmin(., hi) when clipping."""
    f = fields(step)
    g = baked.g
    lo, hi = float(bridge.scalar(f["min"])), float(bridge.scalar(f["max"]))
    r = f["ranges"]
    values = np.asarray(r["values"], dtype=np.float64).reshape(2, -1)
    clip = bool(bridge.scalar(f.get("clipping"), False))
    for j, col in enumerate(r["colnames"] or []):
        mn, mx = float(values[0, j]), float(values[1, j])
        x = baked.number(col)
        if clip:
            baked.threshold(col, [mn, mx])
        y = g.add(g.div(g.mul(g.sub(x, baked.c(mn)), baked.c(hi - lo)), baked.c(mx - mn)), baked.c(lo))
        scale_ = (hi - lo) / (mx - mn)
        if clip:
            # Where, not Max/Min: NA stays NA, as pmax/pmin keep it.
            y = g.op("Where", g.op("Less", y, baked.c(lo)), baked.c(lo), y)
            y = g.op("Where", g.op("Greater", y, baked.c(hi)), baked.c(hi), y)
            baked.set_number(col, y)
        else:
            baked.set_number(col, y, affine=(scale_, lo - mn * scale_))


def _impute(key):
    def step_fn(baked, step):
        g = baked.g
        for col, v in named(fields(step)[key]).items():
            if col in baked.factors:
                raise UnsupportedError(f"step_impute on the factor {col!r}: only step_impute_mode imputes factors")
            x = baked.number(col)
            baked.set_number(col, g.op("Where", g.op("IsNaN", x), baked.c(float(v)), x))
    return step_fn


def log(baked, step):
    """log(x + offset, base), or with signed: ifelse(|x| < 1, 0, sign(x) * log(|x|, base))."""
    f = fields(step)
    g = baked.g
    base = float(bridge.scalar(f.get("base"), np.e))
    offset = float(bridge.scalar(f.get("offset"), 0.0))
    signed = bool(bridge.scalar(f.get("signed"), False))
    for col in names_of(f["columns"]):
        x = baked.number(col)
        if signed:
            ax = g.op("Abs", x)
            mag = _log_base(g, ax, base, baked)
            neg = g.op("Less", x, baked.c(0.0))
            y = g.op("Where", neg, g.op("Neg", mag), mag)
            y = g.op("Where", g.op("Less", ax, baked.c(1.0)), baked.c(0.0), y)
            baked.threshold(col, [-1.0, 1.0])
        else:
            y = _log_base(g, g.add(x, baked.c(offset)) if offset else x, base, baked)
        baked.set_number(col, y)


def _log_base(g, x, base, baked):
    y = g.op("Log", x)
    return y if base == float(np.e) else g.div(y, baked.c(float(np.log(base))))


def sqrt(baked, step):
    for col in names_of(fields(step)["columns"]):
        baked.set_number(col, baked.g.op("Sqrt", baked.number(col)))


def _power_minus_one(g, x, lam, baked):
    """(x^lambda - 1) / lambda."""
    return g.div(g.sub(g.op("Pow", x, baked.c(lam)), baked.c(1.0)), baked.c(lam))


def box_cox(baked, step):
    """recipes' bc_trans: log(x) when |lambda| < 0.001, else (x^lambda - 1) / lambda; NA lambda: unchanged."""
    g = baked.g
    for col, lam in named(fields(step)["lambdas"]).items():
        lam = float(lam)
        if np.isnan(lam):
            continue
        x = baked.number(col)
        baked.set_number(col, g.op("Log", x) if abs(lam) < 0.001 else _power_minus_one(g, x, lam, baked))
        baked.threshold(col, [0.0])


def yeo_johnson(baked, step):
    """recipes' yj_transform: x >= 0: log(x + 1) or ((x + 1)^lambda - 1) / lambda;
    x < 0: -log(1 - x) or -((1 - x)^(2 - lambda) - 1) / (2 - lambda) (eps 0.001)."""
    g = baked.g
    for col, lam in named(fields(step)["lambdas"]).items():
        lam = float(lam)
        if np.isnan(lam):
            continue
        x = baked.number(col)
        xp = g.add(x, baked.c(1.0))
        pos = g.op("Log", xp) if abs(lam) < 0.001 else _power_minus_one(g, xp, lam, baked)
        xn = g.add(g.op("Neg", x), baked.c(1.0))
        neg = g.op("Log", xn) if abs(lam - 2) < 0.001 else _power_minus_one(g, xn, 2 - lam, baked)
        baked.set_number(col, g.op("Where", g.op("Less", x, baked.c(0.0)), g.op("Neg", neg), pos))
        baked.threshold(col, [0.0])


def removals(baked, step):
    for col in names_of(fields(step).get("removals")):
        baked.remove(col)


def select(baked, step):
    keep = set(names_of(bridge.py(bridge.call("function(s) unname(as.character(s$terms))", step))))
    for col in list(baked.names()):
        if col not in keep:
            baked.remove(col)


# R step class -> translator (literal registry)
STEPS = {
    "step_normalize": normalize,
    "step_center": center,
    "step_scale": scale,
    "step_range": range_,
    "step_impute_mean": _impute("means"),
    "step_impute_median": _impute("medians"),
    "step_impute_mode": factor.impute_mode,
    "step_unknown": factor.unknown,
    "step_novel": factor.novel,
    "step_other": factor.other,
    "step_dummy": factor.dummy,
    "step_log": log,
    "step_sqrt": sqrt,
    "step_BoxCox": box_cox,
    "step_YeoJohnson": yeo_johnson,
    "step_interact": basis.interact,
    "step_poly": basis.poly,
    "step_ns": basis.ns,
    "step_pca": basis.pca,
    "step_zv": removals,
    "step_nzv": removals,
    "step_rm": removals,
    "step_select": select,
}
