"""Pairwise distances to a constant set of points, computed by skl2onnx with a Scan, as
batched standard ops.

skl2onnx converts k-NN models (and others that need distances to the training set) to
`Scan(X, T)` whose body computes, for one training point t, `reduce(f(x - t), axis=1)`
for every row x of the batch; the scan output [n_train, N] is then transposed to
[N, n_train]. A Scan body cannot be compiled per row and its output does not start with
the batch, so the pair becomes:

- squared Euclidean distance (Sub, ReduceSumSquare): ||x||^2 - 2 x.t + ||t||^2 with
  Gemm against the constant training set, in double (in float32 the cancellation would
  cost up to ||x||^2 * 1e-7, enough to reorder near neighbours), clamped at 0 and cast
  back to the input's type;
- any other body of elementwise ops and one reduction over axis 1 (Manhattan,
  Minkowski): the same ops on Unsqueeze(X, 1) - T, of shape [N, n_train, d], reduced over
  axis 2. This computes exactly what the Scan does, with memory N * n_train * d.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..onnx_edit import attr, default_opset, reads

ELEMENTWISE = {"Identity", "Sub", "Abs", "Pow", "Mul", "Add", "Div", "Sqrt", "Neg", "Max", "Min", "Cast"}
REDUCTIONS = {"ReduceSum", "ReduceSumSquare", "ReduceMax", "ReduceMean", "ReduceL1", "ReduceL2"}
# Reductions whose axes became an input (else an attribute) at this opset.
AXES_INPUT_SINCE = {"ReduceSum": 13}


def run(proto: onnx.ModelProto) -> onnx.ModelProto:
    g = proto.graph
    if not any(n.op_type == "Scan" and n.domain in ("", "ai.onnx") for n in g.node):
        return proto
    out = onnx.ModelProto()
    out.CopyFrom(proto)
    _Rewriter(out).rewrite()
    return out


class _Rewriter:
    def __init__(self, model):
        self.model, self.g = model, model.graph
        self.opset = default_opset(model)
        self.consts = {i.name: numpy_helper.to_array(i) for i in self.g.initializer}
        for n in self.g.node:
            if n.op_type == "Constant" and attr(n, "value") is not None:
                self.consts[n.output[0]] = numpy_helper.to_array(attr(n, "value"))
        self.names = {v.name for v in list(self.g.input) + list(self.g.output) + list(self.g.value_info)}
        self.names |= set(self.consts) | {o for n in self.g.node for o in n.output}
        self.count = 0

    def fresh(self, hint: str) -> str:
        while True:
            self.count += 1
            name = f"knn_{hint}_{self.count}"
            if name not in self.names:
                self.names.add(name)
                return name

    def const(self, hint, value) -> str:
        name = self.fresh(hint)
        self.g.initializer.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def consumers(self, name):
        return [n for n in self.g.node for i in n.input if i == name]

    def rewrite(self):
        nodes = list(self.g.node)
        dropped, replaced = set(), {}
        for idx, node in enumerate(nodes):
            if node.op_type != "Scan" or node.domain not in ("", "ai.onnx"):
                continue
            plan = self.match(node)
            if plan is None:
                continue
            transpose, new_nodes = plan
            dropped.add(id(transpose))
            replaced[id(node)] = new_nodes
        if not replaced:
            return
        result = []
        for node in nodes:
            if id(node) in replaced:
                result.extend(replaced[id(node)])
            elif id(node) not in dropped:
                result.append(node)
        del self.g.node[:]
        self.g.node.extend(result)
        # The training set now lives in the rewritten nodes' own constants (or is still
        # used as it was): drop the Scan's copy when nothing reads it any more.
        used = reads(result) | {o.name for o in self.g.output}
        scan_inputs = {n.input[1] for n in nodes if id(n) in replaced}
        for init in [i for i in self.g.initializer if i.name in scan_inputs and i.name not in used]:
            self.g.initializer.remove(init)
        kept = {o for n in result for o in n.output} | {i.name for i in self.g.initializer} | \
            {i.name for i in self.g.input}
        vi = [v for v in self.g.value_info if v.name in kept]
        del self.g.value_info[:]
        self.g.value_info.extend(vi)

    def match(self, scan):
        """(the Transpose to drop, the nodes replacing the Scan) or None."""
        if len(scan.input) != 2 or len(scan.output) != 2 or attr(scan, "num_scan_inputs") != 1:
            return None
        for a in ("scan_input_axes", "scan_output_axes", "scan_input_directions", "scan_output_directions"):
            if any(attr(scan, a, [0])):
                return None
        x, t = scan.input
        points = self.consts.get(t)
        if points is None or points.ndim != 2 or points.dtype not in (np.float32, np.float64):
            return None
        users = self.consumers(scan.output[1])
        if len(users) != 1 or users[0].op_type != "Transpose" or list(attr(users[0], "perm", [])) != [1, 0]:
            return None
        if any(o.name == scan.output[1] for o in self.g.output):
            return None
        body = attr(scan, "body")
        if len(body.input) != 2 or len(body.output) != 2:
            return None
        s_in, t_in = body.input[0].name, body.input[1].name
        root = {}

        def resolve(name):
            while name in root:
                name = root[name]
            return name
        for n in body.node:
            if n.op_type == "Identity":
                root[n.output[0]] = n.input[0]
        if resolve(body.output[0].name) != s_in:
            return None
        work = [n for n in body.node if not (n.op_type == "Identity" and resolve(n.output[0]) == s_in)]
        if any(n.op_type not in ELEMENTWISE | REDUCTIONS or n.domain not in ("", "ai.onnx") for n in work):
            return None
        reductions = [n for n in work if n.op_type in REDUCTIONS]
        if len(reductions) != 1 or attr(reductions[0], "keepdims", 1) != 0:
            return None
        red = reductions[0]
        body_consts = {i.name: numpy_helper.to_array(i) for i in body.initializer}
        axes = list(attr(red, "axes", []) or [])
        if len(red.input) > 1 and red.input[1]:
            axes = [int(a) for a in body_consts.get(red.input[1], np.array([99])).reshape(-1)]
        if axes not in ([1], [-1]):
            return None
        state_users = self.consumers(scan.output[0]) or any(o.name == scan.output[0] for o in self.g.output)
        out_name = users[0].output[0]
        subs = [n for n in work if n.op_type == "Sub"]
        if (len([n for n in work if n.op_type != "Identity"]) == 2 and len(subs) == 1 and red.op_type == "ReduceSumSquare"
                and set(subs[0].input) == {s_in, t_in} and red.input[0] == subs[0].output[0]
                and resolve(body.output[1].name) == red.output[0]):
            new = self.squared_euclidean(x, points, out_name)
        else:
            new = self.direct(x, t, body, work, red, s_in, t_in, resolve(body.output[1].name), out_name,
                              body_consts)
            if new is None:
                return None
        if state_users:
            new.append(helper.make_node("Identity", [x], [scan.output[0]], name=self.fresh("state")))
        return users[0], new

    def squared_euclidean(self, x, points, out_name):
        t64 = points.astype(np.float64)
        is_float = points.dtype == np.float32
        xd = self.fresh("xd") if is_float else x
        nodes = []
        if is_float:
            nodes.append(helper.make_node("Cast", [x], [xd], to=TensorProto.DOUBLE, name=self.fresh("cast")))
        tname = self.const("points", t64)
        tt = self.const("points_sq", (t64 * t64).sum(axis=1))
        zero = self.const("zero", np.array(0.0))
        xx, prod, total, clamped = (self.fresh(h) for h in ("x_sq", "cross", "sum", "clamped"))
        nodes.append(self.reduce("ReduceSumSquare", xd, xx, [1], keepdims=1))
        nodes += [
            helper.make_node("Gemm", [xd, tname, tt], [prod], alpha=-2.0, beta=1.0, transB=1,
                             name=self.fresh("gemm")),
            helper.make_node("Add", [prod, xx], [total], name=self.fresh("add")),
            helper.make_node("Max", [total, zero], [clamped], name=self.fresh("max")),
        ]
        nodes.append(helper.make_node("Cast", [clamped], [out_name], to=TensorProto.FLOAT, name=self.fresh("cast"))
                     if is_float else helper.make_node("Identity", [clamped], [out_name], name=self.fresh("id")))
        return nodes

    def reduce(self, op, src, dst, axes, keepdims):
        if self.opset >= AXES_INPUT_SINCE.get(op, 18):
            return helper.make_node(op, [src, self.const("axes", np.array(axes, np.int64))], [dst],
                                    keepdims=keepdims, name=self.fresh("reduce"))
        return helper.make_node(op, [src], [dst], axes=axes, keepdims=keepdims, name=self.fresh("reduce"))

    def direct(self, x, t, body, work, red, s_in, t_in, result, out_name, body_consts):
        rename = {}
        xu = self.fresh("x_row")
        if self.opset >= 13:
            unsq = helper.make_node("Unsqueeze", [x, self.const("axes", np.array([1], np.int64))], [xu],
                                    name=self.fresh("unsqueeze"))
        else:
            unsq = helper.make_node("Unsqueeze", [x], [xu], axes=[1], name=self.fresh("unsqueeze"))
        rename[s_in], rename[t_in] = xu, t
        for name, value in body_consts.items():
            rename[name] = self.const("c", value)
        nodes = [unsq]
        for n in work:
            for o in n.output:
                rename[o] = self.fresh("d")
            if n is red:
                nodes.append(self.reduce(n.op_type, rename.get(n.input[0], n.input[0]), rename[n.output[0]],
                                         [2], keepdims=0))
                continue
            copy = onnx.NodeProto()
            copy.CopyFrom(n)
            copy.name = self.fresh("op")
            copy.input[:] = [rename.get(i, i) for i in n.input]
            copy.output[:] = [rename[o] for o in n.output]
            nodes.append(copy)
        nodes.append(helper.make_node("Identity", [rename.get(result, result)], [out_name], name=self.fresh("id")))
        return nodes
