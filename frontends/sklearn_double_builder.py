"""What the double converters share: a graph builder over skl2onnx's scope and container,
installing a converter in front of skl2onnx's, the class-label table, and finishing a
converted model.

Each `frontends/sklearn_*_double.py` module puts a converter in front of skl2onnx's for one
kind of estimator: for a double input it builds the same outputs (names, shapes, meaning)
from the fitted attributes with standard ONNX ops in double; any other input goes to the
converter that was there before. Being converters, they serve pipelines, column transformers
and ensembles too. A model converted with them needs `finish` (model-local functions, the
ai.onnx.ml opset of TreeEnsemble).
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

from modelport.errors import UnsupportedError
from modelport.passes.ml_to_tensor import _svm_probability
from modelport.passes.ml_to_tensor._builder import F64, Builder

OPSET = 18
ML = "ai.onnx.ml"
# skl2onnx refuses nodes of ai.onnx.ml above 3 (its highest); TreeEnsemble (ai.onnx.ml 5, double
# thresholds and sums) is added under 3 and `finish` raises the model's import to 5.
SKL2ONNX_ML_OPSET = 3
TREE_ENSEMBLE_ML_OPSET = 5
DEPRECATED_AT_ML_5 = ("TreeEnsembleRegressor", "TreeEnsembleClassifier")


def install_in_front(aliases: dict, make, shape=None) -> None:
    """For each scikit-learn class -> skl2onnx alias, register `make(original)` as its converter,
    keeping skl2onnx's options and its shape calculator, or `shape(original shape calculator)`
    where the outputs differ from what skl2onnx declares (safe to call repeatedly)."""
    from skl2onnx import update_registered_converter
    from skl2onnx._parse import sklearn_parsers_map
    from skl2onnx.common._registration import get_converter, get_shape_calculator
    for cls, alias in aliases.items():
        registered = get_converter(alias)  # skl2onnx's RegisteredConverter
        convert, calculate = registered._fct, get_shape_calculator(alias)
        if not getattr(convert, "modelport_double", False):  # several classes may share one alias
            convert = make(registered)
            convert.modelport_double = True
            if shape is not None:
                calculate = shape(calculate)
        # registering options with zipmap or output_class_labels also replaces the class's parser
        # (LinearSVC has none on purpose): keep the one skl2onnx had
        parser = sklearn_parsers_map.get(cls)
        update_registered_converter(cls, alias, calculate, convert, options=registered.get_allowed_options())
        if parser is None:
            sklearn_parsers_map.pop(cls, None)
        else:
            sklearn_parsers_map[cls] = parser


def register_wrappers(library: str, classifiers, regressors, convert, regressor_shape=None) -> bool:
    """Register `convert` for another library's scikit-learn wrapper classes (names in module
    `library`) once that library is loaded: a model of it can exist only then. Classifiers get
    skl2onnx's classifier outputs (label, probabilities; no zipmap), regressors
    `regressor_shape` (default: skl2onnx's [N, 1]). False while the library is not loaded."""
    import sys
    if library not in sys.modules:
        return False
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes, calculate_linear_regressor_output_shapes)
    module = sys.modules[library]
    for cls in classifiers:
        update_registered_converter(getattr(module, cls), f"Modelport{cls}", calculate_linear_classifier_output_shapes,
                                    convert, options={"zipmap": [False], "nocl": [False]})
    for cls in regressors:
        update_registered_converter(getattr(module, cls), f"Modelport{cls}",
                                    regressor_shape or calculate_linear_regressor_output_shapes, convert)
    return True


def converter(prefix: str, build, ours=None):
    """`make` for install_in_front: an operator `ours(operator, container)` takes (default: every
    input double) is built by `build(b, model, operator, container)` on a Nodes named `prefix`,
    then emitted; any other goes to the converter that was there before."""
    def make(original):
        def convert(scope, operator, container):
            if not (ours(operator, container) if ours else all_double(operator)):
                return original(scope, operator, container)
            b = Nodes(scope, prefix)
            build(b, operator.raw_operator, operator, container)
            b.emit(container)
        return convert
    return make


def is_double(variable) -> bool:
    from skl2onnx.common.data_types import DoubleTensorType
    return isinstance(variable.type, DoubleTensorType)


def all_double(operator) -> bool:
    return bool(operator.inputs) and all(is_double(v) for v in operator.inputs)


def is_string(variable) -> bool:
    from skl2onnx.common.data_types import StringTensorType
    return isinstance(variable.type, StringTensorType)


def all_strings(operator) -> bool:
    return bool(operator.inputs) and all(is_string(v) for v in operator.inputs)


def double_outputs(original):
    """A shape calculator that declares double outputs for double inputs (where skl2onnx's
    declares float whatever the input)."""
    def calculate(operator):
        from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
        original(operator)
        if all_double(operator):
            for v in operator.outputs:
                if isinstance(v.type, FloatTensorType):
                    v.type = DoubleTensorType(v.type.shape)
    return calculate


def finish(proto: onnx.ModelProto) -> onnx.ModelProto:
    """A model converted with the double converters made whole (in place): the ONNX functions
    its nodes call (libsvm's coupling), and ai.onnx.ml 5 where it holds a TreeEnsemble."""
    _svm_probability.add_functions(proto)
    if any(n.domain == ML and n.op_type == "TreeEnsemble" for n in proto.graph.node):
        old = [n.op_type for n in proto.graph.node if n.domain == ML and n.op_type in DEPRECATED_AT_ML_5]
        if old:
            raise UnsupportedError(f"this model mixes double trees with {old[0]} (float32 trees), which no single "
                                   "ai.onnx.ml opset holds; compile it with precision='float32'")
        for o in proto.opset_import:
            if o.domain == ML:
                o.version = max(o.version, TREE_ENSEMBLE_ML_OPSET)
    return proto


def label_table(model) -> np.ndarray:
    """The class labels as the graph's label output holds them: int64 or strings."""
    classes = model.classes_
    if all(isinstance(c, str) for c in classes):
        return np.array([str(c) for c in classes], dtype=object)
    values = np.asarray(classes)
    if values.dtype.kind in "biu" or (values.dtype.kind == "f" and np.all(values == np.round(values))):
        return values.astype(np.int64)
    raise UnsupportedError(f"{type(model).__name__}: class labels must be integers or strings, not {classes!r}")


class Nodes(Builder):
    """The compiler's graph Builder naming values through skl2onnx's scope (unique in the whole
    converted model); `emit` hands what it built to skl2onnx's container."""

    def __init__(self, scope, prefix: str):
        super().__init__(set(), OPSET)
        self.scope = scope
        self.prefix = prefix

    def fresh(self, hint: str) -> str:
        return self.scope.get_unique_variable_name(f"{self.prefix}_{hint}")

    def input(self, operator) -> str:
        """The operator's inputs as one double [N, C] value (a ColumnTransformer may hand several
        [N, k] columns; skl2onnx's own FeatureVectorizer would round them to float32)."""
        names = [v.full_name for v in operator.inputs]
        if len(names) == 1:
            return names[0]
        return self.op("Concat", *[n if is_double(v) else self.cast(n, F64) for n, v in zip(names, operator.inputs)],
                       axis=1)

    def emit(self, container) -> None:
        for t in self.initializers:
            content = [s.decode("utf-8") for s in t.string_data] if t.data_type == TensorProto.STRING else t
            container.add_initializer(t.name, t.data_type, list(t.dims), content)
        for n in self.nodes:
            attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
            version = None
            if n.domain in (_svm_probability.DOMAIN, "modelport.text"):
                version = 1
            elif n.domain == ML and n.op_type == "TreeEnsemble":
                version = SKL2ONNX_ML_OPSET  # see `finish`
            container.add_node(n.op_type, list(n.input), list(n.output), op_domain=n.domain,
                               op_version=version, name=n.name, **attrs)
            container.nodes[-1].overload = n.overload
