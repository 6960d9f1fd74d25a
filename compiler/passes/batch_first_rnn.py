"""The batch-first rewrite's rule for LSTM, GRU and RNN nodes: unrolled over their fixed number of
steps on batch-first values.

The gate equations are unroll_rnn's (the pass that unrolls recurrent nodes for TVM). On the
time-major nodes converters write (layout 0: X [time, batch, input], states [dirs, batch,
hidden], Y [time, dirs, batch, hidden]) unroll_rnn keeps that layout, which the C++/Java kernels
cannot take. So each node is written again alone in the batch-major layout (layout 1: X [batch,
time, input], states [batch, dirs, hidden], Y [batch, time, dirs, hidden]), which holds every
value's axes in exactly the order its batch-first copy holds them (`rw.order`), and unroll_rnn
unrolls that: every value it writes is then batch-first ([batch, gates * hidden] a step). ONNX
Runtime does not run layout 1, but nothing runs that node: only its unrolled form. unroll_rnn's
Splits become Slices, which the kernels have.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..errors import UnsupportedError
from . import unroll_rnn

OPS = {"LSTM", "GRU", "RNN"}
STATES = (5, 6)  # initial_h, initial_c
WEIGHTS = (1, 2, 3, 7)  # W, R, B, P (peepholes)


def unroll(rw, node):
    """`node`'s unrolled subgraph, written on batch-first values under its outputs' copies."""
    ins = list(node.input) + [""] * (8 - len(node.input))
    # ONNX Runtime, which measures every value, runs time-major nodes only (layout 0).
    if any(a.name == "layout" and a.i for a in node.attribute) or rw.axis.get(ins[0]) != 1:
        raise rw.refuse(node, "only time-major nodes (layout 0, the batch on axis 1) are unrolled")
    _check_lengths(rw, node, ins[0], ins[4])
    feeds = {ins[k]: _state(rw, node, ins[k]) for k in STATES if ins[k]}
    feeds = {v: name for v, name in feeds.items() if name}
    weights = {ins[k]: _weight(rw, node, ins[k]) for k in WEIGHTS if ins[k]}
    alone = _alone(rw, node, ins, feeds, weights)
    try:
        unrolled = unroll_rnn.run(alone)
    except UnsupportedError as exc:  # it names the node as `alone` holds it: say it once
        raise rw.refuse(node, str(exc).removeprefix(f"{node.op_type} node {alone.graph.node[0].name!r}: ")) from None
    _splice(rw, unrolled)


def _check_lengths(rw, node, x, lens):
    """sequence_lens, where given, must be the full length in every row (no masking)."""
    steps = rw.run2[x].shape[0]
    if lens and not (lens in rw.free and all((r[lens] == steps).all() for r in (rw.run2, rw.run3))):
        raise rw.refuse(node, "its sequences have different lengths (masking)")


def _state(rw, node, value) -> str | None:
    """An initial state's batch-first copy, or None where it is zero (the default state, which
    converters build from the batch size)."""
    if value in rw.free:
        if any(np.any(r[value] != 0) for r in (rw.run2, rw.run3)):
            raise rw.refuse(node, "its initial state is a non-zero value computed from the batch size")
        return None
    if rw.axis.get(value) != 1:
        raise rw.refuse(node, "its initial state does not have the batch on axis 1")
    return rw.name(value)


def _weight(rw, node, value) -> np.ndarray:
    if value not in rw.free or not rw.same_in_both_runs(value):
        raise rw.refuse(node, f"its weights {value!r} are computed from the input")
    return rw.run2[value]


def _alone(rw, node, ins, feeds, weights) -> onnx.ModelProto:
    """The node alone in a model, in layout 1: on the batch-first copies of its data inputs, its
    weights as initializers, writing its outputs' batch-first copies."""
    x = rw.name(ins[0])
    # sequence_lens is left out (every row has the full length); so are zero states, whose terms
    # unroll_rnn leaves out.
    new_ins = [x, ins[1], ins[2], ins[3], ""] + [feeds.get(ins[k], "") for k in STATES] + [ins[7]]
    while not new_ins[-1]:
        new_ins.pop()
    outs = [rw.out(o) if o else "" for o in node.output]
    copy = helper.make_node(node.op_type, new_ins, outs, name=node.name or node.op_type)
    copy.attribute.extend(a for a in node.attribute if a.name != "layout")
    copy.attribute.append(helper.make_attribute("layout", 1))
    typed = [_typed(rw, v, name) for v, name in [(ins[0], x)] + [(v, n) for v, n in feeds.items()]]
    graph = helper.make_graph([copy], "recurrent", typed, [onnx.ValueInfoProto(name=o) for o in outs if o],
                              initializer=[numpy_helper.from_array(a, n) for n, a in weights.items()])
    model = helper.make_model(graph, opset_imports=[o for o in rw.proto.opset_import if o.domain in ("", "ai.onnx")])
    model.ir_version = rw.proto.ir_version
    return model


def _typed(rw, value, name) -> onnx.ValueInfoProto:
    """`name` typed as `value`'s batch-first copy, with a dynamic batch."""
    a = rw.run2[value]
    dims = ["batch"] + [a.shape[k] for k in rw.order(value)[1:]]
    return helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(a.dtype), dims)


def _splice(rw, unrolled: onnx.ModelProto):
    """The unrolled nodes into the new graph, their constants shared and their inner values renamed
    (unroll_rnn names them apart from the one-node model's names only)."""
    graph = unrolled.graph
    consts = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    names = {n: rw.const(a) for n, a in consts.items()}
    kept = {v.name for v in list(graph.input) + list(graph.output)}
    for node in graph.node:
        names.update({o: rw.fresh() for o in node.output if o and o not in kept})
    for node in graph.node:
        ins = [names.get(i, i) for i in node.input]
        outs = [names.get(o, o) for o in node.output]
        if node.op_type == "Split":
            _slices(rw, node, ins[0], consts[node.input[1]], outs)
        else:
            rw.copy(node, ins, outs, name=rw.fresh())


def _slices(rw, node, x, sizes, outs):
    """Split as one Slice per part."""
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    ends = np.cumsum(sizes)
    for out, start, end in zip(outs, ends - sizes, ends):
        rw.emit("Slice", [x] + [rw.const(np.array([v], np.int64)) for v in (start, end, axis)], [out])
