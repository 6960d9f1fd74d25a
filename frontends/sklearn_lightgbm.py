"""skl2onnx converters for LightGBM's scikit-learn wrappers (LGBMClassifier, LGBMRegressor),
bare or as the last step of a pipeline.

They build what the wrappers' predict / predict_proba compute, in double, from the Booster's
own trees (frontends/lightgbm_model.py, frontends/lightgbm_graph.py), with the iterations
predict uses (up to best_iteration_ after early stopping). Outputs: `label` and
`probabilities` for classifiers, `variable` [N, 1] for regressors.
"""
from __future__ import annotations

from modelport.errors import UnsupportedError

from . import lightgbm_graph, lightgbm_model
from .sklearn_double_builder import Nodes, is_double, label_table, register_wrappers

CLASSIFIERS = ("LGBMClassifier",)
REGRESSORS = ("LGBMRegressor",)

_installed = False


def install() -> None:
    """Register the converters with skl2onnx once lightgbm is loaded (safe to call repeatedly)."""
    global _installed
    if not _installed:
        _installed = register_wrappers("lightgbm", CLASSIFIERS, REGRESSORS, _convert)


def _convert(scope, operator, container):
    from onnx import TensorProto
    from .lightgbm import iterations
    model = operator.raw_operator
    tables = lightgbm_model.read(model.booster_, iterations(model))
    if tables.categories:
        raise UnsupportedError(f"{type(model).__name__} fitted on pandas category columns is supported as a bare "
                               "model (compiled to string columns), not after other steps of a pipeline")
    b = Nodes(scope, "lgbm")
    x = b.input(operator)
    x = lightgbm_graph.as_double(b, x, all(is_double(v) for v in operator.inputs))
    scores = lightgbm_graph.raw(b, tables, x)
    outs = [v.full_name for v in operator.outputs]

    def out(value, i):
        if is_double(operator.outputs[i]):
            b.op("Identity", value, out=outs[i])
        else:
            b.op("Cast", value, out=outs[i], to=TensorProto.FLOAT)
    if type(model).__name__ in CLASSIFIERS:
        label, probabilities = lightgbm_graph.classifier(b, tables, scores, label_table(model))
        b.op("Identity", label, out=outs[0])
        out(probabilities, 1)
    else:
        out(lightgbm_graph.predict(b, tables, scores), 0)
    b.emit(container)
