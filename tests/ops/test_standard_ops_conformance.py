"""Standard ONNX ops (neural nets, naive Bayes, k-means, k-NN): compiled to C++ and Java
for real and run, against ONNX Runtime and against the ONNX backend test cases.

Each hand-written test builds one small graph exercising several ops and attribute
variants (one compile each). The backend cases (`onnx.backend.test.case.node`) whose
first input can be taken as a batch are merged, per opset and batch size, into one model
each; their inputs are the cases' own, and the built programs must reproduce the cases'
stored outputs as well as ONNX Runtime.
"""
from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import modelport
from modelport import ir
from modelport.errors import UnsupportedError
from modelport.lower import lower
from helpers import compile_and_check

F, D, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64


# ---------------------------------------------------------------------------------------
# Hand-written graphs
# ---------------------------------------------------------------------------------------

def graph_model(nodes, inputs, outputs, initializers=(), opset=18):
    """A model from nodes; inputs/outputs: [(name, elem_type, shape)] with shape[0] = 'N'."""
    graph = helper.make_graph(
        nodes, "ops",
        [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
        [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
        initializer=[numpy_helper.from_array(np.asarray(v), name) for name, v in dict(initializers).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def node(op, ins, outs, **attrs):
    return helper.make_node(op, ins, outs if isinstance(outs, list) else [outs], **attrs)


def ints(name, value):
    return name, np.asarray(value, dtype=np.int64)


def test_elementwise_math(tmp_path):
    unary = ["Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Abs", "Neg", "Reciprocal", "Floor"]
    nodes = [node(op, ["x"], f"y_{op.lower()}") for op in unary]
    nodes += [node("Mul", ["x", "forty"], "wide"), node("Sigmoid", ["wide"], "y_sigmoid_wide"),
              node("Tanh", ["wide"], "y_tanh_wide"), node("Cast", ["x"], "xd", to=D)]
    nodes += [node(op, ["xd"], f"d_{op.lower()}") for op in ("Exp", "Sigmoid", "Tanh", "Sqrt", "Relu", "Floor")]
    outputs = [(n.output[0], F, ["N", 3, 4]) for n in nodes if n.output[0].startswith("y_")]
    outputs += [(n.output[0], D, ["N", 3, 4]) for n in nodes if n.output[0].startswith("d_")]
    model = graph_model(nodes, [("x", F, ["N", 3, 4])], outputs, {"forty": np.float32(40)})
    compile_and_check(model, tmp_path)


def test_pow_max_min(tmp_path):
    nodes = [
        node("Pow", ["x", "two"], "p_square"), node("Pow", ["x", "three"], "p_cube"),
        node("Pow", ["x", "minus_two"], "p_inverse_square"), node("Pow", ["x", "half"], "p_root"),
        node("Abs", ["x"], "ax"), node("Pow", ["ax", "y"], "p_positive_base"),
        node("Cast", ["y"], "yi", to=I64), node("Cast", ["yi"], "yf", to=F),
        node("Pow", ["x", "yf"], "p_integral_exponent"),      # negative bases, integral powers
        node("Pow", ["x", "y"], "p_any"),                      # NaN for negative bases
        node("Pow", ["x", "yi"], "p_int_exponent"),
        node("Cast", ["x"], "xi", to=I64), node("Abs", ["yi"], "ayi"),
        node("Pow", ["xi", "ayi"], "p_ints"), node("Pow", ["xi", "yi"], "p_ints_any_sign"),
        node("Max", ["x", "y", "row"], "max3"), node("Min", ["x", "z"], "min2"), node("Max", ["x"], "max1"),
        node("Min", ["z", "row", "x", "y"], "min4"), node("Max", ["xi", "yi"], "max_ints"),
    ]
    outs = [n.output[0] for n in nodes if n.output[0].startswith(("p_", "max", "min"))]
    model = graph_model(
        nodes, [("x", F, ["N", 3, 4]), ("y", F, ["N", 3, 4]), ("z", F, ["N", 1, 4])],
        [(o, I64 if o in ("p_ints", "p_ints_any_sign", "max_ints") else F, ["N", 3, 4]) for o in outs],
        {"two": np.float32(2), "three": np.array([3.0], np.float32), "minus_two": np.float32(-2),
         "half": np.float32(0.5), "row": np.array([-1, 0, 0.5, 2], np.float32)})
    compile_and_check(model, tmp_path)


def test_matmul_gemm(tmp_path):
    rng = np.random.RandomState(1)
    w = {k: rng.randn(*shape).astype(np.float32) for k, shape in [
        ("w35", (3, 5)), ("v3", (3,)), ("w42", (4, 2)), ("w132", (1, 3, 2)), ("w64", (6, 4)),
        ("v6", (6,)), ("w46", (4, 6)), ("c4", (4,)), ("c14", (1, 4))]}
    w["w64d"] = w["w64"].astype(np.float64)
    nodes = [
        node("MatMul", ["a", "w35"], "mm_weights"),                 # [N,2,3] x [3,5]
        node("MatMul", ["a", "v3"], "mm_vector"),                   # [N,2,3] x [3]
        node("Transpose", ["a"], "at", perm=[0, 2, 1]),
        node("MatMul", ["a", "at"], "mm_batched"),                  # [N,2,3] x [N,3,2]
        node("MatMul", ["w42", "a"], "mm_left_constant"),           # [4,2] x [N,2,3]
        node("MatMul", ["a", "w132"], "mm_broadcast"),              # [N,2,3] x [1,3,2]
        node("Reshape", ["a", "flat"], "x"),
        node("MatMul", ["x", "w64"], "mm_2d"), node("MatMul", ["x", "v6"], "mm_dot"),
        node("Gemm", ["x", "w64", "c4"], "gemm_default"),
        node("Gemm", ["x", "w46", "c14"], "gemm_transposed", transB=1, alpha=0.5, beta=-2.0),
        node("Gemm", ["x", "w64"], "gemm_no_bias", alpha=2.0),
        node("Gemm", ["x", "w64", "mm_2d"], "gemm_batched_bias", beta=0.25),
        node("Gemm", ["x", "w64", "scalar"], "gemm_scalar_bias"),
        node("Cast", ["x"], "xd", to=D), node("MatMul", ["xd", "w64d"], "mm_double"),
    ]
    shapes = {"mm_weights": [2, 5], "mm_vector": [2], "mm_batched": [2, 2], "mm_left_constant": [4, 3],
              "mm_broadcast": [2, 2], "mm_2d": [4], "mm_dot": [], "mm_double": [4]}
    outs = [(o, D if o == "mm_double" else F, ["N", *shapes.get(o, [4])])
            for o in [n.output[0] for n in nodes] if o.startswith(("mm_", "gemm_"))]
    model = graph_model(nodes, [("a", F, ["N", 2, 3])], outs,
                        {**w, "flat": np.array([-1, 6], np.int64), "scalar": np.float32(1.5)})
    compile_and_check(model, tmp_path)


@pytest.mark.parametrize("opset", [13, 18])
def test_reductions(tmp_path, opset):
    """Axes as an input (ReduceSum since 13, the others since 18) or as an attribute."""
    def reduce(op, axes, out, **attrs):
        if axes is not None and (op == "ReduceSum" or opset >= 18):
            name = f"axes_{out}"
            consts[name] = np.array(axes, np.int64)
            return node(op, ["x", name], out, **attrs)
        return node(op, ["x"], out, **({"axes": axes} if axes is not None else {}), **attrs)
    consts = {"thirty": np.float32(30)}
    nodes = [
        reduce("ReduceSum", [1], "sum_1", keepdims=0), reduce("ReduceSum", [1, 3], "sum_13"),
        reduce("ReduceSum", [-1], "sum_last", keepdims=0), reduce("ReduceMean", [2], "mean_2"),
        reduce("ReduceMax", [1, 2], "max_12", keepdims=0), reduce("ReduceSumSquare", [3], "sumsq_3"),
        reduce("ReduceSumSquare", [1, 2, 3], "sumsq_all", keepdims=0),
        reduce("ReduceLogSumExp", [1], "lse_1", keepdims=0),
        node("Mul", ["x", "thirty"], "wide"),
        node("ReduceLogSumExp", ["wide", "axes_lse_1"] if opset >= 18 else ["wide"], "lse_wide",
             **({} if opset >= 18 else {"axes": [1]})),
        reduce("ReduceSum", None, "sum_noop", noop_with_empty_axes=1),
        reduce("ReduceProd", [1, 3], "prod_13", keepdims=0), reduce("ReduceMin", [2], "min_2"),
    ]
    shapes = {"sum_1": [4, 2], "sum_13": [1, 4, 1], "sum_last": [3, 4], "mean_2": [3, 1, 2], "max_12": [2],
              "sumsq_3": [3, 4, 1], "sumsq_all": [], "lse_1": [4, 2], "lse_wide": [1, 4, 2],
              "sum_noop": [3, 4, 2], "prod_13": [4], "min_2": [3, 1, 2]}
    model = graph_model(nodes, [("x", F, ["N", 3, 4, 2])], [(o, F, ["N", *s]) for o, s in shapes.items()],
                        consts, opset=opset)
    compile_and_check(model, tmp_path)


def test_cum_sum_and_gather_elements(tmp_path):
    """Running sums (exclusive, reverse, both; float and double) and per-row lookups by batched
    indices (TopK's and ArgMax's, negative ones too): AdaBoostRegressor's weighted median."""
    nodes = [node("CumSum", ["x", "one"], "cs_1"), node("CumSum", ["x", "two"], "cs_2_ex", exclusive=1),
             node("CumSum", ["x", "minus_one"], "cs_last_rev", reverse=1),
             node("CumSum", ["x", "one"], "cs_1_ex_rev", exclusive=1, reverse=1),
             node("Cast", ["x"], "xd", to=D), node("CumSum", ["xd", "two"], "cs_double"),
             node("TopK", ["x", "k2"], ["top_v", "top_i"], axis=2),
             node("GatherElements", ["x", "top_i"], "ge_top", axis=2),
             node("Sub", ["top_i", "four"], "neg_i"),
             node("GatherElements", ["x", "neg_i"], "ge_neg", axis=-1),
             node("ArgMax", ["x"], "am", axis=1, keepdims=1),
             node("GatherElements", ["xd", "am"], "ge_am", axis=1)]
    shapes = {"cs_1": (F, [3, 4]), "cs_2_ex": (F, [3, 4]), "cs_last_rev": (F, [3, 4]), "cs_1_ex_rev": (F, [3, 4]),
              "cs_double": (D, [3, 4]), "ge_top": (F, [3, 2]), "ge_neg": (F, [3, 2]), "ge_am": (D, [1, 4])}
    consts = {"one": np.array(1, np.int64), "two": np.array([2], np.int64), "minus_one": np.array(-1, np.int64),
              "k2": np.array([2], np.int64), "four": np.array(4, np.int64)}
    model = graph_model(nodes, [("x", F, ["N", 3, 4])], [(o, t, ["N", *s]) for o, (t, s) in shapes.items()], consts)
    compile_and_check(model, tmp_path)


def test_softmax(tmp_path):
    nodes = [node("Softmax", ["x"], "sm_last"), node("Softmax", ["x"], "sm_1", axis=1),
             node("Softmax", ["x"], "sm_2", axis=-2), node("Mul", ["x", "thirty"], "wide"),
             node("Softmax", ["wide"], "sm_wide"), node("Cast", ["x"], "xd", to=D),
             node("Softmax", ["xd"], "sm_double", axis=1)]
    model = graph_model(nodes, [("x", F, ["N", 3, 4])],
                        [(o, D if o == "sm_double" else F, ["N", 3, 4])
                         for o in ("sm_last", "sm_1", "sm_2", "sm_wide", "sm_double")],
                        {"thirty": np.float32(30)})
    compile_and_check(model, tmp_path)


def test_opset9_forms(tmp_path):
    """Softmax over everything from `axis` on (before opset 13), reduction axes, Slice
    starts/ends and TopK's k as attributes."""
    nodes = [
        node("Softmax", ["x"], "sm_default"), node("Softmax", ["x"], "sm_2", axis=2),
        node("ReduceSum", ["x"], "sum_1", axes=[1], keepdims=0), node("ReduceMean", ["x"], "mean_2", axes=[-1]),
        node("ReduceMax", ["x"], "max_12", axes=[1, 2], keepdims=0),
        node("ReduceLogSumExp", ["x"], "lse_2", axes=[2], keepdims=0),
        node("Slice", ["x"], "slice", starts=[1, -3], ends=[3, 100], axes=[1, 2]),
        node("Reshape", ["x", "flat"], "flat_x"),
        node("TopK", ["flat_x"], ["topk_values", "topk_indices"], k=4),
        node("ArgMax", ["x"], "argmax_2", axis=2),
    ]
    shapes = {"sm_default": [3, 4], "sm_2": [3, 4], "sum_1": [4], "mean_2": [3, 1], "max_12": [],
              "lse_2": [3], "slice": [2, 3], "topk_values": [4], "topk_indices": [4], "argmax_2": [3, 1]}
    model = graph_model(nodes, [("x", F, ["N", 3, 4])],
                        [(o, I64 if "indices" in o or "arg" in o else F, ["N", *s]) for o, s in shapes.items()],
                        {"flat": np.array([-1, 12], np.int64)}, opset=9)
    compile_and_check(model, tmp_path)


def test_argmax_argmin_topk(tmp_path):
    """On integer-valued data, so that ties (first or last index, TopK's lower index first) matter."""
    nodes = [node("Cast", ["x"], "xi", to=I64), node("Cast", ["xi"], "t", to=F)]
    shapes = {}
    for op in ("ArgMax", "ArgMin"):
        for axis, keep, last in [(1, 1, 0), (-1, 0, 0), (1, 0, 1), (2, 1, 1)]:
            out = f"{op.lower()}_{axis}_{keep}_{last}".replace("-", "m")
            nodes.append(node(op, ["t"], out, axis=axis, keepdims=keep, select_last_index=last))
            row = [5, 3]
            row[(axis % 3) - 1] = 1
            shapes[out] = row if keep else [d for j, d in enumerate([5, 3]) if j != (axis % 3) - 1]
    for largest, axis in [(1, 1), (0, -1), (1, 2)]:
        kname = "k3" if axis == 1 else "k2"
        values, idx = f"topk_{largest}_{axis % 3}_values", f"topk_{largest}_{axis % 3}_indices"
        nodes.append(node("TopK", ["t", kname], [values, idx], axis=axis, largest=largest))
        row = [5, 3]
        row[(axis % 3) - 1] = 3 if axis == 1 else 2
        shapes[values] = shapes[idx] = row
    # Unsorted TopK: the order is unspecified, so only order-free uses are compared.
    nodes += [node("TopK", ["x", "k3"], ["u_values", "u_indices"], axis=1, sorted=0),
              node("ReduceSum", ["u_values", "axis1"], "unsorted_value_sum", keepdims=0),
              node("ReduceSum", ["u_indices", "axis1"], "unsorted_index_sum", keepdims=0)]
    shapes["unsorted_value_sum"] = shapes["unsorted_index_sum"] = [3]
    model = graph_model(nodes, [("x", F, ["N", 5, 3])],
                        [(o, F if o.endswith("values") or o == "unsorted_value_sum" else I64, ["N", *s])
                         for o, s in shapes.items()],
                        dict([ints("k3", [3]), ints("k2", [2]), ints("axis1", [1])]))
    compile_and_check(model, tmp_path)


def test_compare_where(tmp_path):
    nodes = [
        node("Cast", ["x"], "xi", to=I64), node("Cast", ["y"], "yi", to=I64),
        node("Cast", ["xi"], "xt", to=F), node("Cast", ["yi"], "yt", to=F),
        node("Equal", ["xt", "yt"], "eq"), node("Equal", ["xi", "yi"], "eq_int"),
        node("Less", ["x", "y"], "lt"), node("Greater", ["x", "row"], "gt_row"),
        node("Less", ["xi", "one"], "lt_int"),
        node("Where", ["lt", "x", "y"], "where_min"),
        node("Where", ["gt_row", "row", "y"], "where_const"),
        node("ReduceMax", ["x", "axis2"], "m"), node("Greater", ["m", "zero"], "positive_rows"),
        node("Where", ["positive_rows", "x", "minus"], "where_broadcast"),   # cond [N,3,1]
        node("Where", ["eq_int", "xi", "yi"], "where_int"),
    ]
    for b in ("eq", "eq_int", "lt", "gt_row", "lt_int"):
        nodes.append(node("Cast", [b], f"as_float_{b}", to=F))
    outs = [(f"as_float_{b}", F) for b in ("eq", "eq_int", "lt", "gt_row", "lt_int")]
    outs += [("where_min", F), ("where_const", F), ("where_broadcast", F), ("where_int", I64)]
    model = graph_model(nodes, [("x", F, ["N", 3, 4]), ("y", F, ["N", 3, 4])],
                        [(o, t, ["N", 3, 4]) for o, t in outs],
                        {"row": np.array([-1, 0, 0.5, 2], np.float32), "one": np.array(1, np.int64),
                         "axis2": np.array([2], np.int64), "zero": np.float32(0),
                         "minus": np.array([-7.5], np.float32)})
    compile_and_check(model, tmp_path)


def test_logic_ops_and_nan(tmp_path):
    # NaN compares false (x <= NaN, NaN >= x): the logic ops must not assume otherwise
    nodes = [node("LessOrEqual", ["x", "y"], "le"), node("GreaterOrEqual", ["x", "row"], "ge"),
             node("IsNaN", ["x"], "nan"), node("And", ["le", "ge"], "both"), node("Or", ["le", "nan"], "either"),
             node("Xor", ["le", "ge"], "one"), node("Not", ["either"], "neither")]
    outs = ["le", "ge", "both", "either", "one", "neither"]
    nodes += [node("Cast", [b], f"as_float_{b}", to=F) for b in outs]
    model = graph_model(nodes, [("x", F, ["N", 3, 4]), ("y", F, ["N", 3, 4])],
                        [(f"as_float_{b}", F, ["N", 3, 4]) for b in outs],
                        {"row": np.array([-1, 0, np.nan, 2], np.float32)})
    data = tmp_path / "rows.npy"
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=(64, 24)), 1)  # ties on purpose: x == y and x == row
    x[:, 12:] = np.where(rng.random((64, 12)) < 0.3, x[:, :12], x[:, 12:])
    x[rng.random(x.shape) < 0.15] = np.nan
    x[:, 2] = x[:, 6] = -1.0
    np.save(data, x)
    compile_and_check(model, tmp_path, data=data)


def test_transpose_slice_gather(tmp_path):
    table = np.arange(12, dtype=np.float32).reshape(6, 2) * 1.5 - 3
    nodes = [
        node("Transpose", ["x"], "t_0312", perm=[0, 3, 1, 2]), node("Transpose", ["x"], "t_0132", perm=[0, 1, 3, 2]),
        node("Transpose", ["x"], "t_0213", perm=[0, 2, 1, 3]),
        node("Slice", ["x", "s_starts", "s_ends", "s_axes", "s_step"], "s_steps"),
        node("Slice", ["x", "r_starts", "r_ends", "r_axes", "r_steps"], "s_reverse"),
        node("Slice", ["x", "b_starts", "b_ends", "b_axes"], "s_whole_batch"),
        node("Slice", ["x", "o_starts", "o_ends"], "s_default_axes"),
        node("Gather", ["x", "g_idx"], "g_axis1", axis=1),
        node("Gather", ["x", "g_idx2d"], "g_axis3", axis=3),
        node("Reshape", ["x", "flat"], "x6"), node("ReduceMax", ["x6", "axis2"], "m6", keepdims=0),
        node("ArgMax", ["m6"], "best", axis=1, keepdims=0), node("Gather", ["table", "best"], "g_lookup"),
        node("Sub", ["best", "six"], "best_negative"), node("Gather", ["table", "best_negative"], "g_lookup_neg"),
    ]
    shapes = {"t_0312": [4, 2, 3], "t_0132": [2, 4, 3], "t_0213": [3, 2, 4], "s_steps": [2, 1, 2],
              "s_reverse": [1, 3, 4], "s_whole_batch": [1, 3, 4], "s_default_axes": [2, 3, 4],
              "g_axis1": [3, 3, 4], "g_axis3": [2, 3, 2, 2], "g_lookup": [2], "g_lookup_neg": [2]}
    consts = dict([ints("s_starts", [0, 1]), ints("s_ends", [100, -1]), ints("s_axes", [-1, 2]),
                   ints("s_step", [2, 1]), ints("r_starts", [-1, 10]), ints("r_ends", [-100, 0]),
                   ints("r_axes", [2, 1]), ints("r_steps", [-1, -2]), ints("b_starts", [0, 1]),
                   ints("b_ends", [2**63 - 1, 2]), ints("b_axes", [0, 1]), ints("o_starts", [0, 0, 0, 0]),
                   ints("o_ends", [2**62, 9, 3, 4]), ints("g_idx", [1, -1, 0]),
                   ints("g_idx2d", [[0, 3], [2, 2]]), ints("flat", [-1, 6, 4]), ints("six", 6),
                   ints("axis2", [2])])
    consts["table"] = table
    model = graph_model(nodes, [("x", F, ["N", 2, 3, 4])], [(o, F, ["N", *s]) for o, s in shapes.items()],
                        consts)
    compile_and_check(model, tmp_path)


@pytest.mark.parametrize("make, match", [
    (lambda: (node("Softmax", ["x"], "y", axis=0), [3, 4]), "batch axis"),
    (lambda: (node("Slice", ["x", "st", "en", "ax"], "y"), [3, 4]), "batch"),
    (lambda: (node("ReduceSum", ["x", "ax"], "y", keepdims=1), [3, 4]), "batch"),
    (lambda: (node("Transpose", ["x"], "y", perm=[1, 0, 2]), [3, 4]), "batch"),
])
def test_refused_across_rows(tmp_path, make, match):
    n, shape = make()
    model = graph_model([n], [("x", F, ["N", *shape])], [("y", F, ["a", "b", "c"])],
                        dict([ints("st", [0]), ints("en", [1]), ints("ax", [0])]))
    with pytest.raises(UnsupportedError, match=match):
        modelport.compile(model, targets=("cpp",), out=tmp_path / "out")


# ---------------------------------------------------------------------------------------
# ONNX backend node test cases
# ---------------------------------------------------------------------------------------

CASE_OPS = {
    "MatMul", "Gemm", "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Floor", "Abs", "Neg", "Reciprocal", "Pow",
    "Max", "Min", "Softmax", "ArgMax", "ArgMin", "ReduceSum", "ReduceMean", "ReduceMax", "ReduceSumSquare",
    "ReduceLogSumExp", "Equal", "Less", "Greater", "Where", "TopK", "Transpose", "Gather", "Slice",
    "LessOrEqual", "GreaterOrEqual", "And", "Or", "Xor", "Not",
}
# Inputs that are parameters: always constants in a compiled model.
CONSTANT_INPUTS = {"TopK": {1}, "Slice": {1, 2, 3, 4}, "Gather": {1}, "ReduceSum": {1}, "ReduceMean": {1},
                   "ReduceMax": {1}, "ReduceSumSquare": {1}, "ReduceLogSumExp": {1}}
ELEM = {np.dtype(np.float32): F, np.dtype(np.float64): D, np.dtype(np.int64): I64}
OUT_TYPES = (np.float32, np.float64, np.int64, np.bool_)


def _prepare(case):
    """The case as a model with a batch: (model, batch inputs, expected outputs) or a reason."""
    node0 = case.model.graph.node[0]
    op = node0.op_type
    ins, outs = case.data_sets[0]
    ins = [np.asarray(a) for a in ins]
    if ins[0].ndim == 0:
        return "the first input is a scalar"
    if any(a.size == 0 for a in list(ins) + [np.asarray(o) for o in outs]):
        return "an empty tensor (rows of zero elements)"
    n = ins[0].shape[0]
    inputs, inits, feed = [], [], {}
    for j, (vi, arr) in enumerate(zip(case.model.graph.input, ins)):
        if j == 0 or (j not in CONSTANT_INPUTS.get(op, ()) and arr.ndim >= 1 and arr.shape[0] == n):
            if arr.dtype not in ELEM:
                return f"input type {arr.dtype} (the generated programs read float, double, int64)"
            if arr.dtype == np.float64:
                arr = arr.astype(np.float32).astype(np.float64)  # what the float C ABI can carry
            inputs.append(helper.make_tensor_value_info(vi.name, ELEM[arr.dtype], ["N", *arr.shape[1:]]))
            feed[vi.name] = arr
        else:
            inits.append(numpy_helper.from_array(arr, vi.name))
    if any(np.asarray(o).dtype not in [np.dtype(t) for t in OUT_TYPES] for o in outs):
        return "output type " + ", ".join(str(np.asarray(o).dtype) for o in outs)
    nodes, outputs = [onnx.NodeProto()], []
    nodes[0].CopyFrom(node0)
    expected = {}
    for vi, value in zip(case.model.graph.output, outs):
        value = np.asarray(value)
        if value.dtype == np.bool_:  # the programs print numbers: cast booleans to int64
            inner = vi.name + "_bool"
            nodes[0].output[list(nodes[0].output).index(vi.name)] = inner
            nodes.append(helper.make_node("Cast", [inner], [vi.name], to=I64))
            value = value.astype(np.int64)
        outputs.append(helper.make_tensor_value_info(vi.name, ELEM[value.dtype], ["N", *value.shape[1:]]))
        expected[vi.name] = value
    graph = helper.make_graph(nodes, case.name, inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=list(case.model.opset_import))
    model.ir_version = case.model.ir_version
    return model, feed, expected


def _not_rowwise(model):
    """Why the model cannot be computed row by row, or None."""
    try:
        graph = ir.build_graph(ir.load(model))
    except Exception as exc:  # the IR, or ONNX Runtime at batch sizes 2 and 3, refuses it
        return f"not row-wise: {str(exc).splitlines()[0][:160]}"
    try:
        lower(graph, "m")
    except UnsupportedError as exc:
        # Shapes alone do not show an op working across rows (e.g. Softmax over axis 0);
        # the op refuses it. Any other refusal is a failure of the op.
        if "batch axis" not in str(exc):
            raise
        return f"across rows: {exc}"
    return None


def _collect():
    from onnx.backend.test.case.node import collect_testcases
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    groups, skipped = defaultdict(list), {}
    for case in cases:
        if case.model is None or len(case.model.graph.node) != 1:
            continue
        if case.model.graph.node[0].op_type not in CASE_OPS:
            continue
        prepared = _prepare(case)
        if isinstance(prepared, str):
            skipped[case.name] = prepared
            continue
        model, feed, expected = prepared
        why = _not_rowwise(model)
        if why is not None:
            skipped[case.name] = why
            continue
        opset = max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
        n = next(iter(feed.values())).shape[0]
        groups[(opset, n)].append((case.name, case.model.graph.node[0].op_type, model, feed, expected))
    return dict(groups), skipped


GROUPS, SKIPPED = _collect()


def _merge(cases):
    """One model holding every case's graph side by side, names prefixed."""
    from onnx import compose
    nodes, inputs, outputs, inits = [], [], [], []
    feed, expected = {}, {}
    for j, (name, _, model, case_feed, case_expected) in enumerate(cases):
        prefix = f"c{j}_"
        m = compose.add_prefix(model, prefix)
        nodes += m.graph.node
        inputs += m.graph.input
        outputs += m.graph.output
        inits += m.graph.initializer
        feed.update({prefix + k: v for k, v in case_feed.items()})
        expected.update({prefix + k: (name, v) for k, v in case_expected.items()})
    model = helper.make_model(helper.make_graph(nodes, "cases", inputs, outputs, initializer=inits),
                              opset_imports=list(cases[0][2].opset_import))
    model.ir_version = cases[0][2].ir_version
    return model, feed, expected


def _columns(feed):
    cols = {}
    for name, arr in feed.items():
        flat = arr.reshape(len(arr), -1)
        if flat.shape[1] == 1:
            cols[name] = flat[:, 0]
        else:
            cols.update({f"{name}_{i}": flat[:, i] for i in range(flat.shape[1])})
    return cols


def _write_csv(path, cols):
    def text(v):
        return str(int(v)) if isinstance(v, np.integer) else repr(float(v))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(cols))
        for row in zip(*cols.values()):
            w.writerow([text(v) for v in row])


def _read_csv(text):
    rows = list(csv.reader(text.splitlines()))
    return {h: np.array([float(r[i]) for r in rows[1:]]) for i, h in enumerate(rows[0])}


def _outputs(table, name, n):
    if name in table:
        return table[name].reshape(n, 1)
    cols = sorted((int(c[len(name) + 1:]), c) for c in table
                  if c.startswith(name + "_") and c[len(name) + 1:].isdigit())
    return np.stack([table[c] for _, c in cols], axis=1) if cols else None


@pytest.mark.parametrize("key", sorted(GROUPS), ids=lambda key: f"opset{key[0]}-batch{key[1]}")
def test_backend_cases(tmp_path, key):
    import subprocess
    # Only cases that can be taken row by row are grouped (the others are listed in SKIPPED
    # with the reason, and test_backend_cases_cover_every_op checks no op is left uncovered).
    model, feed, expected = _merge(GROUPS[key])
    cols = _columns(feed)
    data = tmp_path / "cases.csv"
    _write_csv(data, cols)
    out = tmp_path / "out"
    manifest = modelport.compile(model, targets=("cpp", "java"), out=out, data=data, name="cases")
    report = json.loads((out / "parity.json").read_text())
    assert manifest["parity"]["passed"], [c for c in report["checks"] if not c["passed"]] + report["errors"]
    n = key[1]
    runs = {
        "cpp": [str(out / "cpp" / "bin" / "cases")],
        "java": ["java", "-jar", str(out / "java" / "cases.jar")],
    }
    failures = []
    for target, cmd in runs.items():
        proc = subprocess.run(cmd, input=data.read_text(), capture_output=True, text=True, check=True)
        table = _read_csv(proc.stdout)
        for tensor, (case, want) in expected.items():
            got = _outputs(table, tensor, n)
            want = want.reshape(n, -1)
            if got is None or got.shape != want.shape:
                failures.append(f"{target} {case}: output {tensor} has shape "
                                f"{None if got is None else got.shape}, expected {want.shape}")
                continue
            if want.dtype.kind in "iub":
                ok = np.array_equal(got, want)
            else:
                scale = max(1.0, float(np.sqrt(np.nanmean(np.where(np.isfinite(want), want, 0) ** 2))))
                ok = np.allclose(got, want, rtol=1e-4, atol=1e-5 * scale, equal_nan=True)
            if not ok:
                failures.append(f"{target} {case}: {tensor} = {got.tolist()} expected {want.tolist()}")
    assert not failures, "\n".join(failures)


# Ops whose backend cases cannot be taken row by row (their reasons are in SKIPPED).
NO_ROWWISE_CASE = {
    "Equal": "integer (int32 and narrower) or string inputs",
    "Where": "a boolean condition input, which the programs do not read",
    "And": "boolean inputs, which the programs do not read (test_logic_ops_and_nan covers it)",
    "Or": "boolean inputs, which the programs do not read (test_logic_ops_and_nan covers it)",
    "Xor": "boolean inputs, which the programs do not read (test_logic_ops_and_nan covers it)",
    "Not": "a boolean input, which the programs do not read (test_logic_ops_and_nan covers it)",
}


def test_backend_cases_cover_every_op():
    covered, skipped = set(), dict(SKIPPED)
    for cases in GROUPS.values():
        for name, op, model, *_ in cases:
            why = _not_rowwise(model)
            if why:
                skipped[name] = why
            else:
                covered.add(op)
    missing = CASE_OPS - covered - set(NO_ROWWISE_CASE)
    assert not missing, skipped
