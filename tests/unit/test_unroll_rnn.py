"""LSTM/GRU/RNN unrolling: the unrolled graph means what the recurrent node means (ONNX Runtime on
both), uses only ops that TVM's ONNX frontend converts, and keeps the batch dynamic."""
import io
import zlib

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelport.errors import UnsupportedError
from modelport.passes import unroll_rnn

ALLOWED = {
    "Add", "Sub", "Mul", "Div", "MatMul", "Gemm", "Sigmoid", "Tanh", "Relu", "Concat", "Slice", "Squeeze",
    "Unsqueeze", "Transpose", "Reshape", "Split", "Gather", "Expand", "Shape", "ConstantOfShape", "Constant",
    "Identity", "Where", "Cast", "Clip", "Max", "Min", "Neg", "Exp", "Softplus", "Abs", "Not", "Less", "Greater",
    "Equal", "Tile",
}
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
INPUTS = ["X", "W", "R", "B", "sequence_lens", "initial_h", "initial_c", "P"]
SEQ, IN, HID = 4, 3, 5
ONNX_TYPE = {np.float32: TensorProto.FLOAT, np.float64: TensorProto.DOUBLE}


def _weights(op, dirs, rng, dtype, bias=True, peepholes=False):
    g = GATES[op]
    w = {"W": rng.normal(0, 0.6, (dirs, g * HID, IN)), "R": rng.normal(0, 0.6, (dirs, g * HID, HID))}
    if bias:
        w["B"] = rng.normal(0, 0.5, (dirs, 2 * g * HID))
    if peepholes:
        w["P"] = rng.normal(0, 0.5, (dirs, 3 * HID))
    return {k: v.astype(dtype) for k, v in w.items()}


def _model(op, attrs, consts, fed, outputs, layout=0, dtype=np.float32, seq=SEQ, opset=17):
    """One recurrent node. `consts` become initializers, `fed` ({name: rank}) graph inputs whose
    batch axis is dynamic (named 'batch'); X is always fed."""
    def batch_shape(name, rank):
        if name == "X":
            return [seq, "batch", IN] if layout == 0 else ["batch", seq, IN]
        if name in ("initial_h", "initial_c"):
            return [None, "batch", HID] if layout == 0 else ["batch", None, HID]
        return [None] * rank
    names = [n if n == "X" or n in consts or n in fed else "" for n in INPUTS]
    while names[-1] == "":
        names.pop()
    node = helper.make_node(op, names, outputs, name="rec", layout=layout, hidden_size=HID, **attrs)
    t = ONNX_TYPE[dtype]
    graph_inputs = [helper.make_tensor_value_info(n, t, batch_shape(n, fed.get(n, 3))) for n in ["X", *fed]]
    graph_outputs = [helper.make_tensor_value_info(o, t, [None] * (4 if o == "Y" else 3)) for o in outputs if o]
    inits = [numpy_helper.from_array(np.asarray(v), k) for k, v in consts.items()]
    graph = helper.make_graph([node], "g", graph_inputs, graph_outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _ort(model, feeds):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _reference(op, attrs, consts, feeds, outputs, layout):
    """ONNX Runtime on the node; it has no batch-first kernels, so layout 1 runs as layout 0 on
    transposed inputs with the outputs transposed back."""
    if layout == 0:
        fed = {k: v.ndim for k, v in feeds.items() if k != "X"}
        return _ort(_model(op, attrs, consts, fed, outputs), feeds)
    to0 = {"X": (1, 0, 2), "initial_h": (1, 0, 2), "initial_c": (1, 0, 2)}
    feeds0 = {k: v.transpose(to0[k]) if k in to0 else v for k, v in feeds.items()}
    fed = {k: v.ndim for k, v in feeds.items() if k != "X"}
    got = _ort(_model(op, attrs, consts, fed, outputs), feeds0)
    return [r.transpose((2, 0, 1, 3)) if r.ndim == 4 else r.transpose((1, 0, 2)) for r in got]


def _check_graph(model):
    onnx.checker.check_model(model, full_check=True)
    ops = {(n.domain, n.op_type) for n in model.graph.node}
    assert not {t for _, t in ops} & set(GATES)
    assert {t for _, t in ops} <= ALLOWED, {t for _, t in ops} - ALLOWED
    assert {d for d, _ in ops} <= {""}
    names = [n.name for n in model.graph.node]
    assert all(names) and len(set(names)) == len(names)


def _check_case(op, attrs, outputs, layout=0, bias=True, states=(), peepholes=False, seq_lens=False,
                fed_weights=False):
    rng = np.random.default_rng(zlib.crc32(repr((op, attrs, outputs, layout, bias, states)).encode()))
    dirs = 2 if attrs.get("direction") == "bidirectional" else 1
    consts = _weights(op, dirs, rng, np.float32, bias, peepholes)
    if seq_lens:
        consts["sequence_lens"] = np.full(1, SEQ, np.int32)  # broadcast rows: any batch, all full length
    model_consts, model_fed = (({k: v for k, v in consts.items() if k == "sequence_lens"},
                                {k: v.ndim for k, v in consts.items() if k != "sequence_lens"})
                               if fed_weights else (consts, {}))
    model = _model(op, attrs, model_consts, {**model_fed, **{s: 3 for s in states}}, outputs, layout)
    unrolled = unroll_rnn.run(model)
    _check_graph(unrolled)
    for batch in (1, 5):
        if seq_lens:  # sequence_lens has one entry per row: rebuild the reference's with this batch
            consts["sequence_lens"] = np.full(batch, SEQ, np.int32)
        x = rng.normal(0, 1, (SEQ, batch, IN) if layout == 0 else (batch, SEQ, IN)).astype(np.float32)
        feeds = {"X": x}
        for s in states:
            shape = (dirs, batch, HID) if layout == 0 else (batch, dirs, HID)
            feeds[s] = rng.normal(0, 1, shape).astype(np.float32)
        want = _reference(op, attrs, consts, feeds, outputs, layout)
        unrolled_feeds = {**feeds, **({k: v for k, v in consts.items() if k != "sequence_lens"}
                                      if fed_weights else {})}
        got = _ort(unrolled, unrolled_feeds)
        assert len(got) == len(want) == len([o for o in outputs if o])
        for g, w in zip(got, want):
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


DIRECTIONS = ["forward", "reverse", "bidirectional"]
ALL = {"LSTM": ["Y", "Y_h", "Y_c"], "GRU": ["Y", "Y_h"], "RNN": ["Y", "Y_h"]}


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("layout", [0, 1])
def test_directions_and_layouts(op, direction, layout):
    states = ("initial_h", "initial_c") if op == "LSTM" else ("initial_h",)
    _check_case(op, {"direction": direction}, ALL[op], layout, states=states, peepholes=op == "LSTM")


@pytest.mark.parametrize("op", ["LSTM", "GRU", "RNN"])
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_without_bias_or_initial_state(op, direction):
    _check_case(op, {"direction": direction}, ALL[op], bias=False)


@pytest.mark.parametrize("outputs", [["Y"], ["", "Y_h"], ["", "", "Y_c"], ["Y", "", "Y_c"], ["", "Y_h", "Y_c"]])
def test_lstm_output_subsets(outputs):
    _check_case("LSTM", {"direction": "bidirectional"}, outputs, layout=1, states=("initial_c",))


@pytest.mark.parametrize("outputs", [["Y"], ["", "Y_h"]])
def test_gru_output_subsets(outputs):
    _check_case("GRU", {"direction": "reverse", "linear_before_reset": 1}, outputs)


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("layout", [0, 1])
@pytest.mark.parametrize("bias, states", [(True, ("initial_h",)), (False, ())])
def test_gru_linear_before_reset(direction, layout, bias, states):
    _check_case("GRU", {"direction": direction, "linear_before_reset": 1}, ALL["GRU"], layout, bias, states)


@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm_input_forget_with_peepholes(direction):
    _check_case("LSTM", {"direction": direction, "input_forget": 1}, ALL["LSTM"],
                states=("initial_h", "initial_c"), peepholes=True)


@pytest.mark.parametrize("op, extra", [("LSTM", {}), ("GRU", {}), ("GRU", {"linear_before_reset": 1}), ("RNN", {})])
def test_clip(op, extra):
    # A tight clip, so that it bites on most gates.
    _check_case(op, {"direction": "bidirectional", "clip": 0.4, **extra}, ALL[op], states=("initial_h",))


def test_sequence_lens_equal_to_the_length():
    _check_case("LSTM", {"direction": "bidirectional"}, ALL["LSTM"], seq_lens=True)


@pytest.mark.parametrize("op, extra", [("LSTM", {}), ("GRU", {}), ("GRU", {"linear_before_reset": 1}), ("RNN", {})])
def test_weights_computed_by_the_graph(op, extra):
    # W, R, B (and P) as graph inputs: the pass slices them with graph ops instead of numpy.
    _check_case(op, {"direction": "bidirectional", **extra}, ALL[op], states=("initial_h",),
                peepholes=op == "LSTM", fed_weights=True)


@pytest.mark.parametrize("activation, alpha, beta", [
    ("Relu", [], []), ("Sigmoid", [], []), ("Affine", [0.7], [0.2]), ("LeakyRelu", [0.1], []),
    ("ThresholdedRelu", [0.3], []), ("ScaledTanh", [1.5], [0.6]), ("HardSigmoid", [0.25], [0.45]),
    ("Elu", [0.8], []), ("Softsign", [], []), ("Softplus", [], []),
])
def test_rnn_activations(activation, alpha, beta):
    attrs = {"activations": [activation], "activation_alpha": alpha, "activation_beta": beta}
    _check_case("RNN", {k: v for k, v in attrs.items() if v}, ALL["RNN"], states=("initial_h",))


def test_lstm_and_gru_activations_take_alpha_beta_in_order():
    # Forward f, g, h then reverse f, g, h; alpha/beta are consumed only by those that use them,
    # LeakyRelu and HardSigmoid fall back to the spec defaults once the lists run out.
    acts = ["HardSigmoid", "Tanh", "LeakyRelu", "Sigmoid", "Softsign", "HardSigmoid"]
    _check_case("LSTM", {"direction": "bidirectional", "activations": acts, "activation_alpha": [0.3, 0.05],
                         "activation_beta": [0.4]}, ALL["LSTM"], states=("initial_h", "initial_c"), peepholes=True)
    _check_case("GRU", {"direction": "forward", "activations": ["HardSigmoid", "Relu"]}, ALL["GRU"],
                states=("initial_h",))


def test_float64():
    # ONNX Runtime has no double kernels for these ops: the ONNX reference evaluator is the judge.
    from onnx.reference import ReferenceEvaluator
    rng = np.random.default_rng(7)
    for op in ("LSTM", "GRU"):
        consts = _weights(op, 2, rng, np.float64, peepholes=op == "LSTM")
        outputs = ALL[op]
        model = _model(op, {"direction": "bidirectional"}, consts, {"initial_h": 3}, outputs, dtype=np.float64)
        unrolled = unroll_rnn.run(model)
        _check_graph(unrolled)
        assert {i.data_type for i in unrolled.graph.initializer} <= {TensorProto.DOUBLE, TensorProto.INT64}
        feeds = {"X": rng.normal(0, 1, (SEQ, 3, IN)), "initial_h": rng.normal(0, 1, (2, 3, HID))}
        for g, w in zip(_ort(unrolled, feeds), ReferenceEvaluator(model).run(None, feeds)):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("opset", [14, 22])
def test_opsets(opset):
    rng = np.random.default_rng(opset)
    for op in ("LSTM", "GRU", "RNN"):
        model = _model(op, {"direction": "bidirectional"}, _weights(op, 2, rng, np.float32), {}, ALL[op], opset=opset)
        unrolled = unroll_rnn.run(model)
        _check_graph(unrolled)
        x = rng.normal(0, 1, (SEQ, 2, IN)).astype(np.float32)
        for g, w in zip(_ort(unrolled, {"X": x}), _ort(model, {"X": x})):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_sequence_length_found_by_shape_inference():
    # x [batch, seq*input] reshaped to [batch, seq, input] through a shape computed in the graph,
    # then made time-first: only shape inference with data propagation knows the length there.
    rng = np.random.default_rng(5)
    consts = {**_weights("LSTM", 1, rng, np.float32), "zero": np.array([0], np.int64),
              "tail": np.array([SEQ, IN], np.int64)}
    nodes = [helper.make_node("Shape", ["x"], ["shape_x"]),
             helper.make_node("Gather", ["shape_x", "zero"], ["batch"], axis=0),
             helper.make_node("Concat", ["batch", "tail"], ["shape_3d"], axis=0),
             helper.make_node("Reshape", ["x", "shape_3d"], ["x_3d"]),
             helper.make_node("Transpose", ["x_3d"], ["X"], perm=[1, 0, 2]),
             helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h"], hidden_size=HID)]
    for i, n in enumerate(nodes):
        n.name = f"n{i}"
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", SEQ * IN])],
                              [helper.make_tensor_value_info(o, TensorProto.FLOAT, [None] * r) for o, r in
                               (("Y", 4), ("Y_h", 3))],
                              [numpy_helper.from_array(v, k) for k, v in consts.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    unrolled = unroll_rnn.run(model)
    _check_graph(unrolled)
    assert [n.name for n in unrolled.graph.node][:5] == [n.name for n in model.graph.node][:5]
    x = rng.normal(0, 1, (5, SEQ * IN)).astype(np.float32)
    for g, w in zip(_ort(unrolled, {"x": x}), _ort(model, {"x": x})):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def test_dynamic_sequence_length_is_refused():
    consts = _weights("LSTM", 1, np.random.default_rng(0), np.float32)
    model = _model("LSTM", {}, consts, {}, ALL["LSTM"], seq="time")
    with pytest.raises(UnsupportedError, match="sequence length.*must be fixed.*export the model with a fixed"):
        unroll_rnn.run(model)


def test_varying_sequence_lens_are_refused():
    consts = {**_weights("GRU", 1, np.random.default_rng(0), np.float32), "sequence_lens": np.array([4, 2], np.int32)}
    model = _model("GRU", {}, consts, {}, ALL["GRU"])
    with pytest.raises(UnsupportedError, match="sequence_lens"):
        unroll_rnn.run(model)


@pytest.mark.parametrize("attrs, match", [
    ({"activations": ["Gelu"]}, "activation 'Gelu' is not supported"),
    ({"activations": ["Affine"], "activation_alpha": [0.5]}, "needs activation_alpha/activation_beta"),
])
def test_unsupported_activations_are_refused(attrs, match):
    consts = _weights("RNN", 1, np.random.default_rng(0), np.float32)
    with pytest.raises(UnsupportedError, match=match):
        unroll_rnn.run(_model("RNN", attrs, consts, {}, ALL["RNN"]))


def test_models_without_recurrent_nodes_are_returned_unchanged():
    node = helper.make_node("Relu", ["X"], ["Y"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert unroll_rnn.run(model) is model


# ---- torch exports --------------------------------------------------------------------------------


def _export(module, x):
    import torch
    buf = io.BytesIO()
    with torch.no_grad():
        torch.onnx.export(module, (x,), buf, dynamo=False, input_names=["x"], dynamic_axes={"x": {0: "batch"}},
                          opset_version=17)
    return onnx.load_from_string(buf.getvalue())


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_torch_exports(kind):
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            # batch first, so that the exported input's axis 0 (dynamic) is the batch
            self.rnn = (torch.nn.LSTM(IN, HID, num_layers=2, batch_first=True) if kind == "lstm"
                        else torch.nn.GRU(IN, HID, bidirectional=True, batch_first=True))

        def forward(self, x):
            y, state = self.rnn(x)
            return y, state[0] if kind == "lstm" else state

    torch.manual_seed(0)
    net = Net().eval()
    model = _export(net, torch.randn(2, 6, IN))
    assert {"LSTM", "GRU"} & {n.op_type for n in model.graph.node}
    unrolled = unroll_rnn.run(model)
    _check_graph(unrolled)
    names = {n.name for n in model.graph.node if n.op_type not in GATES}
    assert names <= {n.name for n in unrolled.graph.node}  # the other nodes are kept
    for batch in (1, 5):
        x = torch.randn(batch, 6, IN)
        with torch.no_grad():
            want = [t.numpy() for t in net(x)]
        got = _ort(unrolled, {"x": x.numpy()})
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


# ---- TVM ---------------------------------------------------------------------------------------


def test_tvm_compiles_and_runs_an_unrolled_lstm():
    import tvm
    from tvm.relax.frontend.onnx import from_onnx

    rng = np.random.default_rng(3)
    consts = _weights("LSTM", 2, rng, np.float32, peepholes=True)
    model = _model("LSTM", {"direction": "bidirectional"}, consts, {}, ALL["LSTM"])
    unrolled = unroll_rnn.run(model)
    target = tvm.target.Target({"kind": "llvm", "mcpu": tvm.target.codegen.llvm_get_system_cpu(),
                                "mtriple": "x86_64-linux-gnu", "num-cores": 1})
    with target:
        mod = tvm.relax.get_pipeline("zero")(from_onnx(unrolled))
    vm = tvm.relax.VirtualMachine(tvm.compile(mod, target=target), tvm.cpu())
    for batch in (1, 5):  # one build serves every batch size
        x = rng.normal(0, 1, (SEQ, batch, IN)).astype(np.float32)
        out = vm["main"](tvm.runtime.tensor(x))
        got = [out.numpy()] if hasattr(out, "numpy") else [o.numpy() for o in out]
        want = _ort(model, {"X": x})
        assert len(got) == len(want)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
