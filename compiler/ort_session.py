"""ONNX Runtime sessions that also run modelport's own ops (compiler/ops: those with
`evaluate`, such as modelport.text:TokenCounts), which ONNX Runtime does not know.

Every place the compiler runs a graph with ONNX Runtime (shape measurement, the passes, the
IR's parity runner) opens it here. A graph without such ops gets a plain session. Otherwise
the graph is cut at those nodes: the part that computes their inputs runs first, the nodes
are computed in Python (each op module's `evaluate`, which follows the original library),
and the rest of the graph runs with their outputs fed as inputs.
"""
from __future__ import annotations

import importlib

import onnx

from .ops import REGISTRY

# (domain, op type) of ops ONNX Runtime cannot run: computed with their module's `evaluate`
OWN_DOMAINS = ("modelport.text",)


def _own(node) -> bool:
    return node.domain in OWN_DOMAINS


def has_own_ops(proto: onnx.ModelProto) -> bool:
    return any(_own(n) for n in proto.graph.node)


def own_ops(proto: onnx.ModelProto) -> list:
    """The own ops in the graph, as "domain:op"."""
    return sorted({f"{n.domain}:{n.op_type}" for n in proto.graph.node if _own(n)})


def session(model, opts=None):
    """A session over `model` (a ModelProto or its bytes) with ONNX Runtime's `run(names, feed)`
    and `get_outputs()`."""
    import onnxruntime as ort
    proto = model if isinstance(model, onnx.ModelProto) else None
    if proto is None:
        proto = onnx.ModelProto()
        proto.ParseFromString(model)
    if not has_own_ops(proto):
        return ort.InferenceSession(proto.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return _Split(proto, opts)


class _Output:
    def __init__(self, name):
        self.name = name


class _Split:
    """The graph in three parts: ONNX Runtime before the own nodes, the own nodes in Python,
    ONNX Runtime after them (the whole graph but those nodes, their outputs as inputs)."""

    def __init__(self, proto: onnx.ModelProto, opts):
        import onnxruntime as ort
        g = proto.graph
        self.outputs = [o.name for o in g.output]
        self.own = [n for n in g.node if _own(n)]
        produced = {o for n in self.own for o in n.output if o}
        if any(i in produced for n in self.own for i in n.input):
            raise NotImplementedError("an own op reads another's output")
        self.own_inputs = list(dict.fromkeys(i for n in self.own for i in n.input if i))
        graph_inputs = {i.name for i in g.input}
        inits = {i.name for i in g.initializer}
        self.pre = None
        need = [i for i in self.own_inputs if i not in graph_inputs and i not in inits]
        if need:
            pre = _prune(proto, need)
            self.pre = ort.InferenceSession(pre.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        self.post_proto = _without(proto, self.own)
        self.post = ort.InferenceSession(self.post_proto.SerializeToString(), opts,
                                         providers=["CPUExecutionProvider"])
        self.post_inputs = {i.name for i in self.post.get_inputs()}
        self.inits = {i.name: onnx.numpy_helper.to_array(i) for i in g.initializer if i.name in self.own_inputs}
        self.need = need

    def get_outputs(self):
        return [_Output(n) for n in self.outputs]

    def run(self, names, feed):
        names = list(names or self.outputs)
        values = dict(self.inits)
        values.update(feed)
        if self.pre is not None:
            pre_feed = {k: v for k, v in feed.items() if k in {i.name for i in self.pre.get_inputs()}}
            values.update(zip(self.need, self.pre.run(self.need, pre_feed)))
        computed = {}
        for node in self.own:
            outs = evaluate(node, [values[i] for i in node.input])
            computed.update({o: v for o, v in zip(node.output, outs) if o})
        post_feed = {k: v for k, v in {**feed, **computed}.items() if k in self.post_inputs}
        asked = [n for n in names if n not in computed and n not in feed]
        got = dict(zip(asked, self.post.run(asked, post_feed))) if asked else {}
        return [computed[n] if n in computed else got[n] if n in got else feed[n] for n in names]


def evaluate(node, inputs: list) -> list:
    """An own node's outputs, by its op module's `evaluate(attrs, *inputs)`."""
    module = importlib.import_module(f".ops.{REGISTRY[(node.domain, node.op_type)]}", __package__)
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    out = module.evaluate(attrs, *inputs)
    return list(out) if isinstance(out, tuple) else [out]


def _prune(proto: onnx.ModelProto, outputs: list) -> onnx.ModelProto:
    """The part of the graph that computes `outputs`."""
    g = proto.graph
    need, keep = set(outputs), []
    for n in reversed(list(g.node)):
        if any(o in need for o in n.output):
            if _own(n):
                raise NotImplementedError("an own op feeds another")
            keep.append(n)
            need.update(i for i in n.input if i)
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    del m.graph.node[:]
    m.graph.node.extend(reversed(keep))
    del m.graph.output[:]
    m.graph.output.extend(onnx.ValueInfoProto(name=o) for o in outputs)
    return m


def _without(proto: onnx.ModelProto, nodes: list) -> onnx.ModelProto:
    """The graph without its own `nodes`; their outputs become inputs (typed double, as own ops give)."""
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    kept = [n for n in m.graph.node if not _own(n)]
    del m.graph.node[:]
    m.graph.node.extend(kept)
    for n in nodes:
        for o in n.output:
            if o:
                m.graph.input.append(onnx.helper.make_tensor_value_info(o, onnx.TensorProto.DOUBLE, None))
    return m
