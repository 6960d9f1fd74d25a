"""skl2onnx converters for XGBoost's scikit-learn wrappers (XGBClassifier, XGBRegressor,
XGBRFClassifier, XGBRFRegressor), bare or as the last step of a pipeline.

They build what the wrappers' predict / predict_proba compute, from the Booster's own trees
(frontends/xgboost_model.py, frontends/xgboost_graph.py): the input rounded to float32, cells
equal to the wrapper's `missing` value treated as missing, the rounds up to `best_iteration`
when the model was trained with early stopping (as predict does), then the objective.
Categorical features given as codes (feature_types "c", e.g. after an OrdinalEncoder) are
decided as XGBoost decides codes (xgboost_categories.py). Outputs: `label` and
`probabilities` for classifiers, `variable` [N, targets] for regressors.
"""
from __future__ import annotations

from modelport.errors import UnsupportedError

from . import xgboost_categories, xgboost_graph, xgboost_model
from .sklearn_double_builder import Nodes, label_table, register_wrappers

CLASSIFIERS = ("XGBClassifier", "XGBRFClassifier")
REGRESSORS = ("XGBRegressor", "XGBRFRegressor")
CLASSIFIER_OBJECTIVES = ("binary:logistic", "multi:softprob", "multi:softmax")

_installed = False


def install() -> None:
    """Register the converters with skl2onnx once xgboost is loaded (a model of it can exist
    only then; safe to call repeatedly)."""
    global _installed
    if not _installed:
        _installed = register_wrappers("xgboost", CLASSIFIERS, REGRESSORS, _convert, _regressor_shape)


def _regressor_shape(operator):
    """[N, targets] (multi-target and multi-quantile regressors have several)."""
    import json
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    param = json.loads(operator.raw_operator.get_booster().save_config())["learner"]["learner_model_param"]
    k = max(int(param.get("num_target", 1) or 1), int(param.get("num_class", 0) or 0), 1)
    double = isinstance(operator.inputs[0].type, DoubleTensorType)
    operator.outputs[0].type = (DoubleTensorType if double else FloatTensorType)(
        [operator.inputs[0].get_first_dimension(), k])


def rounds(model) -> int | None:
    """The rounds predict uses: up to best_iteration after early stopping, else all."""
    best = getattr(model, "best_iteration", None) if _early_stopped(model) else None
    return None if best is None else int(best) + 1


def _early_stopped(model) -> bool:
    try:
        return model.get_booster().attr("best_iteration") is not None
    except Exception:
        return False


def _convert(scope, operator, container):
    from onnx import TensorProto
    from skl2onnx.common.data_types import DoubleTensorType
    model = operator.raw_operator
    tables = xgboost_model.read(model.get_booster())
    if tables.categories:
        raise UnsupportedError(f"{type(model).__name__} with categorical features of pandas category columns is "
                               "supported as a bare model (compiled to string columns), not after other steps of a "
                               "pipeline; after an encoder, give the codes (feature_types with 'c')")
    b = Nodes(scope, "xgb")
    x = b.input(operator)
    x = xgboost_graph.as_float32(b, x, "float64" if any(isinstance(v.type, DoubleTensorType)
                                                         for v in operator.inputs) else "float32")
    x = xgboost_graph.with_missing(b, x, getattr(model, "missing", None))
    lay = None
    if tables.coded_features:  # category codes (an OrdinalEncoder before it)
        trees = tables.first_rounds(rounds(model))
        lay = xgboost_categories.layout(tables, trees)
        x = xgboost_categories.features(b, tables, lay, {f: b.column(x, f) for f in range(tables.n_features)})
    m = xgboost_graph.margin(b, tables, x, rounds(model), lay)
    outs = [v.full_name for v in operator.outputs]

    def out(value, i):  # float32 values, as the declared output type
        if isinstance(operator.outputs[i].type, DoubleTensorType):
            b.op("Cast", value, out=outs[i], to=TensorProto.DOUBLE)
        else:
            b.op("Identity", value, out=outs[i])
    if type(model).__name__ in CLASSIFIERS:
        if tables.objective not in CLASSIFIER_OBJECTIVES:
            raise UnsupportedError(f"{type(model).__name__} with the objective {tables.objective!r} is not supported; "
                                   f"supported: {', '.join(CLASSIFIER_OBJECTIVES)}")
        label, probabilities = xgboost_graph.classifier(b, tables, m, label_table(model))
        b.op("Identity", label, out=outs[0])
        out(probabilities, 1)
    else:
        y = xgboost_graph.predict(b, tables, m)
        out(b.cast(y, TensorProto.FLOAT) if tables.transform == "argmax" else y, 0)
    b.emit(container)
