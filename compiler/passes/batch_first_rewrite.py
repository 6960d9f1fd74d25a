"""The batch-first rewrite's walk over a graph (batch_first.py says why and what), and the state
its rules write the new graph with: each value's contents at batch sizes 2 and 3, its batch axis,
and its batch-first copy."""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper, numpy_helper

from . import batch_first_rnn, batch_first_rules


class Refused(Exception):
    """A node the batch-first rewrite does not handle (the message says which and why)."""


def subgraph_refs(node) -> set:
    """The values a node's subgraphs (Loop, Scan, If bodies) read, their own included."""
    names = set()
    for a in node.attribute:
        for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
            for n in g.node:
                names.update(n.input)
                names |= subgraph_refs(n)
    return names


class Rewriter:
    """One pass over the graph's nodes (in order), writing a batch-first graph."""

    def __init__(self, proto, run2, run3):
        self.proto = proto
        self.consts = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
        for node in proto.graph.node:
            if node.op_type == "Constant" and node.attribute[0].name == "value":
                self.consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.run2, self.run3 = {**self.consts, **run2}, {**self.consts, **run3}  # every value's contents
        # Values that depend on the inputs' shapes only (the batch size), not on their data.
        self.free = set(self.consts)
        for node in proto.graph.node:
            reads = [i for i in node.input if i] + sorted(subgraph_refs(node))
            if node.op_type == "Shape" or all(i in self.free for i in reads):
                self.free.update(node.output)
        self.axis = {}  # the batch axis of every value computed from the data
        # values made from the batch size alone whose first axis is the batch (ConstantOfShape,
        # Expand, Tile): they stay shape arithmetic (an RNN's zero state) unless a node on the
        # data reads them
        self.fills = set()
        self.producer = {}
        # Values whose first dimension is batch x k (Dense on a sequence reshapes [batch, k, F] to
        # [batch * k, F] around a MatMul) are held as [batch, k, ...]: the same elements in order.
        self.merged = {}
        # Values [1, ..., 1, batch x k] that hold each row's k elements one after the other (the
        # whole batch flattened: skl2onnx's QuantileTransformer): held as [batch, k].
        self.flat = {}
        for name, a in self.run2.items():
            b = self.run3[name]
            diff = [k for k in range(a.ndim) if a.shape[k] != b.shape[k]] if a.ndim == b.ndim else None
            if name in self.free and diff == [0] and (a.shape[0], b.shape[0]) == (2, 3):
                self.fills.add(name)
            if name in self.free or not diff or len(diff) != 1:
                continue
            if (a.shape[diff[0]], b.shape[diff[0]]) == (2, 3):
                self.axis[name] = diff[0]
            elif diff == [0] and a.shape[0] % 2 == 0 and a.shape[0] // 2 * 3 == b.shape[0]:
                self.merged[name] = a.shape[0] // 2
            elif diff == [a.ndim - 1] and a.shape[-1] % 2 == 0 and a.shape[-1] // 2 * 3 == b.shape[-1] and \
                    all(d == 1 for d in a.shape[:-1]):
                self.flat[name] = a.shape[-1] // 2
        # Values whose first dimension is k x batch, k blocks of the batch's rows one after the
        # other (skl2onnx concatenates per-class [N, 1] columns along axis 0): held as [batch, k, ...].
        self.stacked = {}
        self.moved = {}  # value -> its batch-first copy
        self.rows_value = None  # [N, 1] bool, one per row (batch_rows)
        self.nodes, self.inits, self.count, self.known = [], [], 0, {}

    def needed(self) -> bool:
        return any(self.axis.values()) or bool(self.merged) or bool(self.fills) or bool(self.flat) or \
            any(n.op_type == "Shape" for n in self.proto.graph.node)

    # -- the walk ---------------------------------------------------------------------------

    def rewrite(self) -> onnx.ModelProto:
        for node in self.proto.graph.node:
            self.visit(node)
        return self.finish()

    def visit(self, node):
        outs = [o for o in node.output if o]
        ins = [i for i in node.input if i]
        for o in outs:
            self.producer[o] = node
        if not all(o in self.free for o in outs) and node.op_type not in batch_first_rnn.OPS:
            for i in ins:  # a fill read by a node on the data: written as a broadcast over the rows
                if i in self.fills and i not in self.moved:
                    self.moved[i] = self.fresh()
                    self.axis[i] = 0
                    batch_first_rules.filled(self, self.producer[i])
        moved_in = [i for i in ins + sorted(subgraph_refs(node)) if i in self.moved]
        if all(o in self.free for o in outs):
            self.nodes.append(node)  # shape arithmetic: dropped in finish() unless still used
        elif node.op_type in batch_first_rnn.OPS:
            batch_first_rnn.unroll(self, node)
        elif node.op_type == "Reshape" and (ins[1] not in self.consts or ins[0] in self.merged
                                            or outs[0] in self.merged or ins[0] in self.flat):
            batch_first_rules.reshape(self, node)
        elif any(v in self.flat for v in ins + outs):
            batch_first_rules.flat_op(self, node)
        elif node.op_type == "Concat" and outs[0] in self.merged and batch_first_rules.stacks(self, node):
            batch_first_rules.stack(self, node)
        elif any(v in self.merged for v in ins + outs):
            batch_first_rules.merged_op(self, node)
        elif not moved_in and all(self.axis.get(o, 0) == 0 for o in outs):
            self.nodes.append(node)
        elif node.op_type in batch_first_rules.RULES:
            batch_first_rules.RULES[node.op_type](self, node)
        elif batch_first_rules.is_elementwise(node) and not subgraph_refs(node):
            batch_first_rules.elementwise(self, node)
        else:
            shape = self.run2[moved_in[0] if moved_in else outs[0]].shape
            raise self.refuse(node, f"its values have the batch on another axis than the first ({shape} "
                                    "at batch size 2)")

    def finish(self) -> onnx.ModelProto:
        """The nodes the outputs need, checked to compute nothing from the batch size."""
        graph = self.proto.graph
        for o in graph.output:
            if o.name in self.moved:
                raise Refused(f"output {o.name!r} does not have the batch as its first dimension")
        needed, kept = {o.name for o in graph.output}, []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                kept.append(node)
                needed.update(i for i in node.input if i)
        kept.reverse()
        for node in kept:
            if node.op_type == "Shape":
                users = [n.name for n in kept if any(o in n.input for o in node.output)]
                raise self.refuse(node, "the graph computes with the batch size at run time (for "
                                        f"{', '.join(users) or 'its outputs'}); only Reshape targets are "
                                        "made constant")
        inits = [i for i in list(graph.initializer) + self.inits if i.name in needed]
        new = helper.make_graph(kept, graph.name, list(graph.input), list(graph.output), initializer=inits)
        used = {"", "ai.onnx"} | {n.domain for n in kept} | {f.domain for f in self.proto.functions} | \
            {n.domain for f in self.proto.functions for n in f.node}
        model = helper.make_model(new, opset_imports=[o for o in self.proto.opset_import if o.domain in used],
                                  producer_name=self.proto.producer_name,
                                  producer_version=self.proto.producer_version)
        model.functions.extend(self.proto.functions)  # nodes kept as they are may call them
        model.ir_version = self.proto.ir_version
        return model

    # -- what rules write with --------------------------------------------------------------

    def order(self, value) -> list:
        """The axes of `value` in the order its batch-first copy holds them."""
        b, rank = self.axis.get(value, 0), self.run2[value].ndim
        return [b] + [k for k in range(rank) if k != b]

    def name(self, value) -> str:
        """The batch-first copy of `value` (the value itself where its batch is already first)."""
        return self.moved.get(value, value)

    def out(self, value) -> str:
        """The name a rule writes `value`'s batch-first copy under."""
        if self.axis.get(value, 0) == 0 and value not in self.merged and value not in self.flat:
            return value
        self.moved[value] = f"{value}/batch_first"
        return self.moved[value]

    def fresh(self) -> str:
        self.count += 1
        return f"batch_first/{self.count}"

    def const(self, array) -> str:
        """A new initializer, shared by equal constants (an unrolled LSTM reuses its weights)."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.known:
            self.known[key] = self.fresh()
            self.inits.append(numpy_helper.from_array(array, self.known[key]))
        return self.known[key]

    def copy(self, node, inputs, outputs, name=None):
        """`node` on other values (same op, domain and attributes)."""
        new = helper.make_node(node.op_type, inputs, outputs, name=name or node.name, domain=node.domain or None)
        new.attribute.extend(node.attribute)
        self.nodes.append(new)

    def emit(self, op, inputs, outputs=None, **attrs) -> str:
        outputs = outputs or [self.fresh()]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=self.fresh(), **attrs))
        return outputs[0]

    def ints(self, node, k) -> list | None:
        """A constant integer input (axes, starts, ...) as a list; None when absent."""
        if len(node.input) <= k or not node.input[k]:
            return None
        if node.input[k] not in self.consts:
            raise self.refuse(node, f"its input {node.input[k]!r} is computed at run time")
        return [int(v) for v in np.asarray(self.consts[node.input[k]]).reshape(-1)]

    def batch_rows(self) -> str:
        """A [N, 1] bool value (true or false, one per row) from the graph's first input: what a
        broadcast over the rows of the batch takes its row count from."""
        if self.rows_value is None:
            x = next(i for i in self.proto.graph.input if i.name not in self.consts)
            elem = x.type.tensor_type.elem_type
            flat = self.emit("Reshape", [x.name, self.const(np.array([0, -1], np.int64))])
            first = self.emit("Slice", [flat, self.const(np.array([0], np.int64)), self.const(np.array([1], np.int64)),
                                        self.const(np.array([1], np.int64))])
            if elem == onnx.TensorProto.STRING:
                self.rows_value = self.emit("Equal", [first, self.const(np.array("", dtype=object))])
            else:
                if elem not in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE):
                    first = self.emit("Cast", [first], to=onnx.TensorProto.FLOAT)
                self.rows_value = self.emit("IsNaN", [first])
        return self.rows_value

    def same_in_both_runs(self, value) -> bool:
        """Whether `value` holds the same at batch sizes 2 and 3 (a constant in effect)."""
        a, b = self.run2[value], self.run3[value]
        return a.shape == b.shape and bool(np.all(a == b))

    def refuse(self, node, why) -> Refused:
        return Refused(f"the {node.op_type} node {node.name!r}: {why}. The batch is moved first through "
                       f"{batch_first_rules.LAYOUT_OPS} only")
