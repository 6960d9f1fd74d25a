"""recipes steps on factor (nominal) columns, as their bake() methods compute them. A factor
column is a terms.Variable: its levels, one-hot indicators [N, K] and a missing flag; a step
that recodes levels is a 0/1 matrix from the old levels to the new ones (a row of zeros:
the value becomes NA)."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge

# R: step_dummy's stored model terms, checked to be `~ x` or `~ x - 1` of one column, and the
# coding model.matrix gives each level (contrasts as options("contrasts") has them now, as
# bake() uses them), with the column names recipes' dummy_names() gives.
R_DUMMY = r"""
function(s) {
  if (!identical(deparse(s$naming), deparse(recipes::dummy_names)))
    stop("a naming function other than recipes::dummy_names")
  out <- list()
  for (v in names(s$levels)) {
    tt <- s$levels[[v]]
    vars <- as.list(attr(tt, "variables"))[-1]
    if (length(vars) != 1 || !is.symbol(vars[[1]]) || as.character(vars[[1]]) != v ||
        !identical(attr(tt, "term.labels"), v))
      stop("stored terms other than ~ ", v)
    lv <- attr(tt, "values")
    ord <- identical(unname(attr(tt, "dataClasses")), "ordered")
    f <- factor(lv, levels = lv, ordered = ord)
    icpt <- attr(tt, "intercept") == 1
    if (icpt && isTRUE(s$one_hot)) stop("one_hot with an intercept in the stored terms")
    cm <- if (icpt) contrasts(f) else contrasts(f, contrasts = FALSE)
    used <- colnames(cm)
    if (is.null(used)) used <- as.character(seq_len(ncol(cm)))
    out[[v]] <- list(levels = lv, matrix = unname(cm), names = recipes::dummy_names(v, used, ord),
                     keep = isTRUE(s$preserve) || isTRUE(s$keep_original_cols))
  }
  out
}
"""


def _strings(v) -> list:
    if v is None:
        return []
    if isinstance(v, dict) and "values" in v:
        v = v["values"]
    return [str(x) for x in (v if isinstance(v, list) else np.asarray(v).reshape(-1))]


def impute_mode(baked, step):
    from .recipe_steps import fields
    f = fields(step)
    modes = f["modes"]
    modes = dict(zip(modes["names"], modes["values"])) if "names" in modes else modes
    g = baked.g
    for col, mode in modes.items():
        mode = bridge.scalar(mode) if not isinstance(mode, str) else mode
        if col in baked.factors:
            v = baked.factor(col)
            baked.set_factor(col, baked.recode(v, v.levels, {lv: lv for lv in v.levels}, na_to=str(mode)))
        else:
            x = baked.number(col)
            baked.set_number(col, g.op("Where", g.op("IsNaN", x), baked.c(float(mode)), x))


def unknown(baked, step):
    """NA -> new_level; levels: the stored ones, then new_level (others become NA)."""
    from .recipe_steps import fields
    f = fields(step)
    new = str(bridge.scalar(f["new_level"]))
    for col, stored in (f.get("objects") or {}).items():
        lv = _strings(stored)
        v = baked.factor(col)
        baked.set_factor(col, baked.recode(v, lv + [new], {x: x for x in v.levels if x in lv}, na_to=new))


def novel(baked, step):
    """A level not among the stored ones (and not NA) -> new_level; levels: the stored ones, then new_level."""
    from .recipe_steps import fields
    f = fields(step)
    new = str(bridge.scalar(f["new_level"]))
    for col, stored in (f.get("objects") or {}).items():
        lv = _strings(stored)
        v = baked.factor(col)
        baked.set_factor(col, baked.recode(v, lv + [new], {x: (x if x in lv else new) for x in v.levels}))


def other(baked, step):
    """Levels not kept (and not NA) -> the "other" level; levels: keep, then other."""
    from .recipe_steps import fields
    f = fields(step)
    for col, obj in (f.get("objects") or {}).items():
        if not bool(bridge.scalar(obj.get("collapse"), False)):
            continue
        keep, oth = _strings(obj.get("keep")), str(bridge.scalar(obj["other"]))
        v = baked.factor(col)
        baked.set_factor(col, baked.recode(v, keep + [oth], {x: (x if x in keep else oth) for x in v.levels}))


def dummy(baked, step):
    """model.matrix of the factor with its stored levels (na.pass: NA gives NA columns)."""
    try:
        info = bridge.py(bridge.call(R_DUMMY, step)) or {}
    except bridge.RError as exc:
        raise UnsupportedError(f"step_dummy with {exc}: supported is step_dummy as recipes 1.0.4 stores it "
                               "(one_hot or not, recipes::dummy_names)") from None
    g = baked.g
    for col, d in info.items():
        lv = _strings(d["levels"])
        v = baked.factor(col)
        v = baked.recode(v, lv, {x: x for x in v.levels if x in lv})
        cm = np.asarray(d["matrix"], dtype=np.float64).reshape(len(lv), -1)
        value = g.op("Where", v.missing, baked.c(np.nan), g.matmul(v.onehot, g.const(cm)))
        names = _strings(d["names"])
        if not bool(bridge.scalar(d["keep"], False)):
            baked.remove(col)
        for j, n in enumerate(names):
            baked.set_number(n, g.columns(value, [j]))
