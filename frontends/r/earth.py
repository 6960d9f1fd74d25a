"""earth::earth (MARS), formula and x/y interfaces, as predict.earth computes it.

The input columns become earth's x matrix: for a formula the model matrix of its terms without
the intercept (factors coded by their contrasts, as model.matrix codes them), for x/y the
columns of x. Each selected term is a product, over x's columns in order, of its factors:
`dirs` 1 / -1 give the hinge h = d * (x - cut) * (h > 0) (`cuts`), 2 gives x itself (linpreds
and factor indicators). The response is bx %*% coefficients (+ the formula's offset), one
column per response. With `glm = list(family = ...)` each response has its own glm on the
same basis: link = bx %*% glm.coefficients (+ offset), response = the family's inverse link.
A factor response gives `label` as predict(type = "class"): the level of the largest response
(two levels: the second where the response is > 0.5). Outputs: `prediction` (type
"response") and, with a glm, `link`; binomial glms on a factor response give `prob_<level>`
(two levels: 1 - p and p) in place of `prediction`.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, classifier_outputs, value_output
from .glm import LINKS, inverse_link
from .terms import Frame

R_MODEL = r"""
function(f) {
  coef <- as.matrix(f$coefficients)
  glm <- lapply(f$glm.list, function(m) list(family = m$family$family, link = m$family$link))
  list(dirs = unname(f$dirs), cuts = unname(f$cuts), columns = colnames(f$dirs),
       selected = as.integer(f$selected.terms), coef = unname(coef), responses = colnames(coef),
       glm_coef = if (is.null(f$glm.coefficients)) NULL else unname(as.matrix(f$glm.coefficients)),
       glm = glm, levels = if (is.null(f$levels)) NULL else as.character(f$levels),
       namesx = f$namesx, formula = !is.null(f$terms),
       multi_formula = !is.null(f$terms) && !is.null(attr(f$terms, "Formula")))
}
"""

# The terms of the right-hand side (a multiple-response formula y1 + y2 ~ x keeps its responses
# as the first terms, listed in attr "Response").
R_TERMS = r"""
function(f) {
  tt <- f$terms
  if (!is.null(attr(tt, "Formula"))) tt <- tt[-attr(tt, "Response")]
  tt
}
"""

R_GET = "function(f, n) f[[n]]"

# predict.earth's response, link and class; ordered factors are given back their class (the
# data frame carries plain factors), and x/y fits get a matrix, as they were fitted on.
R_PREDICT = r"""
function(f, d, xy, glm, class) {
  dc <- if (is.null(f$terms)) NULL else attr(f$terms, "dataClasses")
  for (v in names(dc)[dc == "ordered"]) if (is.factor(d[[v]])) d[[v]] <- factor(d[[v]], levels = levels(d[[v]]), ordered = TRUE)
  if (xy) d <- as.matrix(d)
  out <- list(response = unname(as.matrix(predict(f, newdata = d, type = "response"))))
  if (glm) out$link <- unname(as.matrix(predict(f, newdata = d, type = "link")))
  if (class) out$class <- as.character(predict(f, newdata = d, type = "class"))
  out
}
"""


def design(fit, g, m: dict):
    """(frame, x [N, p] double): earth's x matrix, with columns named as colnames(dirs)."""
    columns = list(m["columns"])
    if bool(m["formula"][0]):
        terms = bridge.call(R_TERMS, fit)
        get = bridge.function(R_GET)
        frame = Frame.from_terms(g, terms, get(fit, "xlevels"))
        return frame, frame.matrix(columns)
    namesx = list(m["namesx"] or [])
    if namesx != columns:
        raise UnsupportedError("earth fitted by the x/y interface on a data frame with factor columns is not "
                               "supported (the fit does not record their levels, and predict.earth codes them "
                               "from the new data's own levels); fit it with the formula interface, or give x "
                               "as numeric columns")
    if len(set(columns)) != len(columns):
        raise UnsupportedError("the columns of x have duplicate names; give them distinct colnames")
    frame = Frame.from_columns(g, columns)
    return frame, g.concat([frame.numeric_column(c) for c in columns])


def factors(dirs: np.ndarray, cuts: np.ndarray, term: int) -> list:
    """The factors of one term, in x's column order: (column, dir, cut)."""
    out = []
    for j, d in enumerate(dirs[term]):
        if d == 0:
            continue
        if d not in (-1, 1, 2):
            raise UnsupportedError(f"earth term with direction {d:g} is not supported; supported directions: "
                                   "1 and -1 (hinges) and 2 (linear)")
        out.append((j, int(d), float(cuts[term, j]) if d != 2 else 0.0))
    return out


def basis(g, x: str, terms: list) -> str:
    """bx [N, T] of the non-constant terms (each a list of factors), as get.bx computes them:
    per factor h = d * (x - cut), times (h > 0); linear factors are x; products in order."""
    pool = sorted({f for t in terms for f in t if f[1] != 2}) + sorted({f for t in terms for f in t if f[1] == 2})
    index = {f: i for i, f in enumerate(pool)}
    hinges = [f for f in pool if f[1] != 2]
    linear = [f for f in pool if f[1] == 2]
    parts = []
    if hinges:
        xs = g.columns(x, [f[0] for f in hinges])
        cut = g.const(np.array([[f[2] for f in hinges]]))
        sign = g.const(np.array([[float(f[1]) for f in hinges]]))
        h = g.mul(sign, g.sub(xs, cut))
        parts.append(g.mul(h, g.to_double(g.op("Greater", h, g.const(np.array([[0.0]]))))))
    if linear:
        parts.append(g.columns(x, [f[0] for f in linear]))
    factor_values = g.concat(parts)
    width = max(len(t) for t in terms)
    product = None
    for k in range(width):
        # terms of fewer factors take the first factor again at slot k, masked to 1 below
        idx = [index[t[k]] if k < len(t) else index[t[0]] for t in terms]
        col = g.columns(factor_values, idx)
        if k and any(len(t) <= k for t in terms):
            has = np.array([[1.0 if len(t) > k else 0.0 for t in terms]])
            col = g.op("Where", g.const(has > 0.5, bool), col, g.const(np.array([[1.0]])))
        product = col if product is None else g.mul(product, col)
    return product


def combine(g, bx: str, coef: np.ndarray, constant: np.ndarray, offset) -> str:
    """bx %*% coef + the constant terms' coefficients (+ offset): [N, R]."""
    eta = g.linear(bx, coef, constant)
    return eta if offset is None else g.add(eta, offset)


def coefficients(m: dict, n_terms: int) -> tuple:
    """(coef [T, R] applying to the basis, glm families [{family, link}] or [])."""
    glms = m["glm"] or []
    if not glms:
        return np.asarray(m["coef"], dtype=np.float64).reshape(n_terms, -1), []
    # aliased glm coefficients (NA) count as zero, as predict.glm's rank-deficient fit drops them
    coef = np.nan_to_num(np.asarray(m["glm_coef"], dtype=np.float64).reshape(n_terms, -1), nan=0.0)
    families = [(str(f["family"][0]), str(f["link"][0])) for f in glms]
    for family, link in families:
        if link not in LINKS:
            raise UnsupportedError(f"earth with a glm link {link!r} ({family} family) is not supported; "
                                   f"supported links: {', '.join(LINKS)}")
    if len(families) != coef.shape[1]:
        raise UnsupportedError(f"earth with {coef.shape[1]} responses but {len(families)} glm models is not supported")
    return coef, families


def linear_predictor(g, x: str, per_term: list, coef: np.ndarray, offset) -> str:
    """eta [N, R]: the basis of the selected terms times their coefficients (+ offset)."""
    varying = [i for i, t in enumerate(per_term) if t]
    if not varying:
        raise UnsupportedError("an earth model of the intercept alone (no selected terms) is not supported")
    constant = coef[[i for i, t in enumerate(per_term) if not t]].sum(axis=0)
    # the terms grouped by degree (the rows of coef follow), so that each product is one Mul per slot
    order = sorted(varying, key=lambda i: len(per_term[i]))
    return combine(g, basis(g, x, [per_term[i] for i in order]), coef[order], constant, offset)


def response_outputs(g, eta: str, families: list, classes: list, responses: list) -> tuple:
    """(outputs, task, binomial): `prediction` or `label` with `prob_<level>` / `prediction`,
    then `link` for glm fits."""
    width = len(responses)
    response = g.concat([inverse_link(g, link, g.columns(eta, [i]) if width > 1 else eta)
                         for i, (_, link) in enumerate(families)]) if families else eta
    names = responses if width > 1 else None
    binomial = bool(families) and all(f in ("binomial", "quasibinomial") for f, _ in families)
    if not classes:
        outputs, task = value_output(g, response, "prediction", width, names=names), "regressor"
    else:
        if width == 1 and len(classes) == 2:
            # the second level where p > 0.5: ArgMax of (1 - p, p), the first at a tie
            scores = g.concat([g.sub(g.const(np.array([[1.0]])), response), response])
        elif width == len(classes):
            scores = response
        else:
            raise UnsupportedError(f"earth with a factor response of {len(classes)} levels and {width} response "
                                   "column(s) is not supported")
        outputs, task = classifier_outputs(g, scores, classes), "classifier"
        if not binomial:
            g.drop_outputs([o.name for o in g.outputs if o.name != "probabilities"])
            outputs = outputs[:1] + value_output(g, response, "prediction", width, names=names)
    if families:
        outputs += value_output(g, eta, "link", width, names=names)
    return outputs, task, binomial


def thresholds(frame, columns: list, per_term: list) -> dict:
    """The knots of the hinges on plain numeric input columns."""
    out = {}
    for t in per_term:
        for j, d, c in t:
            col = frame.columns.get(columns[j])
            if d != 2 and col is not None and col.kind == "number":
                out.setdefault(columns[j], set()).add(c)
    return {k: sorted(v) for k, v in out.items()}


def convert(fit, g) -> Converted:
    m = bridge.py(bridge.call(R_MODEL, fit))
    columns = list(m["columns"])
    dirs = np.asarray(m["dirs"], dtype=np.float64).reshape(-1, len(columns))
    cuts = np.asarray(m["cuts"], dtype=np.float64).reshape(dirs.shape)
    selected = [int(s) - 1 for s in np.asarray(m["selected"]).reshape(-1)]
    coef, families = coefficients(m, len(selected))
    responses = [str(r) for r in (m["responses"] or [f"y{i + 1}" for i in range(coef.shape[1])])]
    classes = [str(v) for v in (m["levels"] or [])]
    formula = bool(m["formula"][0])
    frame, x = design(fit, g, m)
    per_term = [factors(dirs, cuts, s) for s in selected]
    # x/y fits: predict.earth reads an offset from the formula only
    eta = linear_predictor(g, x, per_term, coef, frame.offset() if formula else None)
    outputs, task, binomial = response_outputs(g, eta, families, classes, responses)
    width = len(responses)

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df, not formula, bool(families), bool(classes)))
        resp = np.asarray(r["response"], dtype=np.float64).reshape(-1, width)
        out = {"prediction": resp}
        if classes:
            out = {"label": np.array(r["class"], dtype=object).reshape(-1, 1)}
            if binomial:
                out["probabilities"] = np.hstack([1.0 - resp, resp]) if width == 1 else resp
            else:
                out["prediction"] = resp
        if families:
            out["link"] = np.asarray(r["link"], dtype=np.float64).reshape(-1, width)
        return out

    what = f"earth (degree {max(len(t) for t in per_term)}, {len(selected)} terms"
    if families:
        what += f", glm {families[0][0]} {families[0][1]} link"
    return Converted(frame, outputs, task, reference, classes, what + ")",
                     thresholds=thresholds(frame, columns, per_term))
