"""glmnet::cv.glmnet: its glmnet path at lambda.min, as predict(fit, newx, s = "lambda.min").

lambda.min is our default (predict.cv.glmnet's own is lambda.1se); choose another with
`attr(fit, "modelport.s") <- "lambda.1se"` (or a number) before saveRDS. Columns and
outputs are those of the glmnet path (see glmnet.py).
"""
from __future__ import annotations

from modelport.errors import UnsupportedError, UsageError

from . import bridge
from .converted import Converted
from .glmnet import convert_at, option

R_LAMBDAS = "function(f) list(min = f$lambda.min, se = f$lambda.1se, relaxed = inherits(f, 'cv.relaxed'))"


def convert(fit, g) -> Converted:
    info = bridge.py(bridge.call(R_LAMBDAS, fit))
    if info["relaxed"][0]:
        raise UnsupportedError("cv.glmnet fits with relax = TRUE are not supported; supported: cv.glmnet "
                               "without relax (gaussian, binomial, multinomial, poisson families)")
    spec = option(fit)
    if spec is None:
        spec = "lambda.min"
    if isinstance(spec, str):
        if spec not in ("lambda.min", "lambda.1se"):
            raise UsageError(f"attr(fit, 'modelport.s') is {spec!r}; a cv.glmnet fit takes \"lambda.min\", "
                             "\"lambda.1se\" or a number")
        s = float(bridge.scalar(info["min" if spec == "lambda.min" else "se"]))
    else:
        s = spec
    path = bridge.call("function(f) f$glmnet.fit", fit)
    conv = convert_at(path, g, s, fit, spec, "cv.glmnet")
    conv.description = conv.description.replace("s = ", f"s = {spec} = " if isinstance(spec, str) else "s = ")
    return conv
