"""String columns on the TVM targets: the graph cut where the strings end.

TVM computes numbers only. A model with string inputs (an encoder's lookup of categories, a
vectorizer's tokens) is cut in two: the *front*, every node that reads a value computed from
a string input, and the *rest*, which TVM compiles, taking the numbers the front gives. The
front is lowered with the kernel targets' own ops (compiler/lower.py) and compiled into the
C++ stub, which runs it on each block of rows before calling the TVM library: the stub's API,
C ABI, CSV program and Java class take the string columns as the cpp target does.

Artifacts: `front.onnx` (the front, for the parity check of the preparation, which runs it
before `prepared.onnx`) next to the other files of the target.
"""
from __future__ import annotations

import onnx
from onnx import helper

from ..errors import UnsupportedError

FRONT = "front.onnx"


def _is_string(vi) -> bool:
    return vi.type.tensor_type.elem_type == onnx.TensorProto.STRING


def split(proto: onnx.ModelProto):
    """(front or None, rest). The front's inputs are the string inputs (and any numeric input
    one of its nodes reads), its outputs the values the rest reads; the rest takes the
    numeric inputs and those values."""
    g = proto.graph
    inits = {i.name for i in g.initializer}
    inputs = [i for i in g.input if i.name not in inits]
    strings = {i.name for i in inputs if _is_string(i)}
    if not strings:
        return None, proto
    shapes = _shapes(proto, [o for n in g.node for o in n.output if o])
    nodes = list(g.node)
    in_front = [False] * len(nodes)
    from_strings = set(strings)  # string values computed from the string inputs
    for j, n in enumerate(nodes):
        if any(i in from_strings for i in n.input):
            in_front[j] = True
            from_strings.update(o for o in n.output if o and shapes[o][0] == onnx.TensorProto.STRING)
    # and the nodes that compute what those read (a Cast of an encoder's flag, say)
    producer = {o: j for j, n in enumerate(nodes) for o in n.output if o}
    for j in reversed(range(len(nodes))):
        if in_front[j]:
            for i in nodes[j].input:
                if i in producer and not in_front[producer[i]]:
                    in_front[producer[i]] = True  # earlier than j: the reverse walk reaches it
    front_nodes = [n for j, n in enumerate(nodes) if in_front[j]]
    rest_nodes = [n for j, n in enumerate(nodes) if not in_front[j]]
    rest_reads = {i for n in rest_nodes for i in n.input} | {o.name for o in g.output}
    crossing = [o for n in front_nodes for o in n.output if o in rest_reads]
    for c in crossing:
        if shapes[c][0] == onnx.TensorProto.STRING:
            raise UnsupportedError(f"value {c!r} holds strings past the nodes that read the string columns; the "
                                   "TVM targets compute numbers only. Use the cpp or java targets")
    front_reads = {i for n in front_nodes for i in n.input}
    front = _model(proto, front_nodes, [i for i in inputs if i.name in front_reads],
                   [_value_info(c, shapes[c]) for c in crossing])
    rest_inputs = [i for i in inputs if not _is_string(i) and i.name in rest_reads]
    rest = _model(proto, rest_nodes, rest_inputs + [_value_info(c, shapes[c]) for c in crossing], list(g.output))
    return front, rest


def _shapes(proto, names) -> dict:
    """{value: (ONNX element type, dims with "N" first)} measured by running the graph."""
    from ..ir import _dummy_feed
    from ..ort_session import session
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    del m.graph.output[:]
    m.graph.output.extend(onnx.ValueInfoProto(name=n) for n in names)
    feed = _dummy_feed(proto, 2, {i.name for i in proto.graph.initializer})
    out = {}
    for name, v in zip(names, session(m).run(names, feed)):
        elem = helper.np_dtype_to_tensor_dtype(v.dtype) if v.dtype != object else onnx.TensorProto.STRING
        out[name] = (elem, ["N"] + list(v.shape[1:]))
    return out


def _value_info(name, shape):
    return helper.make_tensor_value_info(name, shape[0], shape[1])


def _model(proto, nodes, inputs, outputs) -> onnx.ModelProto:
    reads = {i for n in nodes for i in n.input}
    g = helper.make_graph(nodes, proto.graph.name, inputs, outputs,
                          initializer=[t for t in proto.graph.initializer if t.name in reads])
    m = helper.make_model(g, opset_imports=list(proto.opset_import))
    m.ir_version = proto.ir_version
    m.functions.extend(proto.functions)
    return m


def rest_feed(front_path, feed: dict) -> dict:
    """The rest's inputs from the model's: the front computed (ONNX Runtime and own ops)."""
    from ..ort_session import session
    front = onnx.load(str(front_path))
    names = [o.name for o in front.graph.output]
    needed = {i.name for i in front.graph.input}
    values = session(front).run(names, {k: v for k, v in feed.items() if k in needed})
    return {**{k: v for k, v in feed.items() if v.dtype != object}, **dict(zip(names, values))}
