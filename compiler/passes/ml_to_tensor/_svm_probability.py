"""libsvm's class probabilities from pairwise decision values: each pair's Platt sigmoid, then
multiclass_probability (method 2 of Wu, Lin and Weng), in float32 as ONNX Runtime computes
them for SVMClassifier (sigmoid_probability and multiclass_probability in ml_common.h), or in
float64 as libsvm itself does (sigmoid_predict and multiclass_probability in svm.cpp), each in
its own order of operations.

The coupling is an iteration that stops once the row's error falls under 0.005 / classes, at
most `iterations(...)` times. Its result depends on where it stops (it is only that close to
the fixed point), so the graph unrolls every iteration and, from the first one whose error is
small enough, makes the updates of a row zero: exactly where the original stops, row by row.

Unrolled, that is thousands of nodes, which C++ and Java compilers cannot take in one
function. The double form is therefore one node, modelport.libsvm:MulticlassProbability
(overload k<classes>), an ONNX model-local function whose body is the unrolled graph: ONNX
Runtime runs the body, the TVM build inlines it, and the cpp and java kernels lower the node
itself to libsvm's loop (compiler/ops/multiclass_probability.py). The frontends (R's svm,
scikit-learn's SVC and NuSVC) call `function_node` and `add_functions`.

Any builder with the Builder's methods (op, const, reduce, squeeze, unsqueeze, column, where)
can build these graphs; the frontends use the Builder and splice its nodes into their graphs.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from . import _scores
from ._builder import Builder

ORT_ITERATIONS = 100  # ONNX Runtime's maximum; libsvm's is max(100, classes)
MIN_PROB = 1e-7  # pairwise probabilities are kept this far from 0 and 1
DOMAIN, OP = "modelport.libsvm", "MulticlassProbability"
FUNCTION_OPSET = 18
FUNCTION_IR_VERSION = 10  # function overloads


def iterations(dtype, C: int) -> int:
    return ORT_ITERATIONS if dtype == np.float32 else max(100, C)


def class_pairs(C: int) -> list:
    """libsvm's order of the one-vs-one pairs."""
    return [(i, j) for i in range(C - 1) for j in range(i + 1, C)]


def couple(b: Builder, dec: str, prob_a: np.ndarray, prob_b: np.ndarray, pairs: list, C: int,
           dtype=np.float32) -> str:
    """[N, C] class probabilities from the pairs' decision values dec [N, P], all of `dtype`
    (np.float32: ONNX Runtime's SVMClassifier; np.float64: libsvm), unrolled."""
    return multiclass_probability(b, pair_probability(b, dec, prob_a, prob_b, dtype), pairs, C, dtype)


def pair_probability(b: Builder, dec: str, prob_a: np.ndarray, prob_b: np.ndarray, dtype=np.float32) -> str:
    """[N, P]: each pair's probability of its first class, at least MIN_PROB from 0 and 1.
    float32: ONNX Runtime's 1 - ComputeLogistic(dec A + B); float64: libsvm's sigmoid_predict,
    exp(-fApB) / (1 + exp(-fApB)) for fApB >= 0, else 1 / (1 + exp(fApB))."""
    num = lambda v: b.const(dtype(v))  # noqa: E731
    one = num(1.0)
    v = b.op("Add", b.op("Mul", dec, b.const(prob_a.astype(dtype), hint="prob_a")),
             b.const(prob_b.astype(dtype), hint="prob_b"))
    if dtype == np.float32:
        val = b.op("Sub", one, _scores.logistic(b, v))
    else:
        e = b.op("Exp", b.op("Neg", b.op("Abs", v)))  # exp(-fApB) or exp(fApB), whichever is <= 1
        grow = b.op("Add", one, e)
        val = b.where(b.op("Less", v, num(0.0)), b.op("Div", one, grow), b.op("Div", e, grow))
    return b.op("Min", b.op("Max", val, num(MIN_PROB)), num(dtype(1) - dtype(MIN_PROB)))


def multiclass_probability(b: Builder, r_pairs: str, pairs: list, C: int, dtype, out: str | None = None) -> str:
    """[N, C] from the pairs' probabilities r_pairs [N, P], unrolled."""
    num = lambda v: b.const(dtype(v))  # noqa: E731
    q = _q_matrix(b, _pairwise(b, r_pairs, pairs, C, dtype), C, dtype)
    q_rows = [b.op("Gather", q, b.const(np.int64(t)), axis=1) for t in range(C)]  # [N, C] each
    q_diag = [b.column(q_rows[t], t) for t in range(C)]  # [N, 1] each
    eps = num(dtype(0.005) / dtype(C))
    one, two, zero = num(1.0), num(2.0), num(0.0)
    unit = [b.const(np.eye(C, dtype=dtype)[t]) for t in range(C)]
    # The start is the same for every row: a [1, C] constant that the first update broadcasts.
    p = b.const(np.full((1, C), dtype(1.0) / dtype(C), dtype))
    n = iterations(dtype, C)
    for it in range(n):
        qp = b.squeeze(b.op("MatMul", q, b.unsqueeze(p, [2])), [2])  # [N, C]
        pqp = b.reduce("ReduceSum", b.op("Mul", p, qp), [1], keepdims=1)  # [N, 1]
        error = b.reduce("ReduceMax", b.op("Abs", b.op("Sub", qp, pqp)), [1], keepdims=1)
        stop = b.op("Less", error, eps)  # the original leaves the loop here: no more updates
        for t in range(C):
            qp_t = b.column(qp, t)
            diff = b.where(stop, zero, b.op("Div", b.op("Sub", pqp, qp_t), q_diag[t]))
            p = b.op("Add", p, b.op("Mul", diff, unit[t]))
            grow = b.op("Add", one, diff)
            inner = b.op("Add", b.op("Mul", diff, q_diag[t]), b.op("Mul", two, qp_t))
            pqp = b.op("Div", b.op("Div", b.op("Add", pqp, b.op("Mul", diff, inner)), grow), grow)
            qp = b.op("Div", b.op("Add", qp, b.op("Mul", diff, q_rows[t])), grow)
            p = b.op("Div", p, grow, out=out if (it == n - 1 and t == C - 1) else None)
    return p


def _pairwise(b: Builder, r_pairs: str, pairs, C: int, dtype) -> str:
    """[N, C, C]: r[i][j] the probability of class i against j, r[j][i] = 1 - r[i][j], zero diagonal."""
    upper, lower = np.zeros((len(pairs), C * C), dtype), np.zeros((len(pairs), C * C), dtype)
    for p, (i, j) in enumerate(pairs):
        upper[p, i * C + j], lower[p, j * C + i] = 1.0, 1.0
    # Products with 0/1 matrices place each value exactly.
    rest = b.op("Sub", b.const(dtype(1.0)), r_pairs)
    flat = b.op("Add", b.op("MatMul", r_pairs, b.const(upper)), b.op("MatMul", rest, b.const(lower)))
    return b.op("Reshape", flat, b.const([-1, C, C], np.int64))


def _q_matrix(b: Builder, r: str, C: int, dtype) -> str:
    """Q[i][i] = sum over j of r[j][i]^2, Q[i][j] = -r[j][i] r[i][j]."""
    rt = b.op("Transpose", r, perm=[0, 2, 1])
    diag = b.reduce("ReduceSum", b.op("Mul", rt, rt), [2], keepdims=1)  # [N, C, 1]
    off = b.op("Neg", b.op("Mul", rt, r))
    return b.op("Add", off, b.op("Mul", diag, b.const(np.eye(C, dtype=dtype))))


# ---- the double coupling as one node (an ONNX model-local function) --------------------------

def function_node(b: Builder, r_pairs: str, C: int) -> str:
    """[N, C] double: libsvm's multiclass_probability of the pairs' probabilities r_pairs [N, P]
    (double, libsvm's pair order) as one MulticlassProbability node; the model needs
    `add_functions` before it is used."""
    out = b.op(OP, r_pairs, domain=DOMAIN)
    b.nodes[-1].overload = f"k{C}"
    return out


def function(C: int) -> onnx.FunctionProto:
    """MulticlassProbability for C classes: input r [N, C(C-1)/2] double, output p [N, C]."""
    b = Builder({"r", "p"}, FUNCTION_OPSET)
    multiclass_probability(b, "r", class_pairs(C), C, np.float64, out="p")
    # A function body holds no initializers: constants become Constant nodes.
    consts = [helper.make_node("Constant", [], [t.name], value=t) for t in b.initializers]
    f = helper.make_function(DOMAIN, OP, ["r"], ["p"], consts + b.nodes, [helper.make_opsetid("", FUNCTION_OPSET)])
    f.overload = f"k{C}"
    f.doc_string = f"libsvm's multiclass_probability for {C} classes, in double"
    return f


def add_functions(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Add (in place) the MulticlassProbability functions the graph's nodes call, their domain's
    opset and the IR version that function overloads need; returns proto."""
    have = {(f.domain, f.name, f.overload) for f in proto.functions}
    for n in proto.graph.node:
        if (n.domain, n.op_type) == (DOMAIN, OP) and (DOMAIN, OP, n.overload) not in have:
            proto.functions.append(function(int(n.overload[1:])))
            have.add((DOMAIN, OP, n.overload))
    if any(f.domain == DOMAIN for f in proto.functions):
        if all(o.domain != DOMAIN for o in proto.opset_import):
            proto.opset_import.append(helper.make_opsetid(DOMAIN, 1))
        proto.ir_version = max(proto.ir_version, FUNCTION_IR_VERSION)
    return proto
