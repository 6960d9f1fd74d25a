"""The IR: an ONNX model loaded, checked, constant-folded and annotated with per-row shapes.

Generated code processes rows in blocks, so every tensor is either *batched* (its first
dimension is the batch; the rest, the row shape, is static) or a compile-time constant.
Row shapes and dtypes are measured by running ONNX Runtime on two batch sizes, which
works for every graph ONNX Runtime can run, whatever its shape-inference coverage.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from .errors import UnsupportedError, UsageError
from .ort_session import session

DTYPE_OF_NUMPY = {np.dtype("float32"): "f32", np.dtype("float64"): "f64", np.dtype("int64"): "i64",
                  np.dtype("int32"): "i32", np.dtype("bool"): "bool", np.dtype("object"): "str"}
NUMPY_OF_ELEM = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64,
                 onnx.TensorProto.INT64: np.int64, onnx.TensorProto.INT32: np.int32,
                 onnx.TensorProto.BOOL: np.bool_, onnx.TensorProto.STRING: object}
ML_DOMAIN = "ai.onnx.ml"


@dataclass
class Tensor:
    name: str
    dtype: str
    shape: tuple  # the row shape if batched, else the full shape
    batched: bool
    value: np.ndarray | None = None  # compile-time constant

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


@dataclass
class Node:
    op_type: str
    domain: str
    inputs: list
    outputs: list
    attrs: dict
    name: str = ""


@dataclass
class Graph:
    inputs: list
    outputs: list
    tensors: dict
    nodes: list
    opsets: dict = field(default_factory=dict)
    # Set when the model fixes its batch size (old exports write 1 in every input's first
    # dimension): it then runs on exactly that many rows per call.
    fixed_batch: int | None = None

    def opset(self, domain: str) -> int:
        return self.opsets.get("" if domain == "ai.onnx" else domain, 1)


def load(model) -> onnx.ModelProto:
    """Load and check an ONNX model (a path, bytes or a ModelProto)."""
    if isinstance(model, onnx.ModelProto):
        proto = model
    else:
        try:
            proto = onnx.load(str(model)) if not isinstance(model, bytes) else onnx.load_from_string(model)
        except Exception as exc:  # protobuf raises several unrelated types
            raise UsageError(f"cannot read ONNX model {model}: {exc}") from None
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise UsageError(f"the ONNX model is not valid: {str(exc).splitlines()[0]}") from None
    return proto


def attributes(node: onnx.NodeProto) -> dict:
    out = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8") for v in value]
        elif isinstance(value, onnx.TensorProto):
            value = numpy_helper.to_array(value)
        out[a.name] = value
    return out


def _dedup_opsets(proto: onnx.ModelProto) -> dict:
    opsets = {}
    for o in proto.opset_import:
        domain = "" if o.domain == "ai.onnx" else o.domain
        opsets[domain] = max(opsets.get(domain, 0), o.version)
    return opsets


def fold_constants(proto: onnx.ModelProto, opsets: dict) -> tuple[dict, list]:
    """Evaluate every node whose inputs are all constants; return (constants, remaining nodes)."""
    from onnx.reference import ReferenceEvaluator

    consts = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
    remaining = []
    for node in proto.graph.node:
        if node.op_type == "Constant":
            attr = node.attribute[0]
            consts[node.output[0]] = _constant_value(attr)
            continue
        if all((not i) or i in consts for i in node.input) and node.input:
            inputs = [helper.make_tensor_value_info(i, onnx.TensorProto.UNDEFINED, None) for i in node.input if i]
            outputs = [helper.make_tensor_value_info(o, onnx.TensorProto.UNDEFINED, None) for o in node.output]
            g = helper.make_graph([node], "fold", inputs, outputs)
            m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])
            values = ReferenceEvaluator(m).run(None, {i: consts[i] for i in node.input if i})
            for name, value in zip(node.output, values):
                consts[name] = np.asarray(value)
            continue
        remaining.append(node)
    return consts, remaining


def _constant_value(attr):
    value = helper.get_attribute_value(attr)
    if isinstance(value, onnx.TensorProto):
        return numpy_helper.to_array(value)
    if attr.name in ("value_float", "value_int"):
        return np.array(value, dtype=np.float32 if attr.name == "value_float" else np.int64)
    if attr.name in ("value_floats", "value_ints"):
        return np.array(value, dtype=np.float32 if attr.name == "value_floats" else np.int64)
    if attr.name == "value_string":
        return np.array(value.decode("utf-8"), dtype=object)
    if attr.name == "value_strings":
        return np.array([v.decode("utf-8") for v in value], dtype=object)
    raise UnsupportedError(f"Constant with attribute {attr.name} is not supported")


def _dummy_feed(proto: onnx.ModelProto, n: int, initializers: set) -> dict:
    feed = {}
    for inp in proto.graph.input:
        if inp.name in initializers:
            continue
        tt = inp.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        if not dims:
            raise UnsupportedError(f"input {inp.name!r} has no shape; a batch dimension is required")
        shape = [n] + [d if d is not None else 1 for d in dims[1:]]
        if any(d is None for d in dims[1:]):
            raise UnsupportedError(
                f"input {inp.name!r} has an unknown dimension after the batch dimension {dims}; "
                "give the model a static row shape (only the first, batch dimension may be dynamic)")
        dtype = NUMPY_OF_ELEM.get(tt.elem_type)
        if dtype is None:
            raise UnsupportedError(f"input {inp.name!r} has element type "
                                   f"{onnx.TensorProto.DataType.Name(tt.elem_type)}; supported: float, "
                                   "double, int64, int32, bool, string")
        feed[inp.name] = np.full(shape, "a", dtype=object) if dtype is object else np.zeros(shape, dtype)
    return feed


def fixed_batch(proto: onnx.ModelProto) -> int | None:
    """The batch size every input fixes in its first dimension, or None when it is free."""
    inits = {i.name for i in proto.graph.initializer}
    sizes = set()
    for i in proto.graph.input:
        if i.name in inits:
            continue
        dims = i.type.tensor_type.shape.dim
        if not dims or not dims[0].HasField("dim_value") or dims[0].dim_value <= 0:
            return None
        sizes.add(dims[0].dim_value)
    return sizes.pop() if len(sizes) == 1 else None


def measure_shapes(proto: onnx.ModelProto, names: list, batches=(2, 3)) -> tuple:
    """Run ONNX Runtime at each batch size and record every named value's shape and dtype."""
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    existing = {o.name for o in m.graph.output}
    for name in names:
        if name not in existing:
            m.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    try:
        sess = session(m, opts)
    except Exception as exc:
        raise UnsupportedError(f"ONNX Runtime cannot load this model: {str(exc).splitlines()[0]}") from None
    inits = {i.name for i in proto.graph.initializer}
    out_names = [o.name for o in m.graph.output]
    runs = []
    for n in batches:
        try:
            values = sess.run(out_names, _dummy_feed(proto, n, inits))
        except Exception as exc:
            raise UnsupportedError(f"ONNX Runtime cannot run this model on a batch of {n} rows: "
                                   f"{str(exc).splitlines()[0][:300]}") from None
        runs.append({name: np.asarray(v) for name, v in zip(out_names, values)})
    return tuple(runs)


def build_graph(proto: onnx.ModelProto) -> Graph:
    """The ONNX model as modelport's Graph: constants folded, every tensor typed and shaped."""
    opsets = _dedup_opsets(proto)
    consts, nodes = fold_constants(proto, opsets)
    inits = {i.name for i in proto.graph.initializer}
    inputs = [i.name for i in proto.graph.input if i.name not in inits]
    outputs = [o.name for o in proto.graph.output]
    produced = [o for n in nodes for o in n.output if o]
    run2, run3 = measure_shapes(proto, produced + inputs)
    tensors = {}
    for name, value in consts.items():
        tensors[name] = Tensor(name, _dtype(value, name), tuple(value.shape), False, value)
    for name in inputs + produced:
        a, b = run2[name], run3[name]
        if a.ndim >= 1 and a.shape[0] == 2 and b.shape[0] == 3 and a.shape[1:] == b.shape[1:]:
            tensors[name] = Tensor(name, _dtype(a, name), tuple(a.shape[1:]), True)
        elif a.shape == b.shape and name not in inputs and not _depends_on_batch(name, nodes, inputs):
            tensors[name] = Tensor(name, _dtype(a, name), tuple(a.shape), False, a)
        else:
            op = next((n for n in nodes if name in n.output), None)
            what = f"{op.op_type} node {op.name!r}" if op is not None else "an input"
            raise UnsupportedError(
                f"the value {name!r} produced by {what} has shape {a.shape} at batch size 2 and {b.shape} "
                "at batch size 3: only values whose first dimension is the batch can be compiled "
                "(operations across rows of a batch are not supported)")
    graph_nodes = [Node(n.op_type, n.domain or "", list(n.input), list(n.output), attributes(n), n.name)
                   for n in nodes]
    for name in outputs:
        if name in consts:
            raise UnsupportedError(f"output {name!r} is a constant that does not depend on the input")
    return Graph(inputs, outputs, tensors, graph_nodes, opsets)


def build_io_graph(proto: onnx.ModelProto) -> Graph:
    """Only the model's inputs and outputs typed and shaped (batch first), for targets that
    compile the ONNX graph as a whole (onnx, tvm-llvm, tvm-cuda): values inside the graph may
    have any layout (sequence-first recurrent layers, attention heads)."""
    opsets = _dedup_opsets(proto)
    inits = {i.name for i in proto.graph.initializer}
    inputs = [i.name for i in proto.graph.input if i.name not in inits]
    outputs = [o.name for o in proto.graph.output]
    fixed = fixed_batch(proto)
    if fixed:
        (run,) = measure_shapes(proto, inputs, (fixed,))
        tensors = {}
        for name in inputs + outputs:
            a = run[name]
            if a.ndim < 1 or a.shape[0] != fixed:
                raise UnsupportedError(f"output {name!r} has shape {a.shape}: its first dimension must be the "
                                       f"batch, which this model fixes at {fixed}")
            tensors[name] = Tensor(name, _dtype(a, name), tuple(a.shape[1:]), True)
        nodes = [Node(n.op_type, n.domain or "", list(n.input), list(n.output), attributes(n), n.name)
                 for n in proto.graph.node]
        return Graph(inputs, outputs, tensors, nodes, opsets, fixed_batch=fixed)
    run2, run3 = measure_shapes(proto, inputs)
    tensors = {}
    for name in inputs + outputs:
        a, b = run2[name], run3[name]
        if not (a.ndim >= 1 and a.shape[0] == 2 and b.shape[0] == 3 and a.shape[1:] == b.shape[1:]):
            raise UnsupportedError(f"{'input' if name in inputs else 'output'} {name!r} has shape {a.shape} at batch "
                                   f"size 2 and {b.shape} at batch size 3: inputs and outputs must have the batch "
                                   "as their first dimension")
        tensors[name] = Tensor(name, _dtype(a, name), tuple(a.shape[1:]), True)
    nodes = [Node(n.op_type, n.domain or "", list(n.input), list(n.output), attributes(n), n.name)
             for n in proto.graph.node]
    return Graph(inputs, outputs, tensors, nodes, opsets)


def _depends_on_batch(name, nodes, inputs) -> bool:
    dependent = set(inputs)
    for n in nodes:
        if any(i in dependent for i in n.input):
            dependent.update(n.output)
    return name in dependent


def _dtype(value: np.ndarray, name: str) -> str:
    dt = value.dtype
    if dt.kind in ("U", "S", "O"):
        return "str"
    if dt not in DTYPE_OF_NUMPY:
        raise UnsupportedError(f"value {name!r} has element type {dt}; supported: float32, float64, "
                               "int64, int32, bool, string")
    return DTYPE_OF_NUMPY[dt]
