"""recipes steps that make new numeric columns from stored bases, as their bake() methods
compute them: step_poly (stats::predict.poly), step_ns (splines::ns with the stored knots,
evaluated exactly: de Boor's recursion for the B-spline basis, then ns's projection),
step_pca (scale() and the rotation) and step_interact (products of numeric columns)."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge

R_POLY = r"""
function(s) lapply(s$objects, function(o) {
  cf <- attr(o, "coefs")
  list(var = unname(attr(o, "var")), degree = max(attr(o, "degree")),
       alpha = if (is.null(cf)) NULL else cf$alpha, norm2 = if (is.null(cf)) NULL else cf$norm2)
})
"""

# R: per ns column set, the augmented knots and ns's projection (qr.Q of the second
# derivatives at the boundary knots, columns 3...), and the basis and its first derivative
# at each boundary knot (ns continues linearly beyond them).
R_NS = r"""
function(s) lapply(s$objects, function(o) {
  kn <- sort(as.numeric(attr(o, "knots"))); bk <- sort(as.numeric(attr(o, "Boundary.knots")))
  icpt <- isTRUE(attr(o, "intercept"))
  A <- sort(c(rep(bk, 4L), kn))
  const <- splines::splineDesign(A, bk, ord = 4L, derivs = c(2L, 2L))
  if (!icpt) const <- const[, -1, drop = FALSE]
  Q <- qr.Q(qr(t(const)), complete = TRUE)[, -(1:2), drop = FALSE]
  lo <- splines::splineDesign(A, rep(bk[1], 2L), 4, c(0, 1))
  hi <- splines::splineDesign(A, rep(bk[2], 2L), 4, c(0, 1))
  if (!icpt) { lo <- lo[, -1, drop = FALSE]; hi <- hi[, -1, drop = FALSE] }
  list(var = unname(attr(o, "var")), knots = kn, boundary = bk, aknots = A, intercept = icpt, q = Q,
       lo = lo %*% Q, hi = hi %*% Q)
})
"""

R_PCA = r"""
function(s) {
  r <- s$res
  list(vars = rownames(r$rotation), rotation = unname(r$rotation),
       center = if (is.numeric(r$center)) unname(r$center[rownames(r$rotation)]) else NULL,
       scale = if (is.numeric(r$scale)) unname(r$scale[rownames(r$rotation)]) else NULL,
       num_comp = s$num_comp, prefix = s$prefix, keep = isTRUE(s$keep_original_cols),
       empty = length(s$columns) == 0 || all(is.na(r$rotation)))
}
"""

R_INTERACT = r"""
function(s) {
  if (isTRUE(all(is.na(s$object)))) return(list(terms = list(), sep = s$sep))
  terms <- list()
  for (tt in s$objects) {
    vars <- as.list(attr(tt, "variables"))[-1]
    if (!all(vapply(vars, is.symbol, TRUE))) stop("interaction terms of expressions")
    for (lab in attr(tt, "term.labels")) if (grepl(":", lab, fixed = TRUE))
      terms[[length(terms) + 1]] <- list(label = lab, vars = rownames(attr(tt, "factors"))[attr(tt, "factors")[, lab] > 0])
  }
  list(terms = terms, sep = s$sep)
}
"""


def names0(n: int, prefix: str) -> list:
    """recipes' names0: prefix and 1..n, zero-padded to the same width."""
    width = len(str(n))
    return [f"{prefix}{i:0{width}d}" for i in range(1, n + 1)]


def _vec(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64).reshape(-1)


def poly(baked, step):
    """predict.poly: raw powers, or the orthogonal recursion with the stored alpha and norm2."""
    g = baked.g
    objs = bridge.py(bridge.call(R_POLY, step)) or {}
    for col, o in objs.items():
        degree = int(bridge.scalar(o["degree"]))
        var = str(o["var"][0]) if o.get("var") else col
        x = baked.number(col)
        if o.get("alpha") is None:
            cols = [x] + [g.mul(x, x) if p == 2 else g.op("Pow", x, baked.c(float(p))) for p in range(2, degree + 1)]
        else:
            cols = _orthogonal(baked, x, _vec(o["alpha"]), _vec(o["norm2"]), degree)
        baked.remove(col)
        for j, c in enumerate(cols):
            baked.set_number(f"{var}_poly_{j + 1}", c)


def _orthogonal(baked, x, alpha, norm2, degree):
    """Z1 = x - alpha1; Z(i+1) = (x - alpha(i)) Z(i) - norm2(i+1)/norm2(i) Z(i-1) (Z0 = 1); Zi / sqrt(norm2(i+1))."""
    g = baked.g
    z = [None, g.sub(x, baked.c(alpha[0]))]
    for i in range(1, degree):
        t = g.mul(g.sub(x, baked.c(alpha[i])), z[i])
        prev = baked.c(1.0) if z[i - 1] is None else z[i - 1]
        z.append(g.sub(t, g.mul(baked.c(norm2[i + 1] / norm2[i]), prev)))
    return [g.div(z[j], baked.c(float(np.sqrt(norm2[j + 1])))) for j in range(1, degree + 1)]


def ns(baked, step):
    g = baked.g
    objs = bridge.py(bridge.call(R_NS, step)) or {}
    for col, o in objs.items():
        var = str(o["var"][0]) if o.get("var") else col
        x = baked.number(col)
        kn, bk = _vec(o["knots"]), _vec(o["boundary"])
        if len(kn) and (np.any(np.diff(kn) <= 0) or kn[0] <= bk[0] or kn[-1] >= bk[1]):
            raise UnsupportedError(f"step_ns on {col!r}: repeated knots or knots on the boundary are not supported")
        baked.threshold(col, list(bk) + list(kn))
        q = np.asarray(o["q"], dtype=np.float64)
        q = q.reshape(-1, q.shape[-1] if q.ndim == 2 else 1)
        lo, hi = (np.asarray(o[k], dtype=np.float64).reshape(2, -1) for k in ("lo", "hi"))
        inside = _bspline_projected(baked, x, _vec(o["aknots"]), kn, bool(bridge.scalar(o["intercept"])), q)
        left = g.add(g.const(lo[:1]), g.mul(g.sub(x, baked.c(bk[0])), g.const(lo[1:])))
        right = g.add(g.const(hi[:1]), g.mul(g.sub(x, baked.c(bk[1])), g.const(hi[1:])))
        value = g.op("Where", g.op("Greater", x, baked.c(bk[1])), right, inside)
        value = g.op("Where", g.op("Less", x, baked.c(bk[0])), left, value)
        value = g.op("Where", g.op("IsNaN", x), baked.c(np.nan), value)
        baked.remove(col)
        for j, n in enumerate(names0(q.shape[1], "")):
            baked.set_number(f"{var}_ns_{n}", g.columns(value, [j]))


def _bspline_projected(baked, x, aknots, kn, intercept, q):
    """splineDesign(aknots, x, 4) %*% q for x within the boundary knots: on the knot interval
    [t_m, t_m+1) (m = 3 + #{interior knots <= x}), the four non-zero cubic B-splines
    B_m-3..B_m by de Boor's recursion (bsplvb), then their rows of q."""
    g = baked.g
    n_int = len(kn) + 1
    breaks = np.concatenate([[-np.inf], kn, [np.inf]]).reshape(1, -1)
    below = g.to_double(g.op("Less", x, g.const(breaks)))
    onehot = g.sub(g.columns(below, list(range(1, n_int + 1))), g.columns(below, list(range(n_int))))
    # the knots t_m-2 .. t_m+3 of each row's interval, by exact 0/1 products
    tk = np.array([[aknots[3 + i + k] for k in range(-2, 4)] for i in range(n_int)])
    t = g.matmul(onehot, g.const(tk))

    def knot(off):  # t_{m+off}
        return g.columns(t, [off + 2])
    right = [None] + [g.sub(knot(j), x) for j in (1, 2, 3)]
    left = [None] + [g.sub(x, knot(1 - j)) for j in (1, 2, 3)]
    b = [g.const(np.array([[1.0]]))]
    for j in (1, 2, 3):
        saved = None
        for r in range(j):
            term = g.div(b[r], g.add(right[r + 1], left[j - r]))
            rt = g.mul(right[r + 1], term)
            b[r] = rt if saved is None else g.add(saved, rt)
            saved = g.mul(left[j - r], term)
        b.append(saved)
    # B_{m-3+r} is basis column m-3+r = i+r (i: the interval); ns drops column 0 without intercept.
    rows = q if intercept else np.vstack([np.zeros((1, q.shape[1])), q])
    total = None
    for r in range(4):
        w = np.array([rows[i + r] for i in range(n_int)])
        part = g.mul(b[r], g.matmul(onehot, g.const(w)))
        total = part if total is None else g.add(total, part)
    return total


def pca(baked, step):
    """scale(x, center, scale) %*% rotation, the first num_comp columns, named names0(num_comp, prefix)."""
    g = baked.g
    p = bridge.py(bridge.call(R_PCA, step))
    if bool(bridge.scalar(p["empty"])):
        return
    vars_ = [str(v) for v in p["vars"]]
    x = g.concat([baked.number(v) for v in vars_])
    if p.get("center") is not None:
        x = g.sub(x, g.const(_vec(p["center"]).reshape(1, -1)))
    if p.get("scale") is not None:
        x = g.div(x, g.const(_vec(p["scale"]).reshape(1, -1)))
    k = int(bridge.scalar(p["num_comp"]))
    rot = np.asarray(p["rotation"], dtype=np.float64).reshape(len(vars_), -1)[:, :k]
    comps = g.matmul(x, g.const(rot))
    if not bool(bridge.scalar(p["keep"])):
        for v in vars_:
            baked.remove(v)
    for j, n in enumerate(names0(k, str(p["prefix"][0]))):
        baked.set_number(n, g.columns(comps, [j]))


def interact(baked, step):
    """The product columns of each interaction term of numeric columns, ':' replaced by sep."""
    g = baked.g
    try:
        info = bridge.py(bridge.call(R_INTERACT, step))
    except bridge.RError as exc:
        raise UnsupportedError(f"step_interact with {exc}: supported are interactions of columns") from None
    sep = str(info["sep"][0])
    for term in info.get("terms") or []:
        vars_ = [str(v) for v in term["vars"]]
        if any(v in baked.factors for v in vars_):
            raise UnsupportedError(f"step_interact of the factor(s) {', '.join(v for v in vars_ if v in baked.factors)}: "
                                   "supported are interactions of numeric columns (use step_dummy before it)")
        label = str(term["label"][0])
        order = label.split(":")
        if sorted(order) != sorted(vars_):
            raise UnsupportedError(f"step_interact term {label!r}: supported are products of plain columns")
        # model.matrix multiplies in the order of the formula's variables
        value = baked.number(vars_[0])
        for v in vars_[1:]:
            value = g.mul(value, baked.number(v))
        baked.set_number(label.replace(":", sep), value)
