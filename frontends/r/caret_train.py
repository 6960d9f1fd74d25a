"""caret::train: the wrapped finalModel, converted by its own module, fed with the columns
caret computes for it (the formula's model matrix, or the x data frame's columns) after
caret's preProcess; the reference is predict.train (type "raw", and "prob" for
classifiers).

preProcess methods: zv, nzv, corr (columns removed), range, center, scale, medianImpute,
pca, in predict.preProcess's order."""
from __future__ import annotations

import importlib

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted, class_and_prob, classifier_outputs
from .terms import Frame

PREPROCESS = ("zv", "nzv", "corr", "range", "center", "scale", "medianImpute", "pca")

R_INFO = r"""
function(f) {
  pp <- f$preProcess
  m <- if (is.null(pp)) list() else pp$method
  rb <- if (!is.null(pp$rangeBounds)) pp$rangeBounds else c(0, 1)
  ptype <- f$ptype
  list(method = f$method, type = f$modelType, levels = f$levels,
       formula = !is.null(f$terms), coefnames = f$coefnames,
       ptype_names = if (is.null(ptype)) NULL else names(ptype),
       ptype_levels = if (is.null(ptype)) NULL else lapply(ptype, function(v) if (is.factor(v)) levels(v) else NULL),
       ptype_char = if (is.null(ptype)) NULL else vapply(ptype, is.character, TRUE),
       final_class = class(f$finalModel),
       pp_method = m, mean = pp$mean, std = pp$std, ranges = pp$ranges, range_bounds = rb,
       median = pp$median, rotation = pp$rotation)
}
"""


def _names(v):
    return [] if v is None else [str(x) for x in v]


class _Columns:
    """The columns caret hands its finalModel: name -> double [N, 1], after preProcess."""

    def __init__(self, g, info, outer: Frame, numeric: list, factors: dict):
        self.g, self.info, self.outer = g, info, outer
        self.factors = factors
        self.values = {}
        if info["formula"]:
            names = _names(info["coefnames"])
            x = outer.matrix(names)
            for i, n in enumerate(names):
                self.values[n] = g.columns(x, [i])
        else:
            for n in numeric:
                self.values[n] = outer.numeric_column(n)
        self._preprocess()

    def _preprocess(self):
        g, info = self.g, self.info
        m = info["pp_method"] or {}
        unknown = [k for k in m if k not in PREPROCESS + ("ignore",)]
        if unknown:
            raise UnsupportedError(f"caret preProcess method(s) {', '.join(unknown)} are not supported; "
                                   f"supported: {', '.join(PREPROCESS)}")

        def cols(key):
            return _names(m.get(key))

        def const(x):
            return g.const(np.array([[x]]))
        if cols("range"):
            lo, hi = (float(b) for b in np.asarray(info["range_bounds"]).reshape(-1)[:2])
            r = np.asarray(info["ranges"], dtype=np.float64)
            names = cols("range")
            for j, n in enumerate(names):
                span = (r[1, j] - r[0, j]) / (hi - lo)
                self.values[n] = g.add(g.div(g.sub(self.values[n], const(r[0, j])), const(span)), const(lo))
        for key, op in (("center", g.sub), ("scale", g.div)):
            names = cols(key)
            if names:
                stats = self._stats("mean" if key == "center" else "std", names)
                for n, s in zip(names, stats):
                    self.values[n] = op(self.values[n], const(s))
        if cols("medianImpute"):
            names = cols("medianImpute")
            for n, med in zip(names, self._stats("median", names)):
                v = self.values[n]
                self.values[n] = g.op("Where", g.op("IsNaN", v), const(med), v)
        if cols("pca"):
            names = cols("pca")
            rot = np.asarray(info["rotation"], dtype=np.float64).reshape(len(names), -1)
            pcs = g.matmul(g.concat([self.values[n] for n in names]), g.const(rot))
            for n in names:
                del self.values[n]
            for j in range(rot.shape[1]):
                self.values[f"PC{j + 1}"] = g.columns(pcs, [j])

    def _stats(self, key, names):
        v = self.info.get(key)
        if isinstance(v, dict):
            return [float(np.asarray(v[n]).reshape(-1)[0]) for n in names]
        return list(np.asarray(v, dtype=np.float64).reshape(-1))

    def __call__(self, name, kind, levels):
        if kind == "number":
            if name not in self.values:
                raise UnsupportedError(f"caret's finalModel reads a column {name!r} that train() does not provide")
            return self.values[name]
        if name not in self.factors:
            raise UnsupportedError(f"caret's finalModel reads {name!r} as a factor; train() provides it as a number")
        return self.outer.factor_column(name, self.factors[name])


def convert(fit, g) -> Converted:
    from . import CLASSES, _available
    info = bridge.py(bridge.call(R_INFO, fit))
    info["formula"] = bool(bridge.scalar(info["formula"]))
    method = bridge.scalar(info["method"])
    # caret predicts a glmnet path at the tuned lambda (finalModel$lambdaOpt).
    final = bridge.call("function(f) { m <- f$finalModel; if (!is.null(m$lambdaOpt) && "
                        "is.null(attr(m, 'modelport.s'))) attr(m, 'modelport.s') <- m$lambdaOpt; m }", fit)
    final_classes = _names(info["final_class"])
    rclass = next((c for c in final_classes if c in CLASSES and _available(CLASSES[c][0])), None)
    if rclass is None:
        from . import supported
        raise UnsupportedError(f"caret model method {method!r} (finalModel class {'/'.join(final_classes)}) is not "
                               f"supported; supported finalModel classes: {supported()}")
    module = importlib.import_module(f".{CLASSES[rclass][0]}", __package__)
    package = CLASSES[rclass][1]
    if package not in ("stats", "base"):
        bridge.require(package, f"caret's finalModel of class {rclass}")
    classification = bridge.scalar(info["type"]) == "Classification"
    levels = _names(info["levels"])
    numeric, factors = [], {}
    if info["formula"]:
        outer = Frame.from_terms(g, bridge.call("function(f) f$terms", fit),
                                 bridge.call("function(f) f$xlevels", fit), None, None)
    else:
        names = _names(info["ptype_names"])
        plevels = info.get("ptype_levels") or {}
        chars = dict(zip(names, np.asarray(info.get("ptype_char") if info.get("ptype_char") is not None
                                           else [0] * len(names)).reshape(-1)))
        for n in names:
            lv = plevels.get(n) if isinstance(plevels, dict) else None
            if lv is not None:
                factors[n] = _names(lv)
            elif chars.get(n):
                raise UnsupportedError(f"caret x column {n!r} is character: convert it to a factor before train()")
            else:
                numeric.append(n)
        outer = Frame.from_columns(g, numeric, factors)
    g.upstream = _Columns(g, info, outer, numeric, factors)
    try:
        if rclass == "glm" and classification:
            outputs = _glm_classifier(module, final, g, levels)
            inner_task = "classifier"
        else:
            inner = module.convert(final, g)
            outputs, inner_task = inner.outputs, inner.task
    finally:
        g.upstream = None
    task = "classifier" if classification else "regressor"
    # predict.train gives the class and probabilities, or the prediction: nothing else.
    keep = ("label", "probabilities") if classification else ("prediction",)
    g.drop_outputs(keep)
    outputs = [c for c in outputs if c.tensor in keep]
    if inner_task != task:
        raise UnsupportedError(f"caret {method!r}: the finalModel ({rclass}) converts as a {inner_task}, "
                               f"train() is a {task}")

    def reference(df):
        if classification:
            return class_and_prob(fit, df, "raw", len(levels))
        y = bridge.py(bridge.call("function(f, d) as.numeric(predict(f, newdata = d))", fit, df))
        return {"prediction": np.asarray(y).reshape(-1, 1)}
    return Converted(outer, outputs, task, reference, classes=levels if classification else [],
                     description=f"caret::train (method {method!r}, finalModel {rclass})")


def _glm_classifier(glm_module, final, g, levels):
    """caret's glm for two classes: P(second level) = the glm's response."""
    from .lm import linear_predictor
    frame, eta = linear_predictor(final, g, "glm")
    fam = bridge.py(bridge.call("function(f) f$family$link", final))
    mu = glm_module.inverse_link(g, fam[0], eta)
    one = g.const(np.array([[1.0]]))
    probs = g.concat([g.sub(one, mu), mu])
    return classifier_outputs(g, probs, levels)
