"""ai.onnx.ml ops lowered to standard ONNX tensor ops, for Apache TVM's ONNX importer (which has
none of them): trees, linear models, SVMs and preprocessing become Gather, MatMul, comparisons
and elementwise math that compute what ONNX Runtime computes on the original graph.

`run(proto, strategy)` replaces each ml node, in place, by the nodes its module in REGISTRY
emits (one module per op, `lower(builder, node, inputs, strategy)`); `strategy` picks how tree
ensembles are evaluated: "gemm", "traversal", or "auto" (by size, see _ensemble.choose).

The lowered graph holds no strings. A string class label output becomes an int64 output of the
same name holding the class index, and the class strings are recorded in the model's
metadata_props under "modelport.label_classes.<output>" (a JSON list) for the TVM backend to
map indices back. String graph inputs are refused.
"""
from __future__ import annotations

import importlib
import json

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from . import _ensemble
from ._builder import Builder, Value
from ...errors import UnsupportedError
from ...ort_session import session

ML = "ai.onnx.ml"
LABEL_CLASSES_KEY = "modelport.label_classes."
# op type -> module in this package
REGISTRY = {
    "TreeEnsembleClassifier": "tree_ensemble_classifier",
    "TreeEnsembleRegressor": "tree_ensemble_regressor",
    "TreeEnsemble": "tree_ensemble",
    "LinearClassifier": "linear_classifier",
    "LinearRegressor": "linear_regressor",
    "SVMClassifier": "svm_classifier",
    "SVMRegressor": "svm_regressor",
    "Scaler": "scaler",
    "Normalizer": "normalizer",
    "Imputer": "imputer",
    "OneHotEncoder": "one_hot_encoder",
    "LabelEncoder": "label_encoder",
    "Binarizer": "binarizer",
    "ArrayFeatureExtractor": "array_feature_extractor",
    "FeatureVectorizer": "feature_vectorizer",
}
# What the lowerings emit: ops TVM's Relax ONNX importer converts.
ALLOWED_OPS = frozenset("""
    Abs Add And ArgMax ArgMin Cast Ceil Clip Concat Constant ConstantOfShape Div Equal Erf Exp Expand
    Flatten Floor Gather GatherElements GatherND Gemm Greater GreaterOrEqual Identity IsNaN Less
    LessOrEqual Log MatMul Max Min Mul Neg Not OneHot Or Pow Reciprocal ReduceMax ReduceMean ReduceMin
    ReduceSum ReduceSumSquare Relu Reshape Shape Sigmoid Sign Slice Softmax Sqrt Squeeze Sub Sum Tanh
    Tile TopK Transpose Unsqueeze Where""".split())
# Ops that pass a string value through unchanged (input 0), so its class indices can pass too.
PASS_THROUGH = {"Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze"}
MIN_OPSET = 13  # Squeeze/Unsqueeze/ReduceSum take axes as inputs from here on


def run(proto: onnx.ModelProto, strategy: str = "auto") -> onnx.ModelProto:
    """The model with every ai.onnx.ml node lowered to standard ops (the model itself when it
    has none)."""
    _refuse_string_inputs(proto)
    if strategy not in _ensemble.STRATEGIES:
        raise ValueError(f"unknown tree strategy {strategy!r} (one of {', '.join(_ensemble.STRATEGIES)})")
    string_out = any(o.type.tensor_type.elem_type == TensorProto.STRING for o in proto.graph.output)
    if not string_out and not any(n.domain == ML for n in proto.graph.node):
        return proto  # (string labels looked up with standard ops become class indices below)
    opset = _opset(proto)
    if opset < MIN_OPSET:
        raise UnsupportedError(f"lowering ai.onnx.ml ops for the TVM targets needs default-domain opset "
                               f"{MIN_OPSET} or later (this model has {opset}); use the cpp, java or onnx targets")
    for node in proto.graph.node:
        if node.domain == ML and node.op_type not in REGISTRY:
            raise UnsupportedError(_unsupported(node, _opset(proto, ML)))
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    g = out.graph
    values = _measure(out)
    b = Builder(_names(g), opset, _opset(proto, ML))
    nodes = []
    labels = {i.name: [v.decode() if isinstance(v, bytes) else str(v) for v in onnx.numpy_helper.to_array(i)]
              for i in g.initializer if i.data_type == TensorProto.STRING and len(i.dims) == 1}
    for node in g.node:
        if node.domain != ML:
            nodes.append(_follow_strings(node, b.string_tables, labels))
            continue
        module = REGISTRY[node.op_type]
        ins = [_with_classes(values.get(i), b.string_tables) if i else None for i in node.input]
        start = len(b.nodes)
        importlib.import_module(f".{module}", __name__).lower(b, node, ins, strategy)
        nodes.extend(b.nodes[start:])
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(b.initializers)
    _finish(out, b.string_tables)
    onnx.checker.check_model(out)
    return out


def _refuse_string_inputs(proto):
    inits = {i.name for i in proto.graph.initializer}
    for i in proto.graph.input:
        if i.name not in inits and i.type.tensor_type.elem_type == TensorProto.STRING:
            raise UnsupportedError(f"input {i.name!r} holds strings: the TVM targets compute on numbers, from "
                                   "the values the string columns' lookups give (the stub's front); this "
                                   "graph reads strings elsewhere: use the cpp or java targets")


def _opset(proto, domain: str = "") -> int:
    domains = ("", "ai.onnx") if domain == "" else (domain,)
    return max((o.version for o in proto.opset_import if o.domain in domains), default=1)


def _names(g) -> set:
    names = {v.name for v in list(g.input) + list(g.output) + list(g.value_info)}
    names |= {i.name for i in g.initializer} | {o for n in g.node for o in n.output} | {n.name for n in g.node}
    return names


def _unsupported(node, opset: int) -> str:
    try:
        from ...ops import REGISTRY as OPS
        compiled = (ML, node.op_type) in OPS
    except ImportError:
        compiled = False
    where = "the cpp, java and onnx targets support it" if compiled else "only the onnx target supports it"
    return (f"the ai.onnx.ml op {node.op_type} (node {node.name!r}, ai.onnx.ml opset {opset}) has no lowering "
            f"to standard ONNX ops, which the TVM targets need; {where}")


def _with_classes(value: Value | None, tables: dict) -> Value | None:
    if value is not None and value.name in tables:
        return Value(value.name, np.dtype(np.int64), value.shape, None, tables[value.name])
    return value


# ---- measuring the ml nodes' inputs ----------------------------------------------------------

def _constants(g) -> dict:
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    for n in g.node:
        if n.op_type == "Constant" and n.domain in ("", "ai.onnx") and n.attribute \
                and n.attribute[0].name == "value":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    return consts


def _measure(proto) -> dict:
    """name -> Value for every input of an ml node: its type and shape (graph inputs with a known
    row shape as declared, other values as ONNX Runtime computes them on a batch of 2 rows), and
    its value when no graph input feeds it."""
    g = proto.graph
    consts = _constants(g)
    wanted = {i for n in g.node if n.domain == ML for i in n.input if i}
    out = {n: Value(n, consts[n].dtype, consts[n].shape, consts[n]) for n in wanted if n in consts}
    inits = {i.name for i in g.initializer}
    feeds = {i.name: (np.dtype(onnx.helper.tensor_dtype_to_np_dtype(i.type.tensor_type.elem_type)),
                      [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                       for d in i.type.tensor_type.shape.dim])
             for i in g.input if i.name not in inits}
    for name, (dtype, dims) in feeds.items():
        if name in wanted and dims and None not in dims[1:]:
            out[name] = Value(name, dtype, tuple([2] + dims[1:]))
    measured = sorted(wanted - set(out))
    if not measured:
        return out
    dependent = set(feeds)
    for n in g.node:
        if any(i in dependent for i in n.input):
            dependent.update(n.output)
    feed = {name: np.zeros([2] + [d or 1 for d in dims[1:]], dtype) for name, (dtype, dims) in feeds.items()}
    for name, arr in zip(measured, _run_with_outputs(proto, measured, feed)):
        arr = np.asarray(arr)
        out[name] = Value(name, arr.dtype, tuple(arr.shape), arr if name not in dependent else None)
    return out


def _run_with_outputs(proto, names: list, feed: dict) -> list:
    """ONNX Runtime's values of `names` (made graph outputs) on `feed`."""
    import onnxruntime as ort

    m = onnx.ModelProto()
    m.CopyFrom(proto)
    known = {o.name for o in m.graph.output}
    m.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names if n not in known)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # keep every value
    opts.log_severity_level = 3
    sess = session(m, opts)
    return sess.run(names, feed)


# ---- strings: class indices instead of labels ------------------------------------------------

def _follow_strings(node, tables: dict, labels: dict):
    """A node kept as it is, unless it reads a string value now carried as class indices: then
    it must only pass that value on (its output carries the same classes). A Gather from a
    constant 1-D table of strings by indices (skl2onnx's label lookup, made a Gather by the
    array_feature_lookup pass) becomes those indices, carrying the table as its classes."""
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    if node.op_type == "Gather" and node.input[0] in labels and axis == 0 and node.input[1] not in tables:
        tables[node.output[0]] = labels[node.input[0]]
        return onnx.helper.make_node("Cast", [node.input[1]], [node.output[0]], name=node.name, to=TensorProto.INT64)
    hit = [i for i in node.input if i in tables]
    if not hit:
        return node
    first = node.input[0] if node.input else None
    if node.op_type in PASS_THROUGH and first in tables and hit == [first]:
        tables[node.output[0]] = tables[first]
        return node
    if node.op_type == "Gather" and hit == [first]:
        tables[node.output[0]] = tables[first]
        return node
    if node.op_type == "Concat" and len(hit) == len(node.input) and len({tuple(tables[i]) for i in hit}) == 1:
        tables[node.output[0]] = tables[first]
        return node
    to = next((a.i for a in node.attribute if a.name == "to"), None)
    if node.op_type == "Cast" and to == TensorProto.STRING:  # strings to strings: nothing to do
        tables[node.output[0]] = tables[first]
        return onnx.helper.make_node("Identity", [first], [node.output[0]], name=node.name)
    raise UnsupportedError(f"the {node.op_type} node {node.name!r} computes with the string class labels "
                           f"{hit[0]!r}; the TVM targets carry string labels only to the outputs. Use the cpp, "
                           "java or onnx targets for this model")


def _finish(model, tables: dict) -> None:
    """String outputs as int64 class indices with their classes in metadata_props; nodes and
    initializers nothing reads any more removed; opset imports tidied."""
    g = model.graph
    for o in g.output:
        if o.name in tables:
            o.type.tensor_type.elem_type = TensorProto.INT64
            entry = model.metadata_props.add()
            entry.key, entry.value = LABEL_CLASSES_KEY + o.name, json.dumps(tables[o.name])
        elif o.type.tensor_type.elem_type == TensorProto.STRING:
            raise UnsupportedError(f"output {o.name!r} holds strings that are not class labels; the TVM targets "
                                   "cannot produce it. Use the cpp, java or onnx targets for this model")
    _drop_unused(g)
    strings = {i.name for i in g.initializer if i.data_type == TensorProto.STRING}
    strings |= {n.output[0] for n in g.node if n.op_type == "Constant" and n.attribute
                and n.attribute[0].name in ("value_string", "value_strings")
                or n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value"
                and n.attribute[0].t.data_type == TensorProto.STRING}
    for name in strings:
        user = next(n for n in g.node if name in n.input)
        raise UnsupportedError(f"the {user.op_type} node {user.name!r} reads the string constant {name!r}; the "
                               "TVM targets cannot hold strings. Use the cpp, java or onnx targets for this model")
    produced = {o for n in g.node for o in n.output}
    kept = [v for v in g.value_info if v.name in produced and v.name not in tables
            and v.type.tensor_type.elem_type != TensorProto.STRING]
    del g.value_info[:]
    g.value_info.extend(kept)
    versions = {}
    for o in model.opset_import:
        domain = "" if o.domain == "ai.onnx" else o.domain
        versions[domain] = max(versions.get(domain, 0), o.version)
    if not any(n.domain == ML for n in g.node):
        versions.pop(ML, None)
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(d, v) for d, v in sorted(versions.items()))


def _reads(node) -> set:
    """Every name a node reads, its subgraphs' outer-scope reads included."""
    out = {i for i in node.input if i}
    for a in node.attribute:
        for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
            for n in sub.node:
                out |= _reads(n)
    return out


def _drop_unused(g) -> None:
    """Remove nodes whose outputs nothing reads (walking back from the graph outputs), then
    initializers nothing reads: the string tables the lowerings replaced go with them."""
    needed = {o.name for o in g.output}
    kept = []
    for n in reversed(list(g.node)):
        if any(o in needed for o in n.output):
            kept.append(n)
            needed.update(_reads(n))
    kept.reverse()
    del g.node[:]
    g.node.extend(kept)
    inits = [i for i in g.initializer if i.name in needed]
    del g.initializer[:]
    g.initializer.extend(inits)
