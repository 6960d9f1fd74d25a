"""One mgcv smooth term for new data, as mgcv's PredictMat computes it: the basis of its
class (mgcv_tprs, mgcv_cr, mgcv_cyclic, mgcv_pspline, random effects, tensor products of
those), then the identifiability constraints absorbed into the basis and any fixed
reparameterization (an affine map of each row, read from mgcv itself when the model is
read: see gam.R_GAM), and the `by` variable (a number multiplying the row, or a factor level
selecting it).

The model needs only the smooth's columns times its coefficients: `contribution` folds the
affine map and the coefficients into one vector u (in double, when the model is read), and
each basis evaluates its rows times u from its own tables (F u, BD u, UZ u, ...), without
making the rows; the sums then run in another order than R's (differences near 1e-16
relative). Tensor-product margins are made as rows (`raw`)."""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import mgcv_cr, mgcv_cyclic, mgcv_pspline, mgcv_tprs
from .intervals import scalar

# mgcv smooth class -> what it is called in messages (the bases this module evaluates)
BASES = {
    "tprs.smooth": 'bs = "tp"',
    "ts.smooth": 'bs = "ts"',
    "cr.smooth": 'bs = "cr"',
    "cs.smooth": 'bs = "cs"',
    "cyclic.smooth": 'bs = "cc"',
    "pspline.smooth": 'bs = "ps"',
    "random.effect": 'bs = "re"',
    "tensor.smooth": "te() and ti()",
}


def supported() -> str:
    return ", ".join(BASES.values())


def _numeric(frame, name: str) -> str:
    return frame.numeric_column(name)


def raw(g, frame, b: dict, label: str) -> str:
    """double [N, k]: the basis rows before constraints (Predict.matrix)."""
    cls = b["cls"]
    terms = list(b["term"])
    if cls in ("tprs.smooth", "ts.smooth"):
        xs = [_numeric(frame, t) for t in terms]
        return mgcv_tprs.basis(g, xs, b["shift"], b["Xu"], b["UZ"], int(b["m"]), int(b["M"]),
                               int(b.get("drop_null") or 0))
    if len(terms) != 1 and cls != "tensor.smooth" and cls != "random.effect":
        raise UnsupportedError(f"the smooth {label} has {len(terms)} covariates where its basis takes one")
    if cls in ("cr.smooth", "cs.smooth"):
        return mgcv_cr.basis(g, _numeric(frame, terms[0]), b["xp"], b["F"])
    if cls == "cyclic.smooth":
        return mgcv_cyclic.basis(g, _numeric(frame, terms[0]), b["xp"], b["BD"])
    if cls == "pspline.smooth":
        if int(b.get("mono") or 0) != 0:
            raise UnsupportedError(f"the smooth {label}: monotone P-splines are not supported")
        return mgcv_pspline.basis(g, _numeric(frame, terms[0]), b["knots"], int(b["ord"]), b["D"])
    if cls == "random.effect":
        return _random_effect(g, frame, b, label)
    if cls == "tensor.smooth":
        return _tensor(g, frame, b, label)
    raise UnsupportedError(f"the smooth {label} (mgcv class {cls}) is not supported; supported bases: {supported()}")


def raw_dot(g, frame, b: dict, u, label: str) -> str:
    """double [N, 1]: the basis rows before constraints times the vector u, without making
    the rows where the basis allows (u folded into its tables once, in double)."""
    cls = b["cls"]
    terms = list(b["term"])
    if cls in ("tprs.smooth", "ts.smooth"):
        xs = [_numeric(frame, t) for t in terms]
        return mgcv_tprs.basis(g, xs, b["shift"], b["Xu"], b["UZ"], int(b["m"]), int(b["M"]),
                               int(b.get("drop_null") or 0), u=u)
    if cls in ("cr.smooth", "cs.smooth") and len(terms) == 1:
        return mgcv_cr.dot(g, _numeric(frame, terms[0]), b["xp"], b["F"], u)
    if cls == "cyclic.smooth" and len(terms) == 1:
        return mgcv_cyclic.dot(g, _numeric(frame, terms[0]), b["xp"], b["BD"], u)
    if cls == "pspline.smooth" and len(terms) == 1 and not int(b.get("mono") or 0):
        return mgcv_pspline.dot(g, _numeric(frame, terms[0]), b["knots"], int(b["ord"]), b["D"], u)
    if cls == "tensor.smooth" and len(b["margins"]) == 2:
        return _tensor_dot(g, frame, b, u, label)
    return g.matmul(raw(g, frame, b, label), g.const(np.asarray(u, dtype=np.float64).reshape(-1, 1)))


def _margin(g, frame, m, label):
    x = raw(g, frame, m, label)
    if m.get("affine") is not None:
        x = constrained(g, x, m["affine"])
    if m.get("XP") is not None:
        x = g.matmul(x, g.const(np.asarray(m["XP"], dtype=np.float64)))
    return x


def _tensor_dot(g, frame, b, u, label):
    """Two margins L [N, p], R [N, q]: the tensor row (L_i R_j, i slowest) times u is the row
    sum of (L V) * R, V = u as a p x q matrix (zeros at the columns udrop leaves out)."""
    p, q = (_width(m) for m in b["margins"])
    full = np.zeros(p * q)
    keep = np.arange(p * q) if b.get("udrop") is None else np.asarray(b["udrop"]).reshape(-1).astype(int) - 1
    full[keep] = np.asarray(u, dtype=np.float64).reshape(-1)
    left, right = (_margin(g, frame, m, label) for m in b["margins"])
    lv = g.matmul(left, g.const(full.reshape(p, q)))
    return g.op("ReduceSum", g.mul(lv, right), g.const(np.array([1], np.int64), np.int64), keepdims=1)


def _random_effect(g, frame, b, label):
    terms = list(b["term"])
    if len(terms) != 1:
        raise UnsupportedError(f"the random effect {label} over several variables is not supported "
                               "(one factor or one number is)")
    levels = b.get("levels")
    if levels is None:
        return _numeric(frame, terms[0])
    v = frame.factor_column(terms[0], [str(x) for x in levels])
    # model.matrix(~ f - 1): an indicator per level; NA rows give NA (predict.gam)
    return g.op("Where", v.missing, scalar(g, np.nan), v.onehot)


def _tensor(g, frame, b, label):
    parts = [(_margin(g, frame, m, label), _width(m)) for m in b["margins"]]
    value, width = parts[0]
    for x, w in parts[1:]:  # row-wise Kronecker product, the first margin varying slowest
        left = g.matmul(value, g.const(np.kron(np.eye(width), np.ones((1, w)))))
        right = g.matmul(x, g.const(np.kron(np.ones((1, width)), np.eye(w))))
        value, width = g.mul(left, right), width * w
    if b.get("udrop") is not None:
        value = g.columns(value, [int(i) - 1 for i in np.asarray(b["udrop"]).reshape(-1)])
    return value


def _width(m: dict) -> int:
    if m.get("XP") is not None:
        return int(np.asarray(m["XP"]).shape[1])
    if m.get("affine") is not None:
        return int(np.asarray(m["affine"]["W"]).shape[1])
    return int(m["k"])


def constrained(g, x: str, affine: dict) -> str:
    """x [N, k] through the smooth's affine map (constraints, reparameterization)."""
    W = np.asarray(affine["W"], dtype=np.float64)
    W = W.reshape(int(affine["k"]), -1)
    out = g.matmul(x, g.const(W))
    w0 = np.asarray(affine["w0"], dtype=np.float64).reshape(1, -1)
    if np.any(w0 != 0):
        out = g.add(out, g.const(w0))
    return out


def contribution(g, frame, sm: dict, beta) -> str:
    """double [N, 1]: the smooth's columns times its coefficients, X beta, computed as
    by * (X_raw (W beta) + w0 beta) (the affine map folded into the coefficients)."""
    W = np.asarray(sm["affine"]["W"], dtype=np.float64).reshape(int(sm["affine"]["k"]), -1)
    w0 = np.asarray(sm["affine"]["w0"], dtype=np.float64).reshape(-1)
    beta = np.asarray(beta, dtype=np.float64).reshape(-1)
    x = raw_dot(g, frame, sm["basis"], W @ beta, sm["label"])
    c0 = float(w0 @ beta)
    if c0 != 0.0:
        x = g.add(x, scalar(g, c0))
    return _by(g, frame, sm, x)


def _by(g, frame, sm, x):
    by = sm.get("by") or "NA"
    if by == "NA":
        return x
    if sm.get("by_levels") is not None:
        v = frame.factor_column(by, [str(lv) for lv in sm["by_levels"]])
        i = [str(lv) for lv in sm["by_levels"]].index(str(sm["by_level"]))
        pick = g.columns(v.onehot, [i])
        pick = g.op("Where", v.missing, scalar(g, np.nan), pick)
        return g.mul(pick, x)
    return g.mul(_numeric(frame, by), x)


def knots(b: dict) -> dict:
    """{column: knots} of a basis, for parity rows (on them, beside them and beyond them)."""
    cls = b["cls"]
    terms = list(b["term"])
    if cls in ("cr.smooth", "cs.smooth", "cyclic.smooth"):
        return {terms[0]: list(np.asarray(b["xp"], dtype=np.float64).reshape(-1))}
    if cls == "pspline.smooth":
        return {terms[0]: list(np.asarray(b["knots"], dtype=np.float64).reshape(-1))}
    if cls in ("tprs.smooth", "ts.smooth"):
        Xu = np.asarray(b["Xu"], dtype=np.float64).reshape(-1, len(terms))
        shift = np.asarray(b["shift"], dtype=np.float64).reshape(-1)
        return {t: list(Xu[:, j] + shift[j]) for j, t in enumerate(terms)}
    if cls == "tensor.smooth":
        out = {}
        for m in b["margins"]:
            for k, v in knots(m).items():
                out.setdefault(k, []).extend(v)
        return out
    return {}
