"""The batch-first pass: the rewritten graph means what the original means (ONNX Runtime on both, at
a batch size the pass never measured), every value in it keeps the batch first (the kernels' IR
builds it), and a graph it cannot rewrite comes back unchanged with the reason."""
import io
import re
import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from modelport import ir
from modelport.errors import UnsupportedError
from modelport.passes import batch_first

T, F, H = 5, 3, 4  # time steps, input features, hidden units
GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}
RECURRENT = set(GATES)


def _model(nodes, inputs, outputs, inits=()) -> onnx.ModelProto:
    """inputs/outputs: [(name, shape)] of float32 values, shape[0] = 'N' (the batch)."""
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                              [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in outputs],
                              initializer=[numpy_helper.from_array(np.asarray(a), n) for n, a in inits])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _ort(model, feed) -> list:
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feed)


def _feed(model, batch, seed=0) -> dict:
    rng = np.random.default_rng(seed)
    return {i.name: rng.normal(0, 1, [batch] + [d.dim_value for d in i.type.tensor_type.shape.dim[1:]])
            .astype(np.float32) for i in model.graph.input}


def _rewritten(model) -> onnx.ModelProto:
    """The pass's graph, checked: same outputs at a batch of 5, every value batch-first."""
    new, note = batch_first.run(model)
    assert note is None and new is not model
    onnx.checker.check_model(new)
    feed = _feed(model, 5)
    for want, got in zip(_ort(model, feed), _ort(new, feed)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    ir.build_graph(new)  # raises where a value does not keep the batch first
    return new


def _ops(model) -> set:
    return {n.op_type for n in model.graph.node}


def _batch_size(x, out):
    """Nodes writing `out`: the batch size of `x` as a 1-element int64 tensor, computed at run time."""
    return [helper.make_node("Shape", [x], [out + "_shape"]),
            helper.make_node("Slice", [out + "_shape", "zero1", "one1"], [out])]


SHAPE_CONSTS = [("zero1", np.array([0], np.int64)), ("one1", np.array([1], np.int64))]


def test_flatten_computed_from_the_batch_size_becomes_a_constant_reshape():
    nodes = _batch_size("x", "n") + [
        helper.make_node("Concat", ["n", "six"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["y"])]
    model = _model(nodes, [("x", ["N", 2, 3])], [("y", ["N", 4])],
                   SHAPE_CONSTS + [("six", np.array([6], np.int64)),
                                   ("w", np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32))])
    new = _rewritten(model)
    assert _ops(new) == {"Reshape", "MatMul"}
    target = {i.name: numpy_helper.to_array(i) for i in new.graph.initializer}[new.graph.node[0].input[1]]
    assert target.tolist() == [-1, 6]


def test_stacked_row_blocks_reduced_over_the_stack():
    # [N, 3] -> [1, N, 3] twice -> Concat on axis 0 -> ReduceMean over it (skl2onnx's Bagging)
    nodes = [helper.make_node("Mul", ["x", "two"], ["x2"]),
             helper.make_node("Reshape", ["x", "stack"], ["a"]), helper.make_node("Reshape", ["x2", "stack"], ["b"]),
             helper.make_node("Concat", ["a", "b"], ["ab"], axis=0),
             helper.make_node("ReduceMean", ["ab"], ["y"], axes=[0], keepdims=0),
             helper.make_node("ReduceSum", ["ab", "axis0"], ["m"], keepdims=1),
             helper.make_node("ReduceMax", ["ab"], ["top"], axes=[2], keepdims=0),
             helper.make_node("Transpose", ["top"], ["y2"], perm=[1, 0]),
             helper.make_node("Reshape", ["m", "rows"], ["z"])]
    model = _model(nodes, [("x", ["N", 3])], [("y", ["N", 3]), ("z", ["N", 3]), ("y2", ["N", 2])],
                   [("two", np.float32(2)), ("stack", np.array([1, -1, 3], np.int64)),
                    ("axis0", np.array([0], np.int64)), ("rows", np.array([-1, 3], np.int64))])
    _rewritten(model)


def test_column_blocks_concatenated_along_the_batch_then_reshaped_and_transposed():
    # k [N, 1] columns -> Concat on axis 0 ([k*N, 1], block after block) -> Reshape [k, -1] ->
    # Transpose to [N, k] (skl2onnx's QuadraticDiscriminantAnalysis)
    nodes = [helper.make_node("ReduceSum", ["x", "last"], [f"s{c}"], keepdims=1) for c in range(3)]
    nodes[1] = helper.make_node("ReduceMax", ["x"], ["s1"], axes=[1], keepdims=1)
    nodes += [helper.make_node("Concat", ["s0", "s1", "s2"], ["cat"], axis=0),
              helper.make_node("Reshape", ["cat", "blocks"], ["kn"]),
              helper.make_node("Transpose", ["kn"], ["y"], perm=[1, 0])]
    model = _model(nodes, [("x", ["N", 4])], [("y", ["N", 3])],
                   [("last", np.array([1], np.int64)), ("blocks", np.array([3, -1], np.int64))])
    new = _rewritten(model)
    assert "Transpose" not in _ops(new)


def test_whole_batch_flattened_then_reshaped_back_to_rows():
    # [N, 3] -> Flatten(axis=0) [1, 3N] -> elementwise, a table lookup -> Reshape to Shape(x)
    # (skl2onnx's QuantileTransformer)
    nodes = [helper.make_node("Flatten", ["x"], ["flat"], axis=0),
             helper.make_node("Mul", ["flat", "ten"], ["big"]),
             helper.make_node("Abs", ["big"], ["pos"]),
             helper.make_node("Cast", ["pos"], ["idx"], to=TensorProto.INT64),
             helper.make_node("Min", ["idx", "top"], ["clipped"]),
             helper.make_node("Gather", ["table", "clipped"], ["looked"], axis=0),
             helper.make_node("Flatten", ["looked"], ["again"]),
             helper.make_node("Add", ["again", "flat"], ["sum"]),
             helper.make_node("Shape", ["x"], ["shape"]),
             helper.make_node("Reshape", ["sum", "shape"], ["y"])]
    model = _model(nodes, [("x", ["N", 3])], [("y", ["N", 3])],
                   [("ten", np.float32(10)), ("top", np.array([20], np.int64)),
                    ("table", np.linspace(-1, 1, 21).astype(np.float32))])
    new = _rewritten(model)
    assert "Shape" not in _ops(new)


def test_a_fill_shaped_by_the_batch_size_broadcasts_over_the_rows():
    # ConstantOfShape([N, 2]) and Expand(c, [N, 2]) from Shape: skl2onnx's AdaBoost
    nodes = _batch_size("x", "n") + [
        helper.make_node("Concat", ["n", "two"], ["shape2"], axis=0),
        helper.make_node("ConstantOfShape", ["shape2"], ["fill"], value=numpy_helper.from_array(np.array([1.5],
                                                                                                       np.float32))),
        helper.make_node("Expand", ["row", "shape2"], ["rows"]),
        helper.make_node("Add", ["fill", "rows"], ["sum"]),
        helper.make_node("Slice", ["x", "zero1", "two", "one1"], ["x01"]),
        helper.make_node("Mul", ["sum", "x01"], ["y"])]
    model = _model(nodes, [("x", ["N", 3])], [("y", ["N", 2])],
                   SHAPE_CONSTS + [("two", np.array([2], np.int64)), ("row", np.array([[-1.0, 4.0]], np.float32))])
    new = _rewritten(model)
    assert not {"Shape", "ConstantOfShape", "Expand"} & _ops(new)


def test_labels_looked_up_by_one_index_per_row():
    # ArrayFeatureExtractor(classes, argmax [N, 1]) -> [1, N] -> Reshape [N] (skl2onnx's classifiers)
    nodes = [helper.make_node("ArgMax", ["x"], ["best"], axis=1, keepdims=1),
             helper.make_node("ArrayFeatureExtractor", ["classes", "best"], ["picked"], domain="ai.onnx.ml"),
             helper.make_node("Reshape", ["picked", "flat"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.INT64, ["N"])],
                              initializer=[numpy_helper.from_array(np.array([10, 20, 30, 40], np.int64), "classes"),
                                           numpy_helper.from_array(np.array([-1], np.int64), "flat")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 8
    new, note = batch_first.run(model)
    assert note is None
    feed = _feed(model, 5)
    assert _ort(new, feed)[0].tolist() == _ort(model, feed)[0].tolist()
    # the lookup stays skl2onnx's pattern (ArrayFeatureExtractor then Reshape to the rows), which
    # the compiler's passes make a Gather per row
    from modelport.passes import run_passes
    ir.build_graph(run_passes(new))


def _weights(op, dirs, rng, peepholes=False) -> dict:
    g = GATES[op]
    w = {"W": rng.normal(0, 0.6, (dirs, g * H, F)), "R": rng.normal(0, 0.6, (dirs, g * H, H)),
         "B": rng.normal(0, 0.3, (dirs, 2 * g * H))}
    if peepholes:
        w["P"] = rng.normal(0, 0.3, (dirs, 3 * H))
    return {k: v.astype(np.float32) for k, v in w.items()}


def _time_major(op, attrs=None, peepholes=False, state=None, lens=None, before=(), extra_inputs=(), extra_inits=()):
    """x [N, T, F] -> Transpose -> `op` (time-major, zero initial state built from the batch size
    unless `state` names one) -> its sequence and last state transposed back to batch-first.
    `before`: nodes that compute `state` or `lens` from `extra_inputs`."""
    dirs = 2 if (attrs or {}).get("direction") == "bidirectional" else 1
    weights = _weights(op, dirs, np.random.default_rng(1), peepholes)
    nodes = list(before) + [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2])]
    if state is None:
        nodes += _batch_size("x", "n") + [helper.make_node("Concat", ["dirs", "n", "hid"], ["state_shape"], axis=0),
                                          helper.make_node("Expand", ["zero", "state_shape"], ["h0"])]
        state = "h0"
    ins = ["xt", "W", "R", "B", lens or "", state] + (["", "P"] if peepholes else [])
    nodes.append(helper.make_node(op, ins, ["Y", "Y_h"], hidden_size=H, **(attrs or {})))
    nodes += [helper.make_node("Transpose", ["Y"], ["seq"], perm=[2, 0, 1, 3]),
              helper.make_node("Transpose", ["Y_h"], ["last"], perm=[1, 0, 2])]
    consts = SHAPE_CONSTS + list(weights.items()) + [
        ("dirs", np.array([dirs], np.int64)), ("hid", np.array([H], np.int64)), ("zero", np.float32(0)),
        *extra_inits]
    return _model(nodes, [("x", ["N", T, F]), *extra_inputs], [("seq", ["N", T, dirs, H]), ("last", ["N", dirs, H])],
                  consts)


@pytest.mark.parametrize("op, attrs, peepholes", [
    ("LSTM", {}, False),
    ("LSTM", {"direction": "reverse"}, False),
    ("LSTM", {"direction": "bidirectional"}, False),
    ("LSTM", {"clip": 1.5, "input_forget": 1}, True),
    ("GRU", {"direction": "bidirectional"}, False),
    ("GRU", {"linear_before_reset": 1}, False),
    ("RNN", {"activations": ["Relu"]}, False),
])
def test_time_major_recurrent_nodes_are_unrolled_batch_first(op, attrs, peepholes):
    model = _time_major(op, attrs, peepholes)
    with pytest.raises(UnsupportedError, match="at batch size 2"):
        ir.build_graph(model)
    new = _rewritten(model)
    assert not _ops(new) & (RECURRENT | {"Shape", "Expand", "Split"}), _ops(new)


def test_initial_state_from_the_data_is_moved_batch_first():
    transpose = helper.make_node("Transpose", ["h"], ["h0"], perm=[1, 0, 2])
    model = _time_major("LSTM", state="h0", before=[transpose], extra_inputs=[("h", ["N", 1, H])])
    new = _rewritten(model)
    feed = _feed(model, 5)
    zero_state = _ort(new, {**feed, "h": np.zeros_like(feed["h"])})
    assert not np.allclose(zero_state[1], _ort(new, feed)[1])  # the state is read


def test_reshape_behind_a_leading_time_axis():
    """[T, N, 2, H] -> [T, N, 2H] with the target computed from the batch size (how the PyTorch
    exporter joins a bidirectional layer's two directions)."""
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2, 3]),
             helper.make_node("Shape", ["xt"], ["s"]),
             helper.make_node("Slice", ["s", "zero1", "two1"], ["lead"]),
             helper.make_node("Concat", ["lead", "width"], ["target"], axis=0),
             helper.make_node("Reshape", ["xt", "target"], ["joined"]),
             helper.make_node("Transpose", ["joined"], ["y"], perm=[1, 0, 2])]
    model = _model(nodes, [("x", ["N", T, 2, H])], [("y", ["N", T, 2 * H])],
                   SHAPE_CONSTS + [("two1", np.array([2], np.int64)), ("width", np.array([2 * H], np.int64))])
    assert _ops(_rewritten(model)) <= {"Reshape", "Identity", "Transpose"}


def test_dense_on_a_sequence_runs_on_batch_first_rows():
    """Keras' Dense on [N, T, F]: Reshape to [N * T, F], MatMul, Add, Reshape back to [N, T, K]."""
    rng = np.random.default_rng(3)
    nodes = _batch_size("x", "n") + [
        helper.make_node("Reshape", ["x", "rows"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["z"]),
        helper.make_node("Add", ["z", "b"], ["zb"]),
        helper.make_node("Concat", ["n", "tk"], ["back"], axis=0),
        helper.make_node("Reshape", ["zb", "back"], ["y"])]
    model = _model(nodes, [("x", ["N", T, F])], [("y", ["N", T, 2])],
                   SHAPE_CONSTS + [("rows", np.array([-1, F], np.int64)), ("tk", np.array([T, 2], np.int64)),
                                   ("w", rng.normal(size=(F, 2)).astype(np.float32)),
                                   ("b", rng.normal(size=2).astype(np.float32))])
    assert _ops(_rewritten(model)) == {"Reshape", "MatMul", "Add"}


def test_batch_first_graph_is_returned_as_it_is():
    model = _model([helper.make_node("Relu", ["x"], ["y"])], [("x", ["N", 3])], [("y", ["N", 3])])
    assert batch_first.run(model) == (model, None)


def _lens_from_data():
    """sequence_lens computed from an input's values (full length here, but not known to be)."""
    nodes = [helper.make_node("Mul", ["m", "zero"], ["m0"]),
             helper.make_node("Add", ["m0", "steps"], ["mt"]),
             helper.make_node("Cast", ["mt"], ["lens"], to=TensorProto.INT32)]
    return _time_major("LSTM", lens="lens", before=nodes, extra_inputs=[("m", ["N"])],
                       extra_inits=[("steps", np.float32(T))])


def _nonzero_state():
    model = _time_major("LSTM", extra_inits=[("half", np.float32(0.5))])
    next(n for n in model.graph.node if n.op_type == "Expand").input[0] = "half"
    return model


def _softmax_on_time_major():
    nodes = [helper.make_node("Transpose", ["x"], ["xt"], perm=[1, 0, 2]),
             helper.make_node("Softmax", ["xt"], ["p"], axis=1, name="softmax"),
             helper.make_node("Transpose", ["p"], ["y"], perm=[1, 0, 2])]
    return _model(nodes, [("x", ["N", T, F])], [("y", ["N", T, F])])


def _transposed_output():
    return _model([helper.make_node("Transpose", ["x"], ["y"], perm=[1, 0])], [("x", ["N", 3])], [("y", [3, "N"])])


@pytest.mark.parametrize("build, why", [
    (_lens_from_data, "LSTM node .*different lengths \\(masking\\)"),
    (_nonzero_state, "non-zero value computed from the batch size"),
    (_softmax_on_time_major, "Softmax node 'softmax': it works along the batch axis"),
    (_transposed_output, "output 'y' does not have the batch as its first dimension"),
    (lambda: _time_major("RNN", {"activations": ["Affine"]}), "RNN node '': activation Affine needs activation_alpha"),
])
def test_graph_it_cannot_rewrite_is_kept_with_the_reason(build, why):
    model = build()
    new, note = batch_first.run(model)
    assert new is model
    assert note.startswith("the graph is kept as converted") and re.search(why, note), note


def test_torchscript_export_of_a_stacked_bidirectional_lstm():
    """torch.onnx's TorchScript exporter: a Transpose to time-major, LSTM nodes whose directions
    are joined by Reshape, zero states built from the batch size."""
    import torch
    torch.manual_seed(0)
    net = torch.nn.LSTM(F, H, num_layers=2, bidirectional=True, batch_first=True).eval()
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, and says so
        torch.onnx.export(net, (torch.randn(2, T, F),), buf, dynamo=False, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}}, opset_version=17)
    model = onnx.load_from_string(buf.getvalue())
    del model.graph.output[1:]  # the final states are [layers * dirs, batch, H]: not batch-first
    assert "LSTM" in _ops(model)
    new = _rewritten(model)
    assert not _ops(new) & RECURRENT
    x = torch.randn(5, T, F)
    with torch.no_grad():
        want = net(x)[0].numpy()
    np.testing.assert_allclose(_ort(new, {"x": x.numpy()})[0], want, rtol=1e-5, atol=1e-5)
