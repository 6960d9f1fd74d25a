"""kernlab::ksvm (S4 class "ksvm"): C-svc and nu-svc classification, eps-svr and nu-svr
regression, as kernlab's predict method computes them.

x is scaled by the fit's scaling (x.scale: (x - center) / scale on the scaled columns), the
kernel is evaluated as kernelMult writes it (rbfdot exp(sigma (2 x.v - |v|^2 - |x|^2)),
laplacedot exp(-sigma sqrt(-round(2 x.v - |v|^2 - |x|^2, 9))) with R's round(), polydot
(scale x.v + offset)^degree, vanilladot x.v, tanhdot tanh(scale x.v + offset)), and each
pair's (or the regression's) decision value is K %*% coef - b. Regression multiplies back
by y.scale. Classifiers output `label` (the one-vs-one vote: a pair's first class wins where
its decision value is below 0, the second above 0, no vote at 0; the first class of lev()
with the most votes), `prob_<class>` when fitted with prob.model = TRUE
(predict(type = "probabilities"): each pair's Platt sigmoid, then kernlab's "minpair"
coupling, the linear system solved by Gaussian elimination with partial pivoting as LAPACK's
dgesv does), else `score_<class>` (the votes), and `decision_<a>/<b>` (type = "decision").
Formula fits with factor predictors are refused: the ksvm object keeps no factor levels
(predict() codes factors by the new data's levels). Rows with missing values: predict()
drops them, so they have no reference.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, classifier_outputs, value_output
from .terms import Frame

TYPES = ("C-svc", "nu-svc", "eps-svr", "nu-svr")
KERNELS = {"rbfkernel": "rbfdot", "laplacekernel": "laplacedot", "polykernel": "polydot",
           "vanillakernel": "vanilladot", "tanhkernel": "tanhdot"}

R_MODEL = r"""
function(f) {
  s <- f@scaling
  lst <- function(v) if (is.list(v)) v else list(v)
  xm <- lst(f@xmatrix)
  list(type = f@type, kernel = class(f@kernelf)[1], kpar = lapply(f@kernelf@kpar, as.numeric),
       lev = if (is.null(f@lev)) NULL else as.character(f@lev), nclass = f@nclass,
       xm = lapply(xm, function(m) unname(as.matrix(m))),
       dotb = lapply(xm, function(m) as.numeric(rowSums(as.matrix(m) * as.matrix(m)))),
       coef = lapply(lst(f@coef), as.numeric), b = as.numeric(f@b),
       prob = if (is.list(f@prob.model) && length(f@prob.model) && !is.null(f@prob.model[[1]]))
         lapply(f@prob.model, function(p) c(as.numeric(p$A), as.numeric(p$B))) else NULL,
       scaled = if (is.list(s)) as.logical(s$scaled) else NULL,
       center = if (is.list(s)) unname(as.numeric(s$x.scale[[1]])) else NULL,
       scale = if (is.list(s)) unname(as.numeric(s$x.scale[[2]])) else NULL,
       yscale = if (is.list(s) && !is.null(s$y.scale)) c(as.numeric(s$y.scale[[1]]), as.numeric(s$y.scale[[2]]))
         else NULL,
       columns = colnames(xm[[1]]), formula = !is.null(f@terms))
}
"""

# R: predict() as the reference: the decision values, the label, and the votes or probabilities.
R_PREDICT = r"""
function(f, d, cols, formula, prob, classify) {
  x <- if (formula) d else as.matrix(d[, cols, drop = FALSE])
  predict <- kernlab::predict
  r <- predict(f, x)
  if (length(r) != nrow(d)) stop("predict() dropped rows with missing values")
  if (!classify) return(list(value = as.numeric(r)))
  list(value = as.character(r), dec = unname(as.matrix(predict(f, x, type = "decision"))),
       scores = if (prob) unname(as.matrix(predict(f, x, type = "probabilities")))
                else unname(t(predict(f, x, type = "votes"))))
}
"""


def _c(g, v):
    return g.const(np.array([[v]], dtype=np.float64))


def _frame(fit, g, m, n_columns):
    """(frame, x [N, p] double as the model matrix) of a formula or matrix fit."""
    if not m["formula"]:
        names = list(m["columns"] or [f"X{i + 1}" for i in range(n_columns)])
        if len(set(names)) != len(names):
            raise UnsupportedError("the columns of x have duplicate names; give them distinct colnames")
        frame = Frame.from_columns(g, names)
        return frame, g.concat([frame.numeric_column(n) for n in names]), names
    terms = bridge.call("function(f) delete.response(f@terms)", fit)
    frame = Frame.from_terms(g, terms)
    factors = [lab for lab, cls in zip(frame.info["labels"], frame.info["classes"])
               if cls in ("factor", "ordered", "character", "logical")]
    if factors:
        raise UnsupportedError("ksvm formula fits with factor predictors (" + ", ".join(factors) + ") are not "
                               "supported: the ksvm object keeps no factor levels, and predict() codes factors "
                               "by the levels of the new data. Supported: numeric predictors (and transforms of "
                               "them) in a formula, or the matrix interface (e.g. on a model.matrix)")
    values, names = [], []
    for j in range(1, len(frame.info["term_labels"]) + 1):
        v, n = frame.term(j)
        values.append(v)
        names += n
    mangled = [str(s) for s in bridge.call("function(n) make.names(n, unique = TRUE)", bridge.robjects().StrVector(names))]
    if mangled != list(m["columns"] or []):
        raise UnsupportedError(f"cannot rebuild the ksvm model matrix: built columns {names}, the model has "
                               f"{list(m['columns'] or [])}")
    return frame, g.concat(values), None


def _kernel(g, x, sv, dotb, kernel, kpar):
    """K(x, v) for every support vector v (rows of sv): [N, V] double, as kernelMult computes it."""
    xy = g.matmul(x, g.const(sv.T))
    if kernel == "vanilladot":
        return xy
    if kernel in ("rbfdot", "laplacedot"):
        dota = g.op("ReduceSum", g.mul(x, x), g.const(np.array([1], dtype=np.int64), np.int64), keepdims=1)
        inner = g.sub(g.sub(g.mul(_c(g, 2.0), xy), g.const(dotb[None, :])), dota)
        if kernel == "rbfdot":
            return g.op("Exp", g.mul(_c(g, kpar["sigma"]), inner))
        dist = g.op("Sqrt", g.op("Neg", round9(g, inner)))
        return g.op("Exp", g.mul(_c(g, -kpar["sigma"]), dist))
    t = g.add(g.mul(_c(g, kpar["scale"]), xy), _c(g, kpar["offset"]))
    if kernel == "tanhdot":
        return g.op("Tanh", t)
    degree = kpar["degree"]
    if degree < 1 or degree != int(degree):
        raise UnsupportedError(f"polydot of degree {degree} is not supported (a positive integer degree)")
    out = t
    for _ in range(int(degree) - 1):
        out = g.mul(out, t)
    return out


def round9(g, x):
    """R's round(x, 9) (R >= 4.0.0: the nearer of the two candidates floor(x 1e9) / 1e9 and
    ceil(x 1e9) / 1e9, the even one on a tie; |x| >= 2^20 left as it is)."""
    a = g.op("Abs", x)
    x10 = g.mul(a, _c(g, 1e9))
    i10 = g.op("Floor", x10)
    xd = g.div(i10, _c(g, 1e9))
    xu = g.div(g.op("Neg", g.op("Floor", g.op("Neg", x10))), _c(g, 1e9))  # ceil
    du, dd = g.sub(xu, a), g.sub(a, xd)
    odd = g.op("Equal", g.sub(i10, g.mul(_c(g, 2.0), g.op("Floor", g.div(i10, _c(g, 2.0))))), _c(g, 1.0))
    up = g.op("Or", g.op("Less", du, dd), g.op("And", g.op("Equal", du, dd), odd))
    r = g.op("Where", up, xu, xd)
    r = g.op("Where", g.op("GreaterOrEqual", a, _c(g, 2.0 ** 20)), a, r)
    return g.op("Where", g.op("Less", x, _c(g, 0.0)), g.op("Neg", r), r)


def convert(fit, g) -> Converted:
    m = bridge.py(bridge.call(R_MODEL, fit))
    kind = bridge.scalar(m["type"])
    kernel = KERNELS.get(bridge.scalar(m["kernel"]))
    if kind not in TYPES:
        raise UnsupportedError(f"ksvm of type {kind!r} is not supported; supported types: {', '.join(TYPES)}")
    if kernel is None:
        raise UnsupportedError(f"ksvm with the kernel {bridge.scalar(m['kernel'])!r} is not supported; supported "
                               f"kernels: {', '.join(KERNELS.values())}")
    m["formula"] = bool(bridge.scalar(m["formula"]))
    kpar = {k: float(bridge.scalar(v)) for k, v in (m["kpar"] or {}).items()}
    svs = [np.asarray(v, dtype=np.float64).reshape(len(c), -1) if len(c) else np.zeros((0, 0))
           for v, c in zip(m["xm"], m["coef"])]
    p = max(s.shape[1] for s in svs)
    frame, x, cols = _frame(fit, g, m, p)
    scaled = m["scaled"]
    if scaled is not None and np.asarray(scaled, dtype=bool).any():
        on = np.asarray(scaled, dtype=bool).reshape(-1)
        center, scale = np.zeros(len(on)), np.ones(len(on))
        center[on] = np.asarray(m["center"], dtype=np.float64).reshape(-1)
        scale[on] = np.asarray(m["scale"], dtype=np.float64).reshape(-1)
        x = g.div(g.sub(x, g.const(center[None, :])), g.const(scale[None, :]))
    # every pair's support vectors side by side; each pair's coefficients in its own column
    sv = np.concatenate([s for s in svs if s.size], axis=0)
    dotb = np.concatenate([np.asarray(d, dtype=np.float64).reshape(-1) for d in m["dotb"]])
    coef = np.zeros((len(sv), len(svs)))
    at = 0
    for j, c in enumerate(m["coef"]):
        c = np.asarray(c, dtype=np.float64).reshape(-1)
        coef[at:at + len(c), j] = c
        at += len(c)
    kv = _kernel(g, x, sv, dotb, kernel, kpar)
    b = np.asarray(m["b"], dtype=np.float64).reshape(-1)
    dec = g.sub(g.matmul(kv, g.const(coef)), g.const(b[None, :]))
    desc = f"ksvm ({kind}, {kernel})"
    col_r = bridge.robjects().StrVector(cols or [])
    classify = kind in ("C-svc", "nu-svc")
    prob = m["prob"] is not None and classify

    def predict(df):
        return bridge.py(bridge.call(R_PREDICT, fit, df, col_r, m["formula"], prob, classify))

    if not classify:
        if m["yscale"] is not None:
            ys = np.asarray(m["yscale"], dtype=np.float64)
            dec = g.add(g.mul(dec, _c(g, ys[1])), _c(g, ys[0]))
        outputs = value_output(g, dec, "prediction")

        def reference(df):
            return {"prediction": np.asarray(predict(df)["value"], dtype=np.float64).reshape(-1, 1)}
        return Converted(frame, outputs, "regressor", reference, description=desc)
    return _classifier(g, frame, dec, m, prob, predict, desc)


def _pairs(k):
    return [(i, j) for i in range(k - 1) for j in range(i + 1, k)]


def _classifier(g, frame, dec, m, prob, predict, desc):
    levels = list(m["lev"])
    k = len(levels)
    pairs = _pairs(k)
    # votes: a pair's first class where its decision value is below 0, its second above 0
    first, second = np.zeros((len(pairs), k)), np.zeros((len(pairs), k))
    for p, (i, j) in enumerate(pairs):
        first[p, i], second[p, j] = 1.0, 1.0
    below = g.to_double(g.op("Less", dec, _c(g, 0.0)))
    above = g.to_double(g.op("Greater", dec, _c(g, 0.0)))
    votes = g.add(g.matmul(below, g.const(first)), g.matmul(above, g.const(second)))
    if prob:
        ab = np.asarray(m["prob"], dtype=np.float64).reshape(len(pairs), 2)
        outputs = classifier_outputs(g, minpair(g, _binprob(g, dec, ab), k), levels, label_from=votes)
    else:
        outputs = classifier_outputs(g, votes, levels, kind="value", label_from=votes)
    outputs += value_output(g, dec, "decision", len(pairs), names=[f"{levels[i]}/{levels[j]}" for i, j in pairs])

    def reference(df):
        r = predict(df)
        n = len(r["value"])
        return {"label": np.array(r["value"], dtype=object).reshape(-1, 1),
                "probabilities": np.asarray(r["scores"], dtype=np.float64).reshape(n, k),
                "decision": np.asarray(r["dec"], dtype=np.float64).reshape(n, len(pairs))}
    return Converted(frame, outputs, "classifier", reference, levels, desc)


def _binprob(g, dec, ab):
    """1 - kernlab's .SigmoidPredict(dec, A, B) per pair: [N, P] double."""
    f = g.add(g.mul(dec, g.const(ab[None, :, 0])), g.const(ab[None, :, 1]))
    e = g.op("Exp", g.op("Neg", f))
    pos = g.div(e, g.add(_c(g, 1.0), e))  # f >= 0
    neg = g.div(_c(g, 1.0), g.add(_c(g, 1.0), g.op("Exp", f)))
    sig = g.op("Where", g.op("GreaterOrEqual", f, _c(g, 0.0)), pos, neg)
    return g.sub(_c(g, 1.0), sig)


def minpair(g, r, k):
    """kernlab's minpair coupling of the pairwise probabilities r [N, P] (pairs (i, j), i < j,
    in row order): [N, k]. As kernlab writes it: probim's upper triangle takes r in R's
    column-major order of that triangle (for k >= 4 not the pairs' order), the lower triangle
    1 - r; Q = diag(colSums(probim^2)) with -r (1 - r) off the diagonal (same fill); the system
    [Q 1; 1' 0] p = e solved, and p[1:k] / sum(p[1:k])."""
    n_p = k * (k - 1) // 2
    upper = [(a, b) for b in range(k) for a in range(b)]
    lower = [(a, b) for b in range(k) for a in range(b + 1, k)]
    one_minus = g.sub(_c(g, 1.0), r)
    ent = g.concat([r, one_minus])  # [N, 2P]: probim's entries, upper then lower
    cs = np.zeros((2 * n_p, k))
    for t, (a, b) in enumerate(upper):
        cs[t, b] = 1.0
    for t, (a, b) in enumerate(lower):
        cs[n_p + t, b] = 1.0
    colsum = g.matmul(g.mul(ent, ent), g.const(cs))  # [N, k]
    off = g.op("Neg", g.mul(r, one_minus))  # [N, P]
    n, w = k + 1, k + 2  # the system and its augmented row width
    sel = np.zeros((k + n_p, n * w))
    base = np.zeros((1, n * w))
    for a in range(k):
        sel[a, a * w + a] = 1.0
        base[0, a * w + k] = 1.0  # last column of Q's rows: 1
        base[0, k * w + a] = 1.0  # last row: 1
    for t, (a, b) in enumerate(upper):
        sel[k + t, a * w + b] = 1.0
    for t, (a, b) in enumerate(lower):
        sel[k + t, a * w + b] = 1.0
    base[0, k * w + n] = 1.0  # right-hand side e_{k+1}
    aug = g.add(g.matmul(g.concat([colsum, off]), g.const(sel)), g.const(base))
    x = solve(g, aug, n)
    p = g.columns(x, list(range(k)))
    total = g.op("ReduceSum", p, g.const(np.array([1], dtype=np.int64), np.int64), keepdims=1)
    return g.div(p, total)


def solve(g, aug, n):
    """x [N, n] solving each row's system, given [A | b] row-major as [N, n (n + 1)]: Gaussian
    elimination with partial pivoting (the first largest |pivot|), multipliers times the
    pivot's reciprocal, then back substitution, in LAPACK dgesv's order of operations."""
    rest, w = aug, n + 1  # rest: rows k..n-1, columns k..n of the eliminated system
    pivots = []  # [N, n + 1 - k] pivot rows (columns k..n)
    for k in range(n):
        m, wk = n - k, w - k
        col = g.columns(rest, [i * wk for i in range(m)])
        if m > 1:
            piv = g.op("ArgMax", g.op("Abs", col), axis=1, keepdims=1)
            hot = g.op("Equal", piv, g.const(np.arange(m, dtype=np.int64)[None, :], np.int64))  # [N, m]
            spread = np.zeros((m, m * wk))
            for i in range(m):
                spread[i, i * wk:(i + 1) * wk] = 1.0
            mask = g.op("Greater", g.matmul(g.to_double(hot), g.const(spread)), _c(g, 0.5))  # [N, m wk]
            gather = np.zeros((m * wk, wk))
            for i in range(m):
                gather[i * wk:(i + 1) * wk, :] = np.eye(wk)
            # the pivot row: the one row picked (products with 0 and 1, sums with 0: exact)
            prow = g.matmul(g.op("Where", mask, rest, _c(g, 0.0)), g.const(gather))
            row0 = g.columns(rest, list(range(wk)))
            idx = [i * wk + j for i in range(1, m) for j in range(wk)]
            tiled = g.columns(row0, [j for _ in range(1, m) for j in range(wk)])
            # the row that was picked takes row k's place
            others = g.op("Where", g.columns(mask, idx), tiled, g.columns(rest, idx))  # [N, (m - 1) wk]
            pivots.append(prow)
            recip = g.div(_c(g, 1.0), g.columns(prow, [0]))
            mult = g.mul(g.columns(others, [i * wk for i in range(m - 1)]), recip)  # [N, m - 1]
            keep = [i * wk + j for i in range(m - 1) for j in range(1, wk)]
            lt = g.columns(mult, [i for i in range(m - 1) for _ in range(1, wk)])
            ut = g.columns(prow, [j for _ in range(m - 1) for j in range(1, wk)])
            rest = g.sub(g.columns(others, keep), g.mul(lt, ut))
        else:
            pivots.append(rest)
    # back substitution: x_k = y_k / u_kk, then y_i -= x_k u_ik for i < k
    y = g.concat([g.columns(pivots[k], [n - k]) for k in range(n)])  # [N, n]
    xs = [None] * n
    for k in range(n - 1, -1, -1):
        xs[k] = g.div(g.columns(y, [k]), g.columns(pivots[k], [0]))
        if k:
            u = g.concat([g.columns(pivots[i], [k - i]) for i in range(k)])  # u_ik, i < k
            y = g.concat([g.sub(g.columns(y, list(range(k))), g.mul(xs[k], u))] +
                         ([g.columns(y, list(range(k, n)))]))
    return g.concat(xs)
