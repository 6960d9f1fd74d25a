"""mgcv::gam and mgcv::bam: the linear predictor and the response, as predict.gam computes
type = "link" and type = "response" for new data.

eta = X_p b_p (the parametric terms, rebuilt from the fit's pterms like any formula) + the
columns of each smooth (mgcv_smooth: its basis, its absorbed constraints and its `by`
variable) times their coefficients, + offsets; the response is the family's inverse link of
eta. The constraints of each smooth are read from mgcv itself: PredictMat is run once on the
unit rows of the smooth's basis (through a basis that returns them), which gives the affine
map it applies to every row; the bases themselves are evaluated in the graph as mgcv
evaluates them.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge, mgcv_smooth
from .converted import Converted, value_output
from .glm import LINKS, inverse_link
from .terms import Frame

R_GAM = r"""
function(fit) {
  # A basis that returns the rows it is given: PredictMat applied to it shows the affine map
  # (constraints, reparameterization) it applies after the basis.
  registerS3method("Predict.matrix", "modelport_rows", function(object, data) object$modelport_rows,
                   envir = asNamespace("mgcv"))
  d1 <- fit$model[1, , drop = FALSE]
  width <- function(sm) ncol(mgcv:::Predict.matrix3(sm, d1)$X)
  affine <- function(sm) {
    k <- width(sm)
    s2 <- sm
    s2$by <- "NA"
    class(s2) <- c("modelport_rows", class(sm))
    s2$modelport_rows <- rbind(0, diag(k))
    A <- mgcv::PredictMat(s2, fit$model[rep(1, k + 1), , drop = FALSE])
    list(k = k, w0 = unname(A[1, ]), W = unname(sweep(A[-1, , drop = FALSE], 2, A[1, ])))
  }
  basis <- function(sm) {
    cls <- class(sm)[1]
    out <- list(cls = cls, term = sm$term, k = width(sm))
    if (cls %in% c("tprs.smooth", "ts.smooth")) {
      out$shift <- sm$shift; out$Xu <- unname(sm$Xu); out$UZ <- unname(sm$UZ); out$m <- sm$p.order[1]
      out$M <- mgcv:::null.space.dimension(sm$dim, sm$p.order[1])
      out$drop_null <- if (is.null(sm$drop.null)) 0 else sm$drop.null
    } else if (cls %in% c("cr.smooth", "cs.smooth")) {
      out$xp <- unname(sm$xp); out$F <- unname(sm$F)
    } else if (cls == "cyclic.smooth") {
      out$xp <- unname(sm$xp); out$BD <- unname(sm$BD)
    } else if (cls == "pspline.smooth") {
      ord <- sm$m[1] + 2
      nk <- length(sm$knots)
      ll <- sm$knots[ord]; ul <- sm$knots[nk - ord + 1]
      out$knots <- sm$knots; out$ord <- ord; out$mono <- sm$mono
      out$D <- unname(splines::spline.des(sm$knots, c(ll, ll, ul, ul), ord, c(0, 1, 0, 1))$design)
    } else if (cls == "random.effect") {
      v <- fit$model[[sm$term[1]]]
      if (is.factor(v)) out$levels <- levels(v)
    } else if (cls == "tensor.smooth") {
      out$margins <- lapply(seq_along(sm$margin), function(i) {
        m <- basis(sm$margin[[i]])
        if (isTRUE(sm$mc[i])) m$affine <- affine(sm$margin[[i]])
        if (length(sm$XP) >= i && !is.null(sm$XP[[i]])) m$XP <- unname(sm$XP[[i]])
        m
      })
      out$udrop <- sm$udrop
    }
    out
  }
  smooths <- lapply(fit$smooth, function(sm) {
    by_levels <- if (sm$by != "NA" && is.factor(fit$model[[sm$by]])) levels(fit$model[[sm$by]]) else NULL
    if (!is.null(sm$ind)) stop("smooths with a summation index are not supported")
    list(label = sm$label, first = sm$first.para, last = sm$last.para, by = sm$by,
         by_level = if (is.null(sm$by.level)) NULL else as.character(sm$by.level), by_levels = by_levels,
         basis = basis(sm), affine = affine(sm))
  })
  fam <- fit$family
  list(nsdf = fit$nsdf, coef = unname(coef(fit)), names = names(coef(fit)), family = fam$family,
       link = fam$link, nlp = if (is.null(fam$nlp)) 1L else fam$nlp, smooths = smooths)
}
"""

R_PREDICT = ("function(f, d) list(unname(as.numeric(predict(f, newdata = d, type = 'response'))), "
             "unname(as.numeric(predict(f, newdata = d, type = 'link'))))")


SCALARS = ("cls", "label", "by", "by_level", "m", "M", "drop_null", "ord", "mono", "k", "first", "last")


def _scalars(d):
    """The one-element vectors R gives for scalars, as scalars (through nested lists)."""
    if isinstance(d, dict):
        return {k: (bridge.scalar(v) if k in SCALARS and v is not None else _scalars(v)) for k, v in d.items()}
    if isinstance(d, list) and d and isinstance(d[0], dict):
        return [_scalars(v) for v in d]
    return d


def convert(fit, g) -> Converted:
    try:
        m = _scalars(bridge.py(bridge.call(R_GAM, fit)))
    except bridge.RError as exc:
        raise UnsupportedError(f"cannot read the gam: {exc}") from None
    family, link = str(m["family"][0]), str(m["link"][0])
    if int(bridge.scalar(m.get("nlp"), 1)) != 1:
        raise UnsupportedError(f"gam with the {family} family (several linear predictors) is not supported; "
                               "supported: families with one linear predictor")
    if link not in LINKS:
        raise UnsupportedError(f"the gam link {link!r} ({family} family) is not supported; "
                               f"supported links: {', '.join(LINKS)}")
    beta = np.nan_to_num(np.asarray(m["coef"], dtype=np.float64), nan=0.0)
    names = list(m["names"])
    nsdf = int(bridge.scalar(m["nsdf"], 0))
    get = bridge.function("function(f, n) f[[n]]")
    offset_call = bridge.call("function(f) if (is.null(f$call$offset)) list() else list(f$call$offset)", fit)
    frame = Frame.from_terms(g, get(fit, "pterms"), get(fit, "xlevels"), get(fit, "contrasts"), offset_call)
    parts = []
    pnames = names[:nsdf]
    b0 = 0.0
    if "(Intercept)" in pnames:
        i = pnames.index("(Intercept)")
        b0 = beta[i]
        pnames = pnames[:i] + pnames[i + 1:]
        bp = np.delete(beta[:nsdf], i)
    else:
        bp = beta[:nsdf]
    if pnames:
        parts.append(g.linear(frame.matrix(pnames), bp, [0.0]))
    smooths = m.get("smooths") or []
    thresholds = {}
    for sm in smooths:
        first, last = int(sm["first"]), int(sm["last"])
        parts.append(mgcv_smooth.contribution(g, frame, sm, beta[first - 1:last]))
        for col, vals in mgcv_smooth.knots(sm["basis"]).items():
            thresholds.setdefault(col, []).extend(vals)
    if not parts:
        raise UnsupportedError("the gam has no terms but its intercept (a constant)")
    eta = parts[0]
    for p in parts[1:]:
        eta = g.add(eta, p)
    eta = g.add(eta, g.const(np.array([[b0]])))
    off = frame.offset()
    if off is not None:
        eta = g.add(eta, off)
    mu = inverse_link(g, link, eta)
    outputs = value_output(g, mu, "prediction") + value_output(g, eta, "link")

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, fit, df))
        return {"prediction": np.asarray(r[0], dtype=np.float64).reshape(-1, 1),
                "link": np.asarray(r[1], dtype=np.float64).reshape(-1, 1)}
    what = f"{len(smooths)} smooth{'s' if len(smooths) != 1 else ''}"
    return Converted(frame, outputs, "regressor", reference, description=f"gam ({family}, {link} link, {what})",
                     thresholds=thresholds)
