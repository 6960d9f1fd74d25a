"""glmnet::glmnet (gaussian, binomial, multinomial, poisson) at one lambda, as predict.glmnet.

The lambda `s` is the last (smallest) lambda of the path, unless the fit carries another:
`attr(fit, "modelport.s") <- 0.01` before saveRDS (any s >= 0; between two lambdas of the
path the coefficients are interpolated, as coef(fit, s = s) does). Input columns are
colnames(x) (V1, V2, ... when x had none), read by position as predict(fit, newx) does.
Outputs: gaussian `prediction`; poisson `prediction` (type = "response", the mean);
binomial and multinomial `label` (type = "class") and `prob_<class>` (type = "response";
for binomial the first class gets 1 - p); without class names (a y matrix with no
colnames) `prediction`, the probabilities of type = "response".
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError, UsageError

from . import bridge
from .converted import Converted, classifier_outputs, value_output
from .terms import Frame

FAMILIES = {"elnet": "gaussian", "lognet": "binomial", "multnet": "multinomial", "fishnet": "poisson"}

# R: coefficients at s as a [1 + p, K] matrix (K = 1 but for multinomial), their row names,
# the class names and whether the fit needs an offset at prediction time.
R_COEF = r"""
function(f, s) {
  if (is.null(s)) s <- f$lambda[length(f$lambda)]
  b <- coef(f, s = s)
  cls <- NULL
  if (is.list(b)) { cls <- names(b); m <- sapply(b, function(z) as.numeric(as.matrix(z))); rn <- rownames(b[[1]]) }
  else { m <- as.matrix(b); rn <- rownames(b) }
  if (!is.null(f$classnames)) cls <- f$classnames
  list(coef = unname(matrix(m, nrow = length(rn))), names = rn, classes = cls,
       offset = isTRUE(f$offset), lambda = f$lambda[length(f$lambda)])
}
"""

R_OPTION = "function(f) { s <- attr(f, 'modelport.s'); if (is.null(s)) NULL else s }"

# R: predict at s on the data frame's columns (by position, as newx); list(class, response).
R_PREDICT = r"""
function(f, d, s, cols, classify) {
  x <- as.matrix(d[, cols, drop = FALSE])
  r <- predict(f, newx = x, s = s, type = "response")
  r <- matrix(r, nrow = nrow(x))  # multinomial: [n, K, 1] -> [n, K]
  lab <- if (classify) as.character(predict(f, newx = x, s = s, type = "class")) else NULL
  list(label = lab, response = r)
}
"""


def option(fit):
    """The `modelport.s` attribute of the fit (a number or a string), or None."""
    v = bridge.py(bridge.call(R_OPTION, fit))
    if v is None:
        return None
    if isinstance(v, list):
        if len(v) != 1:
            raise UsageError(f"attr(fit, 'modelport.s') must be one value, not {v}")
        return v[0]
    arr = np.asarray(v, dtype=np.float64).reshape(-1)
    if arr.size != 1 or not np.isfinite(arr[0]) or arr[0] < 0:
        raise UsageError(f"attr(fit, 'modelport.s') must be one lambda >= 0, not {arr.tolist()}")
    return float(arr[0])


def convert(fit, g) -> Converted:
    s = option(fit)
    if isinstance(s, str):
        raise UsageError(f"attr(fit, 'modelport.s') is {s!r}: a glmnet fit takes a number (lambda.min and "
                         "lambda.1se are for cv.glmnet fits)")
    return convert_at(fit, g, s, fit, s, "glmnet")


def convert_at(path, g, s, ref_fit, ref_s, label) -> Converted:
    """The glmnet path `path` at lambda s (None: its smallest); the reference is
    predict(ref_fit, newx, s = ref_s) (a cv.glmnet fit may stand for its path)."""
    cls = bridge.classes(path)
    kind = next((c for c in cls if c in FAMILIES), None)
    if kind is None or "relaxed" in cls:
        raise UnsupportedError(f"glmnet fits of class {'/'.join(cls)} are not supported; supported families: "
                               "gaussian (elnet), binomial (lognet), multinomial (multnet), poisson (fishnet), "
                               "given as a string (family = \"binomial\"), without relax = TRUE")
    ro = bridge.robjects()
    info = bridge.py(bridge.call(R_COEF, path, ro.NULL if s is None else ro.FloatVector([s])))
    if info["offset"][0]:
        raise UnsupportedError("glmnet fits with an offset are not supported (predict() needs newoffset)")
    if s is None:
        s = float(bridge.scalar(info["lambda"]))
        if ref_s is None:
            ref_s = s
    coef = np.asarray(info["coef"], dtype=np.float64)
    names = info["names"][1:]
    if len(set(names)) != len(names):
        raise UnsupportedError("the columns of x have duplicate names; give them distinct colnames")
    frame = Frame.from_columns(g, names)
    x = g.concat([frame.numeric_column(n) for n in names])
    eta = g.linear(x, coef[1:], coef[0])
    family = FAMILIES[kind]
    classes = info.get("classes") or []
    # a y matrix without column names has no class names: predict(type = "class") fails, so
    # such fits give type = "response" only
    classify = family in ("binomial", "multinomial") and bool(classes)
    if family == "gaussian":
        outputs = value_output(g, eta, "prediction")
    elif family == "poisson":
        outputs = value_output(g, g.op("Exp", eta), "prediction")
    elif not classify:
        mu = g.op("Sigmoid", eta) if family == "binomial" else g.op("Softmax", eta, axis=1)
        outputs = value_output(g, mu, "prediction", coef.shape[1])
    elif family == "binomial":
        p = g.op("Sigmoid", eta)
        probs = g.concat([g.sub(g.const(np.array([[1.0]])), p), p])
        # type = "class" is the second class where eta > 0: argmax of (-eta, eta), first on a tie
        outputs = classifier_outputs(g, probs, classes, label_from=g.concat([g.op("Neg", eta), eta]))
    else:
        outputs = classifier_outputs(g, g.op("Softmax", eta, axis=1), classes, label_from=eta)
    s_r = ro.StrVector([ref_s]) if isinstance(ref_s, str) else ro.FloatVector([ref_s])

    def reference(df):
        r = bridge.py(bridge.call(R_PREDICT, ref_fit, df, s_r, ro.StrVector(names), classify))
        resp = np.asarray(r["response"], dtype=np.float64)
        if not classify:
            return {"prediction": resp.reshape(len(resp), -1)}
        if family == "binomial":
            resp = np.column_stack([1.0 - resp[:, 0], resp[:, 0]])
        return {"label": np.array(r["label"], dtype=object).reshape(-1, 1), "probabilities": resp}
    task = "classifier" if classify else "regressor"
    return Converted(frame, outputs, task, reference, classes=list(classes) if classify else [],
                     description=f"{label} ({family}, s = {s:.6g})")
