"""LSTM, GRU and RNN nodes unrolled over their fixed sequence length into standard tensor ops.

Apache TVM's Relax ONNX frontend converts none of the recurrent ops (nor Scan or Loop), so each
such node becomes, per direction: one MatMul of the whole input by W^T with the biases added,
then for every time step a MatMul of the previous hidden state by R^T and the gate equations as
elementwise ops. The sequence length must therefore be static. The batch stays dynamic because
nothing is shaped by it: a missing initial state is not built as zeros, the first step simply
leaves out the terms that zeros would cancel.

Constant weights are sliced, transposed and summed here in numpy; weights that the graph
computes get the same treatment as Gather/Slice/Transpose/Add nodes.

Only the main graph is rewritten: a recurrent node inside an If/Loop/Scan body stays as it is.

Spec: https://onnx.ai/onnx/operators/onnx__LSTM.html (and onnx__GRU.html, onnx__RNN.html), as
ONNX Runtime computes it: `clip` bounds every gate's input (biases included) and nothing else,
`input_forget` makes the forget gate 1 - i.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import UnsupportedError
from ..onnx_edit import attr, default_opset, reads

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
DEFAULT_ACTIVATIONS = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh"), "RNN": ("Tanh",)}
# The (alpha, beta) each activation reads, with the default that the spec (the standalone op's
# default) and ONNX Runtime agree on; None: they do not agree, so the model must give the value.
ACTIVATION_PARAMS = {
    "sigmoid": (), "tanh": (), "relu": (), "softsign": (), "softplus": (),
    "leakyrelu": (0.01,), "hardsigmoid": (0.2, 0.5), "elu": (1.0,),
    "thresholdedrelu": (None,), "affine": (None, None), "scaledtanh": (None, None),
}
DTYPES = {TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64}
FIXED_LENGTH_HINT = ("export the model with a fixed sequence length (a static time dimension in "
                     "the input shape, e.g. no dynamic axis on it in torch.onnx.export)")


def run(proto: onnx.ModelProto) -> onnx.ModelProto:
    if not any(_is_recurrent(n) for n in proto.graph.node):
        return proto
    if default_opset(proto) < 13:
        raise UnsupportedError(f"unrolling LSTM/GRU/RNN needs default-domain opset 13 or later, the model has "
                               f"{default_opset(proto)}: convert it with onnx.version_converter or export it again")
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    _Rewriter(out).rewrite()
    return out


def _is_recurrent(node) -> bool:
    return node.op_type in GATES and node.domain in ("", "ai.onnx")


def _graph_names(graph) -> set:
    """Every value name in the graph and its subgraphs (a new name must shadow none of them)."""
    names = {v.name for v in list(graph.input) + list(graph.output) + list(graph.value_info)}
    names |= {i.name for i in graph.initializer}
    for n in graph.node:
        names.update(n.input)
        names.update(n.output)
        names.add(n.name)
        for a in n.attribute:
            for sub in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
                names |= _graph_names(sub)
    return names


def _shapes(graph) -> dict:
    """name -> (elem_type, dims) of every typed value; a dim is an int, or None when unknown."""
    out = {}
    for vi in list(graph.input) + list(graph.value_info) + list(graph.output):
        if not vi.type.HasField("tensor_type"):
            continue
        t = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim] \
            if t.HasField("shape") else None
        out[vi.name] = (t.elem_type, dims)
    for init in graph.initializer:
        out[init.name] = (init.data_type, list(init.dims))
    return out


def _inferred_shapes(model) -> dict:
    # Data propagation resolves shapes computed by Shape/Gather/Concat/Reshape chains.
    try:
        return _shapes(onnx.shape_inference.infer_shapes(model, data_prop=True).graph)
    except Exception:  # noqa: BLE001 - best effort: a shape still missing is reported where it is needed
        return _shapes(model.graph)


def _symbolic_shapes(model) -> dict:
    # ONNX Runtime's symbolic inference knows ops (and dims) that ONNX's own inference leaves open.
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference
        return _shapes(SymbolicShapeInference.infer_shapes(model).graph)
    except Exception:  # noqa: BLE001 - same: a fallback only
        return {}


class _Rewriter:
    def __init__(self, model):
        self.model, self.g = model, model.graph
        # An initializer that is also a graph input can be fed at run time: not a constant.
        fed = {i.name for i in self.g.input}
        self.consts = {i.name: numpy_helper.to_array(i) for i in self.g.initializer if i.name not in fed}
        for n in self.g.node:
            if n.op_type == "Constant" and attr(n, "value") is not None:
                self.consts[n.output[0]] = numpy_helper.to_array(attr(n, "value"))
        self.names = _graph_names(self.g)
        self.shapes = _inferred_shapes(model)
        self.symbolic = None
        self.count = 0
        self.cache = {}

    def fresh(self, hint: str) -> str:
        while True:
            self.count += 1
            name = f"{hint}_{self.count}"
            if name not in self.names:
                self.names.add(name)
                return name

    def const(self, value: np.ndarray) -> str:
        """An initializer holding value; small ones (scalars, indices) are shared."""
        key = (value.dtype.str, value.shape, value.tobytes()) if value.size <= 16 else None
        if key in self.cache:
            return self.cache[key]
        name = self.fresh("rnn_const")
        self.g.initializer.append(numpy_helper.from_array(value, name))
        if key is not None:
            self.cache[key] = name
        return name

    def shape(self, name, symbolic=False):
        """(elem_type, dims) of a value, or None; `symbolic`: from ONNX Runtime's inference (slower)."""
        if name in self.consts:
            c = self.consts[name]
            return helper.np_dtype_to_tensor_dtype(c.dtype), list(c.shape)
        if not symbolic:
            return self.shapes.get(name)
        if self.symbolic is None:
            self.symbolic = _symbolic_shapes(self.model)
        return self.symbolic.get(name)

    def rewrite(self):
        nodes = list(self.g.node)
        result, replaced = [], []
        for node in nodes:
            if _is_recurrent(node):
                result.extend(_Unroll(self, node).nodes())
                replaced.append(node)
            else:
                result.append(node)
        del self.g.node[:]
        self.g.node.extend(result)
        self.drop_unread({i for n in replaced for i in n.input if i})

    def drop_unread(self, candidates):
        """The weights now live in the unrolled nodes' own constants: drop the originals nothing reads."""
        used = reads(self.g.node) | {o.name for o in self.g.output}
        dead = candidates - used - {i.name for i in self.g.input}
        for init in [i for i in self.g.initializer if i.name in dead]:
            self.g.initializer.remove(init)
        for n in [n for n in self.g.node if n.op_type == "Constant" and n.output[0] in dead]:
            self.g.node.remove(n)


class _Unroll:
    """The standard-op subgraph of one LSTM/GRU/RNN node."""

    def __init__(self, rw: _Rewriter, node):
        self.rw, self.node, self.kind = rw, node, node.op_type
        self.out = []
        self.base = "".join(c if c.isalnum() else "_" for c in (node.name or node.op_type.lower()))
        inputs = list(node.input) + [""] * (8 - len(node.input))
        self.x, self.w, self.r, self.b, self.seq_lens, self.h0, self.c0, self.p = inputs
        if self.kind != "LSTM":
            self.c0 = self.p = ""
        self.layout = attr(node, "layout", 0)
        # X is [seq, batch, input] (layout 0) or [batch, seq, input]; initial and final states are
        # [dirs, batch, hidden] or [batch, dirs, hidden]: time and state-direction share an axis.
        self.time_axis = 0 if self.layout == 0 else 1
        self.direction = attr(node, "direction", b"forward").decode()
        if self.direction not in ("forward", "reverse", "bidirectional"):
            self.fail(f"unknown direction {self.direction!r}")
        self.dirs = 2 if self.direction == "bidirectional" else 1
        self.dtype = self.element_type()
        self.seq = self.sequence_length()
        self.hidden = self.hidden_size()
        clip = attr(node, "clip")
        self.clip_at = None if clip is None or (self.kind == "RNN" and clip < 0) else float(clip)
        self.acts = self.activations()

    # ---- attributes and static facts -------------------------------------------------------

    def fail(self, why: str):
        raise UnsupportedError(f"{self.kind} node {self.node.name!r}: {why}")

    def element_type(self):
        known = self.rw.shape(self.w) or self.rw.shape(self.x)
        if known is None or known[0] not in DTYPES:
            self.fail("unrolling supports float32 and float64 inputs only" if known else
                      "the input's element type is unknown (run shape inference on the model)")
        return DTYPES[known[0]]

    def sequence_length(self) -> int:
        for symbolic in (False, True):  # ONNX Runtime's inference only where ONNX's leaves it open
            known = self.rw.shape(self.x, symbolic)
            dims = known[1] if known else None
            seq = dims[self.time_axis] if dims and len(dims) == 3 else None
            if seq:
                break
        if not seq:
            self.fail(f"the sequence length (axis {self.time_axis} of input {self.x!r}) must be fixed to "
                      f"unroll the recurrence, and it is not known from the graph: {FIXED_LENGTH_HINT}")
        if self.seq_lens:
            lens = self.rw.consts.get(self.seq_lens)
            if lens is None or not np.all(lens == seq):
                self.fail(f"sequence_lens must be absent or a constant equal to the sequence length ({seq}) "
                          "for every row; per-row lengths (padded batches) are not supported: "
                          "drop sequence_lens or " + FIXED_LENGTH_HINT)
        return seq

    def hidden_size(self) -> int:
        hidden = attr(self.node, "hidden_size")
        if hidden is None:
            known = self.rw.shape(self.r)
            hidden = known[1][-1] if known and known[1] else None
        if not hidden:
            self.fail("hidden_size is neither an attribute nor known from R's shape")
        return int(hidden)

    def activations(self) -> list:
        """Per direction, the activation functions as callables on a value name."""
        names = [a.decode() if isinstance(a, bytes) else a for a in attr(self.node, "activations", [])]
        per = len(DEFAULT_ACTIVATIONS[self.kind])
        if not names:
            names = list(DEFAULT_ACTIVATIONS[self.kind]) * self.dirs
        elif self.kind == "RNN" and len(names) == 2 and self.dirs == 1:
            names = names[:1]  # the RNN schema's default lists Tanh twice, one per direction
        if len(names) != per * self.dirs:
            self.fail(f"expected {per * self.dirs} activations for direction {self.direction!r}, got {names}")
        alphas = list(attr(self.node, "activation_alpha", []))
        betas = list(attr(self.node, "activation_beta", []))
        acts = [self.activation(name, alphas, betas) for name in names]
        return [acts[d * per:(d + 1) * per] for d in range(self.dirs)]

    def activation(self, name, alphas, betas):
        key = name.lower()
        if key not in ACTIVATION_PARAMS:
            self.fail(f"activation {name!r} is not supported; supported: {sorted(ACTIVATION_PARAMS)}")
        # The spec consumes activation_alpha/beta in order, only by the activations that use them.
        params = []
        for default, pool in zip(ACTIVATION_PARAMS[key], (alphas, betas)):
            value = pool.pop(0) if pool else default
            if value is None:
                self.fail(f"activation {name} needs activation_alpha/activation_beta given explicitly")
            params.append(value)
        return lambda x: self.apply_activation(key, x, *params)

    # ---- node emission ---------------------------------------------------------------------

    def nodes(self) -> list:
        finals = [self.run_direction(d) for d in range(self.dirs)]
        outputs = list(self.node.output) + [""] * 3
        y, y_h = outputs[0], outputs[1]
        # With one direction, the last node writes the output itself (no Concat of one, no Identity).
        single = self.dirs == 1
        if y:
            # Y is [seq, dirs, batch, hidden] (layout 0) or [batch, seq, dirs, hidden].
            axes = [0, 1] if self.layout == 0 else [1, 2]
            per_dir = [self.concat([self.op("Unsqueeze", [h, self.ints(axes)]) for h in steps], self.time_axis,
                                   out=y if single else None) for steps, _, _ in finals]
            if not single:
                self.concat(per_dir, axes[1], out=y)
        states = [(y_h, 1)] + ([(outputs[2], 2)] if self.kind == "LSTM" else [])
        for name, k in states:
            if name:
                parts = [self.op("Unsqueeze", [f[k], self.ints([self.time_axis])], out=name if single else None)
                         for f in finals]
                if not single:
                    self.concat(parts, self.time_axis, out=name)
        return self.out

    def op(self, op_type, inputs, out=None, outputs=1, **attrs):
        """Append a node; numpy inputs become initializers. Returns its output name(s)."""
        names = [self.rw.const(i) if isinstance(i, np.ndarray) else i for i in inputs]
        outs = [out] if out else [self.rw.fresh(f"{self.base}_{op_type.lower()}") for _ in range(outputs)]
        self.out.append(helper.make_node(op_type, names, outs, name=self.rw.fresh(f"{self.base}_{op_type}"), **attrs))
        return outs[0] if outputs == 1 else outs

    def concat(self, parts, axis, out=None):
        if len(parts) == 1:
            return self.op("Identity", parts, out=out) if out else parts[0]
        return self.op("Concat", parts, out=out, axis=axis)

    def ints(self, values) -> np.ndarray:
        return np.array(values, np.int64)

    def scalar(self, value) -> np.ndarray:
        return np.array(value, self.dtype)

    # Weight pieces are numpy arrays when the weights are constants, else value names.

    def value(self, name):
        return self.rw.consts[name].astype(self.dtype, copy=False) if name in self.rw.consts else name

    def take(self, v, index, axis=0):
        if isinstance(v, np.ndarray):
            return np.take(v, index, axis=axis)
        return self.op("Gather", [v, self.ints(index)], axis=axis)

    def transposed(self, v):
        return v.T.copy() if isinstance(v, np.ndarray) else self.op("Transpose", [v], perm=[1, 0])

    def columns(self, v, start, end):
        """v[..., start:end]."""
        if isinstance(v, np.ndarray):
            return v[..., start:end].copy()
        return self.op("Slice", [v, self.ints([start]), self.ints([end]), self.ints([-1])])

    def add(self, a, b):
        """a + b, where a missing term (None) is zero."""
        if a is None or b is None:
            return b if a is None else a
        if isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            return a + b
        return self.op("Add", [a, b])

    def split(self, v, sizes):
        if v is None:
            return [None] * len(sizes)
        if isinstance(v, np.ndarray):
            return np.split(v, np.cumsum(sizes)[:-1], axis=-1)
        return self.op("Split", [v, self.ints(sizes)], outputs=len(sizes), axis=-1)

    def clip(self, x):
        if self.clip_at is None:
            return x
        return self.op("Clip", [x, self.scalar(-self.clip_at), self.scalar(self.clip_at)])

    def apply_activation(self, key, x, alpha=None, beta=None):
        if key in ("sigmoid", "tanh", "relu", "softplus"):
            return self.op({"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softplus": "Softplus"}[key], [x])
        if key == "affine":
            return self.op("Add", [self.op("Mul", [x, self.scalar(alpha)]), self.scalar(beta)])
        if key == "scaledtanh":
            return self.op("Mul", [self.op("Tanh", [self.op("Mul", [x, self.scalar(beta)])]), self.scalar(alpha)])
        if key == "hardsigmoid":
            lin = self.op("Add", [self.op("Mul", [x, self.scalar(alpha)]), self.scalar(beta)])
            return self.op("Clip", [lin, self.scalar(0), self.scalar(1)])
        if key == "softsign":
            return self.op("Div", [x, self.op("Add", [self.op("Abs", [x]), self.scalar(1)])])
        negative = self.op("Less", [x, self.scalar(0)])
        if key == "leakyrelu":
            return self.op("Where", [negative, self.op("Mul", [x, self.scalar(alpha)]), x])
        if key == "elu":
            expm1 = self.op("Sub", [self.op("Exp", [x]), self.scalar(1)])
            return self.op("Where", [negative, self.op("Mul", [expm1, self.scalar(alpha)]), x])
        assert key == "thresholdedrelu"
        return self.op("Where", [self.op("Greater", [x, self.scalar(alpha)]), x, self.scalar(0)])

    # ---- the recurrence --------------------------------------------------------------------

    def run_direction(self, d):
        """(hidden state per time step, final hidden state, final cell state) of direction d."""
        H, G = self.hidden, GATES[self.kind]
        w_t = self.transposed(self.take(self.value(self.w), d))          # [input, G*H]
        r_t = self.transposed(self.take(self.value(self.r), d))          # [H, G*H]
        b = self.take(self.value(self.b), d) if self.b else None
        wb, rb = (self.columns(b, 0, G * H), self.columns(b, G * H, 2 * G * H)) if b is not None else (None, None)
        lbr = self.kind == "GRU" and attr(self.node, "linear_before_reset", 0)
        # Biases that are added every step no matter what go into the one input MatMul; with
        # linear_before_reset, GRU's recurrent bias stays with H*R^T, which the reset gate scales.
        x_bias = wb if lbr else self.add(wb, rb)
        xw = self.add(self.op("MatMul", [self.x, w_t]), self.named(x_bias))  # [seq, batch, G*H] (or batch first)
        w = {"r_t": r_t, "acts": self.acts[d], "peep": (None, None, None)}
        if self.kind == "GRU" and lbr:
            w["rb"] = rb
        elif self.kind == "GRU":  # without linear_before_reset, the h part of R^T multiplies r * h
            w["r_zr"], w["r_h"] = self.split(w.pop("r_t"), [2 * H, H])
        if self.kind == "LSTM" and self.p:
            w["peep"] = self.split(self.take(self.value(self.p), d), [H, H, H])  # i, o, f
        # Each piece becomes one initializer here, read by every step.
        w = {k: v if k == "acts" else self.named(v) for k, v in w.items()}
        h = self.named(self.take(self.value(self.h0), d, self.time_axis)) if self.h0 else None
        c = self.named(self.take(self.value(self.c0), d, self.time_axis)) if self.c0 else None
        reverse = self.direction == "reverse" or d == 1
        steps = [None] * self.seq
        for t in (reversed(range(self.seq)) if reverse else range(self.seq)):
            x_t = self.op("Gather", [xw, self.ints(t)], axis=self.time_axis)  # [batch, G*H]
            h, c = getattr(self, f"{self.kind.lower()}_step")(w, x_t, h, c)
            steps[t] = h
        return steps, h, c

    def named(self, v):
        """v as a value name (an array becomes an initializer); lists and tuples element by element."""
        if isinstance(v, (list, tuple)):
            return type(v)(self.named(x) for x in v)
        return self.rw.const(v) if isinstance(v, np.ndarray) else v

    def recurrent(self, x_t, h, r_t):
        """x_t + h R^T, h None meaning zero."""
        return x_t if h is None else self.op("Add", [x_t, self.op("MatMul", [h, r_t])])

    def peephole(self, gate, p, c):
        return gate if p is None or c is None else self.op("Add", [gate, self.op("Mul", [c, p])])

    def lstm_step(self, w, x_t, h, c):
        H = self.hidden
        f_act, g_act, h_act = w["acts"]
        p_i, p_o, p_f = w["peep"]
        i, o, f, g = self.split(self.recurrent(x_t, h, w["r_t"]), [H, H, H, H])
        i = f_act(self.clip(self.peephole(i, p_i, c)))
        if attr(self.node, "input_forget", 0):
            f = self.op("Sub", [self.scalar(1), i])
        else:
            f = f_act(self.clip(self.peephole(f, p_f, c)))
        ig = self.op("Mul", [i, g_act(self.clip(g))])
        c = ig if c is None else self.op("Add", [self.op("Mul", [f, c]), ig])
        o = f_act(self.clip(self.peephole(o, p_o, c)))
        return self.op("Mul", [o, h_act(c)]), c

    def gru_step(self, w, x_t, h, c):
        H = self.hidden
        f_act, g_act = w["acts"]
        x_zr, x_h = self.split(x_t, [2 * H, H])
        if attr(self.node, "linear_before_reset", 0):
            # h R^T + Rb as a whole, the reset gate then scales its h part.
            hr = self.add(None if h is None else self.op("MatMul", [h, w["r_t"]]), w["rb"])
            h_zr, h_h = self.split(hr, [2 * H, H])
            z, r = self.split(self.add(x_zr, h_zr), [H, H])
            r = f_act(self.clip(r))
            pre = x_h if h_h is None else self.op("Add", [x_h, self.op("Mul", [r, h_h])])
        else:
            z, r = self.split(self.recurrent(x_zr, h, w["r_zr"]), [H, H])
            r = f_act(self.clip(r))
            pre = x_h if h is None else self.op("Add", [x_h, self.op("MatMul", [self.op("Mul", [r, h]), w["r_h"]])])
        z = f_act(self.clip(z))
        new = self.op("Mul", [self.op("Sub", [self.scalar(1), z]), g_act(self.clip(pre))])
        if h is not None:
            new = self.op("Add", [new, self.op("Mul", [z, h])])
        return new, None

    def rnn_step(self, w, x_t, h, c):
        (f_act,) = w["acts"]
        return f_act(self.clip(self.recurrent(x_t, h, w["r_t"]))), None
