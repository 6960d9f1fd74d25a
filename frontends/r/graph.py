"""A small ONNX graph builder for the R converters. Every value is a 2-D tensor [N, k]
(N rows of the data frame); numbers are computed in double, as R computes. Numeric inputs
and outputs are double too, unless the user asked for float32 (`precision`), which rounds
inputs to float32 and narrows outputs on purpose."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from modelport.passes.ml_to_tensor import _svm_probability

OPSETS = {"": 18, "ai.onnx.ml": 3}
DOUBLE, FLOAT, STRING, INT64, BOOL = TensorProto.DOUBLE, TensorProto.FLOAT, TensorProto.STRING, \
    TensorProto.INT64, TensorProto.BOOL


class Graph:
    def __init__(self, name: str = "r_model", precision: str = "float64"):
        self.name = name
        self.precision = precision
        # The element type of numeric inputs and outputs.
        self.number = DOUBLE if precision == "float64" else FLOAT
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self._n = 0
        self._consts = {}

    def fresh(self, hint: str = "v") -> str:
        self._n += 1
        return f"{hint}_{self._n}"

    def input(self, elem: int) -> str:
        name = f"in_{len(self.inputs)}"
        self.inputs.append(helper.make_tensor_value_info(name, elem, ["N", 1]))
        return name

    def const(self, value, dtype=np.float64) -> str:
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if arr.dtype != object and key in self._consts:
            return self._consts[key]
        name = self.fresh("c")
        self.inits.append(numpy_helper.from_array(arr, name))
        if arr.dtype != object:
            self._consts[key] = name
        return name

    def op(self, op_type: str, *inputs, n_out: int = 1, domain: str = "", **attrs):
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, domain=domain or None,
                                           name=self.fresh("n"), **attrs))
        return outs[0] if n_out == 1 else outs

    # shorthands for the common ops
    def add(self, a, b):
        return self.op("Add", a, b)

    def sub(self, a, b):
        return self.op("Sub", a, b)

    def mul(self, a, b):
        return self.op("Mul", a, b)

    def div(self, a, b):
        return self.op("Div", a, b)

    def matmul(self, a, b):
        return self.op("MatMul", a, b)

    def concat(self, values):
        return values[0] if len(values) == 1 else self.op("Concat", *values, axis=1)

    def to_double(self, v):
        return self.op("Cast", v, to=DOUBLE)

    def to_float(self, v):
        return self.op("Cast", v, to=FLOAT)

    def to_number(self, v):
        """A double value as the numeric output type."""
        return v if self.number == DOUBLE else self.to_float(v)

    def columns(self, v, idx):
        """Columns `idx` of [N, k] value v."""
        return self.op("Gather", v, self.const(np.asarray(idx, dtype=np.int64), np.int64), axis=1)

    def linear(self, x, weights, bias):
        """x [N, p] @ weights [p, k] + bias [k] (weights and bias are numbers, in double)."""
        w = np.asarray(weights, dtype=np.float64)
        y = self.matmul(x, self.const(w.reshape(len(w), -1)))
        return self.add(y, self.const(np.asarray(bias, dtype=np.float64).reshape(1, -1)))

    def splice(self, builder) -> None:
        """Take in what a compiler Builder (modelport.passes.ml_to_tensor._builder) built on
        this graph's values, e.g. libsvm's probability coupling, which is written once there.
        Its names (ml2t_*) never collide with this graph's."""
        self.nodes += builder.nodes
        self.inits += builder.initializers

    def output(self, value, name: str, elem: int, width: int):
        self.nodes.append(helper.make_node("Identity", [value], [name], name=self.fresh("n")))
        self.outputs.append(helper.make_tensor_value_info(name, elem, ["N", width]))

    def drop_outputs(self, keep):
        """Remove the outputs whose names are not in `keep` (and the Identity naming each)."""
        gone = {o.name for o in self.outputs if o.name not in keep}
        self.outputs = [o for o in self.outputs if o.name not in gone]
        self.nodes = [n for n in self.nodes if not (n.op_type == "Identity" and n.output[0] in gone)]

    def model(self) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, initializer=self.inits)
        used = {n.domain or "" for n in self.nodes}
        versions = dict(OPSETS)
        if any(n.op_type == "TreeEnsemble" for n in self.nodes):
            versions["ai.onnx.ml"] = 5  # TreeEnsemble (double sums) is ai.onnx.ml 5
        opsets = [helper.make_opsetid(d, v) for d, v in versions.items() if d == "" or d in used]
        proto = helper.make_model(graph, opset_imports=opsets, producer_name="modelport-r")
        proto.ir_version = 8
        _svm_probability.add_functions(proto)  # the functions spliced nodes call (svm)
        onnx.checker.check_model(proto)
        return proto
