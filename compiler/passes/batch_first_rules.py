"""The batch-first rewrite's rules, one per op: each writes a node again on the batch-first copies
of its values (`rw.name(v)`), with its axes renumbered to the order those copies hold them in
(`rw.order(v)`), or refuses it (`rw.refuse`). `rw` is a batch_first_rewrite.Rewriter."""
from __future__ import annotations

import numpy as np

UNARY = {"Identity", "Cast", "Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Exp", "Log", "Sqrt", "Softplus",
         "Softsign", "Elu", "Selu", "LeakyRelu", "HardSigmoid", "Erf", "Not"}
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Pow", "Where", "Equal", "Less", "Greater",
               "And", "Or", "Xor", "LessOrEqual", "GreaterOrEqual", "IsNaN", "Reciprocal"}
LAYOUT_OPS = ("Reshape, Transpose, Squeeze, Unsqueeze, Slice, Gather, Concat, ReverseSequence, reductions, "
              "ArrayFeatureExtractor, ArgMax, ArgMin, Softmax, values filled from the batch size (ConstantOfShape, "
              "Expand, Tile), elementwise ops, LSTM, GRU and RNN")


def is_elementwise(node) -> bool:
    return node.op_type in UNARY or node.op_type in ELEMENTWISE


def reshape(rw, node):
    """A Reshape to the measured shape, -1 for the batch (converters compute some targets from the
    batch size at run time). The batch may sit on a later axis if the axes before it stay as they
    are: the Reshape then acts on each [batch, ...] block's trailing axes alone; or if only axes of
    size 1 come before it, on either side (skl2onnx stacks [N, k] values as [1, N, k]): each
    row's elements keep their order."""
    x, y = node.input[0], node.output[0]
    bx, by = rw.axis.get(x, 0), rw.axis.get(y, 0)
    if x in rw.flat:
        rest = [d for k, d in enumerate(rw.run2[y].shape) if k != by]
        if by != 0 or y in rw.merged or y in rw.flat or int(np.prod(rest, dtype=np.int64)) != rw.flat[x]:
            raise rw.refuse(node, f"it makes {rw.run2[y].shape} (batch size 2) of the whole batch flattened, "
                                  "not rows again")
        rw.emit("Reshape", [rw.name(x), rw.const(np.array([-1] + rest, np.int64))], [rw.out(y)])
        return
    if x in rw.stacked:
        k = rw.stacked[x]
        if by != 1 or rw.run2[y].shape[0] != k:
            raise rw.refuse(node, f"it makes {rw.run2[y].shape} (batch size 2) of {k} blocks of rows, "
                                  "not [blocks, batch, ...]")
        rest = list(rw.run2[y].shape[2:])
        rw.emit("Reshape", [rw.name(x), rw.const(np.array([-1, k] + rest, np.int64))], [rw.out(y)])
        return
    if _outermost(rw, x) and _outermost(rw, y) and y not in rw.merged and x not in rw.merged:
        rest = [d for k, d in enumerate(rw.run2[y].shape) if k != by]
        rw.emit("Reshape", [rw.name(x), rw.const(np.array([-1] + rest, np.int64))], [rw.out(y)])
        return
    if bx != by or rw.run2[x].shape[:bx] != rw.run2[y].shape[:by] or (y not in rw.axis and y not in rw.merged):
        raise rw.refuse(node, f"it makes {rw.run2[y].shape} (batch size 2) of {rw.run2[x].shape}, "
                              "which does not keep the batch first")
    rest = [d for k, d in enumerate(rw.run2[y].shape) if k != by]
    target = [-1, rw.merged[y]] + rest if y in rw.merged else [-1] + rest
    rw.emit("Reshape", [rw.name(x), rw.const(np.array(target, np.int64))], [rw.out(y)])


def _outermost(rw, value) -> bool:
    """Whether only axes of size 1 come before the batch axis of `value`."""
    b = rw.axis.get(value, 0)
    return all(d == 1 for d in rw.run2[value].shape[:b])


def stacks(rw, node) -> bool:
    """A Concat along axis 0 of batch-first values of one shape: k blocks of rows."""
    axis = next(a.i for a in node.attribute if a.name == "axis")
    shapes = {rw.run2[i].shape for i in node.input}
    return axis == 0 and len(shapes) == 1 and all(rw.axis.get(i) == 0 and i not in rw.merged for i in node.input) \
        and rw.run2[node.output[0]].shape[0] == 2 * len(node.input)


def stack(rw, node):
    """The blocks side by side in each row: [batch, k, ...] (what a Reshape to [k, batch, ...] then
    makes batch-first again)."""
    y = node.output[0]
    parts = [rw.emit("Unsqueeze", [rw.name(i), rw.const(np.array([1], np.int64))]) for i in node.input]
    del rw.merged[y]
    rw.stacked[y] = len(node.input)
    rw.moved[y] = f"{y}/batch_first"
    rw.emit("Concat", parts, [rw.moved[y]], axis=1)


def flat_op(rw, node):
    """An op on the whole batch flattened ([1, batch x k]), run on its [batch, k] copy: Flatten of
    rows, ops elementwise with constants of one element, a Gather from a constant table, an
    ArrayFeatureExtractor of a 1-D table by indices of the rows."""
    y = node.output[0]
    k = rw.flat.get(y)
    data = [i for i in node.input if i and i not in rw.consts]
    one = all(rw.consts[i].size == 1 for i in node.input if i in rw.consts)
    if node.op_type == "Flatten" and k is not None and data and rw.axis.get(data[0], 0) == 0 and \
            data[0] not in rw.merged and data[0] not in rw.flat and rw.run2[data[0]].ndim > 1 and \
            int(np.prod(rw.run2[data[0]].shape[1:], dtype=np.int64)) == k:
        rw.emit("Reshape", [rw.name(data[0]), rw.const(np.array([-1, k], np.int64))], [rw.out(y)])
    elif node.op_type == "Flatten" and k is not None and data and rw.flat.get(data[0]) == k:
        rw.emit("Identity", [rw.name(data[0])], [rw.out(y)])
    elif node.op_type == "Gather" and k is not None and node.input[0] in rw.consts and \
            rw.flat.get(node.input[1]) == k and rw.consts[node.input[0]].ndim == 1:
        rw.emit("Gather", [node.input[0], rw.name(node.input[1])], [rw.out(y)], axis=0)
    elif node.op_type == "ArrayFeatureExtractor" and k is not None and node.input[0] in rw.consts and \
            rw.consts[node.input[0]].ndim == 1 and rw.axis.get(node.input[1]) == 0 and \
            node.input[1] not in rw.merged and node.input[1] not in rw.flat and \
            int(np.prod(rw.run2[node.input[1]].shape[1:], dtype=np.int64)) == k:
        # a 1-D table looked up by [batch, ...] indices gives them all in one row
        picked = rw.emit("Gather", [node.input[0], rw.name(node.input[1])], axis=0)
        rw.emit("Reshape", [picked, rw.const(np.array([-1, k], np.int64))], [rw.out(y)])
    elif is_elementwise(node) and k is not None and one and all(rw.flat.get(i) == k for i in data) and \
            len(node.output) == 1:
        rw.copy(node, [rw.name(i) for i in node.input], [rw.out(y)])
    else:
        raise rw.refuse(node, f"it works on the whole batch flattened ({rw.run2[y].shape} at batch size 2) "
                              "other than elementwise, by a table lookup or back into rows")


def merged_op(rw, node):
    """An op on [batch * k, ...] values, run on their [batch, k, ...] copies: MatMul by a constant
    matrix, and elementwise ops with constants that broadcast over the rows."""
    y = node.output[0]
    k, rank = rw.merged.get(y), rw.run2[y].ndim
    data = [i for i in node.input if i and i not in rw.consts]
    consts = [rw.consts[i] for i in node.input if i in rw.consts]
    if node.op_type == "MatMul":
        fits = len(data) == 1 and data[0] == node.input[0] and consts[0].ndim == 2
    else:
        fits = is_elementwise(node) and all(c.ndim < rank for c in consts) and len(node.output) == 1
    if k is None or not data or any(rw.merged.get(i) != k for i in data) or not fits:
        raise rw.refuse(node, f"it works on rows that merge the batch with another dimension "
                              f"({rw.run2[y].shape} at batch size 2)")
    rw.copy(node, [rw.name(i) for i in node.input], [rw.out(y)])


def elementwise(rw, node):
    """Inputs with the batch on the same axis, and scalar constants (any constant where that axis
    is the first: the copies then keep every axis in place, so constants broadcast as before)."""
    y = node.output[0]
    first = rw.axis.get(y) == 0
    layouts = {(rw.axis.get(i), rw.run2[i].ndim) for i in node.input
               if i and not (i in rw.consts and (rw.consts[i].ndim == 0 or first))}
    if len(layouts) != 1 or next(iter(layouts)) != (rw.axis.get(y), rw.run2[y].ndim):
        raise rw.refuse(node, "its inputs do not all have the batch on the same axis")
    rw.copy(node, [rw.name(i) for i in node.input], [rw.out(y)])


def transpose(rw, node):
    x, y = node.input[0], node.output[0]
    rank = rw.run2[x].ndim
    perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), list(range(rank))[::-1])
    ox, oy = rw.order(x), rw.order(y)
    new = [ox.index(perm[a]) for a in oy]
    if new == list(range(rank)):
        rw.emit("Identity", [rw.name(x)], [rw.out(y)])
    else:
        rw.emit("Transpose", [rw.name(x)], [rw.out(y)], perm=new)


def squeeze(rw, node):
    x, y = node.input[0], node.output[0]
    rank = rw.run2[x].ndim
    axes = [a % rank for a in rw.ints(node, 1) or [k for k in range(rank) if rw.run2[x].shape[k] == 1]]
    if rw.axis.get(x, 0) in axes:
        raise rw.refuse(node, "it removes the batch axis")
    new = sorted(rw.order(x).index(a) for a in axes)
    rw.emit("Squeeze", [rw.name(x), rw.const(np.array(new, np.int64))], [rw.out(y)])


def unsqueeze(rw, node):
    x, y = node.input[0], node.output[0]
    rank = rw.run2[y].ndim
    new = sorted(rw.order(y).index(a % rank) for a in rw.ints(node, 1))
    rw.emit("Unsqueeze", [rw.name(x), rw.const(np.array(new, np.int64))], [rw.out(y)])


def slice_(rw, node):
    x, y = node.input[0], node.output[0]
    rank = rw.run2[x].ndim
    starts, ends = rw.ints(node, 1), rw.ints(node, 2)
    axes = [a % rank for a in (rw.ints(node, 3) or range(len(starts)))]
    steps = rw.ints(node, 4) or [1] * len(starts)
    if rw.axis.get(x, 0) in axes:
        raise rw.refuse(node, "it slices the batch axis")
    new = [rw.order(x).index(a) for a in axes]
    args = [rw.const(np.array(v, np.int64)) for v in (starts, ends, new, steps)]
    rw.emit("Slice", [rw.name(x)] + args, [rw.out(y)])


def gather(rw, node):
    x, idx, y = node.input[0], node.input[1], node.output[0]
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0) % rw.run2[x].ndim
    if x in rw.axis and idx in rw.consts and axis != rw.axis[x]:
        rw.emit("Gather", [rw.name(x), idx], [rw.out(y)], axis=rw.order(x).index(axis))
    elif x in rw.consts and idx in rw.axis and axis == 0:
        rw.emit("Gather", [x, rw.name(idx)], [rw.out(y)], axis=0)
    else:
        raise rw.refuse(node, "it gathers along the batch axis or with indices computed at run time")


def concat(rw, node):
    y = node.output[0]
    axis = next(a.i for a in node.attribute if a.name == "axis") % rw.run2[y].ndim
    layouts = {(rw.axis.get(i), rw.run2[i].ndim) for i in node.input}
    if len(layouts) != 1 or None in next(iter(layouts)) or axis == rw.axis.get(y, 0):
        raise rw.refuse(node, "its inputs do not all have the batch on the same axis")
    rw.emit("Concat", [rw.name(i) for i in node.input], [rw.out(y)], axis=rw.order(y).index(axis))


def reduce(rw, node):
    """A reduction over axes other than the batch's: the same axes of the batch-first copy
    (keepdims or not, the axes left keep their order, the batch first among them)."""
    x, y = node.input[0], node.output[0]
    rank = rw.run2[x].ndim
    attrs = {a.name: a for a in node.attribute}
    from_input = len(node.input) > 1 and node.input[1]
    axes = rw.ints(node, 1) if from_input else list(attrs["axes"].ints) if "axes" in attrs else None
    if axes is None or rw.axis.get(x, 0) in [a % rank for a in axes]:
        raise rw.refuse(node, "it reduces over the batch axis")
    new = sorted(rw.order(x).index(a % rank) for a in axes)
    keep = {a.name: a for a in node.attribute if a.name != "axes"}
    if from_input:
        inputs = [rw.name(x), rw.const(np.array(new, np.int64))]
        rw.emit(node.op_type, inputs, [rw.out(y)], **{k: v.i for k, v in keep.items()})
    else:
        rw.emit(node.op_type, [rw.name(x)], [rw.out(y)], axes=new, **{k: v.i for k, v in keep.items()})


def last_axis_op(rw, node):
    """ArrayFeatureExtractor, ArgMax/ArgMin/Softmax on the last axis: the same on the copy where
    the batch is not that axis (the last axis stays last)."""
    x, y = node.input[0], node.output[0]
    rank = rw.run2[x].ndim
    axis = next((a.i for a in node.attribute if a.name == "axis"), -1) % rank
    if node.op_type == "ArrayFeatureExtractor":
        idx = node.input[1]
        if x in rw.consts and rank == 1 and rw.axis.get(idx, 0) == 0 and idx not in rw.merged and \
                int(np.prod(rw.run2[idx].shape[1:], dtype=np.int64)) == 1 and _outermost(rw, y):
            # a table of labels looked up by one index per row ([1, N] out): the same lookup
            # followed by a Reshape to the rows, skl2onnx's own pattern, which the
            # array_feature_lookup pass makes a Gather (and the TVM lowering maps string tables)
            flat = rw.emit("Reshape", [rw.name(idx), rw.const(np.array([-1], np.int64))])
            picked = rw.fresh()
            rw.copy(node, [x, flat], [picked])
            rw.emit("Reshape", [picked, rw.const(np.array([-1] + [1] * (rw.run2[y].ndim - 1), np.int64))],
                    [rw.out(y)])
            return
        axis = rank - 1
    if rw.axis.get(x, 0) == axis or axis != rank - 1:
        raise rw.refuse(node, "it works along the batch axis, or along an axis other than the last")
    if node.op_type == "ArrayFeatureExtractor":
        rw.copy(node, [rw.name(x)] + list(node.input[1:]), [rw.out(y)])
    else:
        attrs = {a.name: a.i for a in node.attribute if a.name != "axis"}
        rw.emit(node.op_type, [rw.name(x)], [rw.out(y)], axis=-1, **attrs)


def filled(rw, node):
    """A value computed from the batch size alone (ConstantOfShape, Expand, Tile of a batch-sized
    shape, and arithmetic on those) read by a node on the data: every row holds the same, so it is
    that row broadcast over the rows of a batch-first value the graph already has (a Where on
    that value's rows, true or false, picks the row either way). Rows that differ (a Range over
    the batch) are refused."""
    y = node.output[0]
    a, b = rw.run2[y], rw.run3[y]
    row = a[0]
    if not all(np.array_equal(r, row) for r in list(a) + list(b)):
        raise rw.refuse(node, "it computes rows that differ from the batch size alone (a row index)")
    rows = rw.batch_rows()
    cond = rw.emit("Reshape", [rows, rw.const(np.array([-1] + [1] * row.ndim, np.int64))])
    table = rw.const(row[None])
    rw.emit("Where", [cond, table, table], [rw.moved[y]])


def reverse_sequence(rw, node):
    """Keras' go_backwards reverses every sequence whole: a reversed Slice along time."""
    x, lengths, y = node.input[0], node.input[1], node.output[0]
    attrs = {a.name: a.i for a in node.attribute}
    time = attrs.get("time_axis", 0)
    steps = rw.run2[x].shape[time]
    if attrs.get("batch_axis", 1) != rw.axis.get(x) or lengths not in rw.free or \
            not all((r[lengths] == steps).all() for r in (rw.run2, rw.run3)):
        raise rw.refuse(node, "it reverses sequences of different lengths (masking)")
    args = [rw.const(np.array(v, np.int64)) for v in ([-1], [np.iinfo(np.int64).min],
                                                       [rw.order(x).index(time)], [-1])]
    rw.emit("Slice", [rw.name(x)] + args, [rw.out(y)])


RULES = {
    "Reshape": reshape,
    "Transpose": transpose,
    "Squeeze": squeeze,
    "Unsqueeze": unsqueeze,
    "Slice": slice_,
    "Gather": gather,
    "Concat": concat,
    "ReverseSequence": reverse_sequence,
    "ReduceSum": reduce, "ReduceMean": reduce, "ReduceMax": reduce, "ReduceMin": reduce, "ReduceProd": reduce,
    "ReduceSumSquare": reduce, "ReduceLogSumExp": reduce,
    "ArrayFeatureExtractor": last_axis_op, "ArgMax": last_axis_op, "ArgMin": last_axis_op, "Softmax": last_axis_op,
}
