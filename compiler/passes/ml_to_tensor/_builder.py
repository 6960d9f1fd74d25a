"""A small graph builder for the lowerings: fresh names, constants, nodes, and the few ops
whose form depends on the opset (reduce axes and Unsqueeze/Squeeze axes became inputs).

Every lowering appends its nodes here; the pass splices them in where the ml node was, so the
graph stays topologically sorted.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from ...ir import attributes  # noqa: F401  (the ml op modules take it from here)

# Reductions whose axes are an input (not an attribute) from this default-domain opset on.
AXES_INPUT_SINCE = {"ReduceSum": 13, "ReduceMax": 18, "ReduceMin": 18, "ReduceMean": 18,
                    "ReduceSumSquare": 18}
F32, F64, I64 = TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.INT64
SHARED_CONSTANT_SIZE = 16


@dataclass
class Value:
    """An input of an ml node as measured on the original graph."""
    name: str
    dtype: np.dtype  # numpy element type (object for strings)
    shape: tuple  # the shape at a batch of 2 rows (constants: their own shape)
    const: np.ndarray | None = None  # the value, when it is a graph constant
    classes: list | None = None  # a string value carried as int64 indices into this table

    @property
    def width(self) -> int:
        """Elements per row of a batched [N, ...] value."""
        return int(np.prod(self.shape[1:], dtype=np.int64)) if len(self.shape) > 1 else 1


class Builder:
    """Collects the nodes and initializers that replace one graph's ml nodes."""

    def __init__(self, taken: set, opset: int, ml_opset: int = 1):
        self.taken = taken  # every name in the graph, so that fresh names never collide
        self.opset = opset
        self.ml_opset = ml_opset
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.string_tables: dict[str, list] = {}  # value name -> the strings its int64 indices stand for
        self.shared: dict = {}  # small constants by value
        self.count = 0

    def fresh(self, hint: str) -> str:
        while True:
            self.count += 1
            name = f"ml2t_{hint}_{self.count}"
            if name not in self.taken:
                self.taken.add(name)
                return name

    def const(self, value, dtype=None, hint: str = "c") -> str:
        arr = np.asarray(value, dtype=dtype)
        # Small constants (scalars, axes, shapes) are shared: the SVM probability coupling alone
        # would otherwise make thousands of copies of 1.0.
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.size <= SHARED_CONSTANT_SIZE else None
        if key in self.shared:
            return self.shared[key]
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(arr, name))
        if key is not None:
            self.shared[key] = name
        return name

    def op(self, op_type: str, *inputs, out: str | None = None, **attrs) -> str:
        """Append a one-output node; return the output's name (`out` when given)."""
        out = out or self.fresh(op_type.lower())
        self.nodes.append(helper.make_node(op_type, [i if i is not None else "" for i in inputs], [out],
                                           name=self.fresh("n"), **attrs))
        return out

    # ---- opset-dependent forms -------------------------------------------------------------

    def reduce(self, op_type: str, x: str, axes, keepdims: int = 1, out: str | None = None) -> str:
        axes = [int(a) for a in axes]
        if self.opset >= AXES_INPUT_SINCE[op_type]:
            return self.op(op_type, x, self.const(axes, np.int64, "axes"), out=out, keepdims=keepdims)
        return self.op(op_type, x, out=out, axes=axes, keepdims=keepdims)

    def unsqueeze(self, x: str, axes, out: str | None = None) -> str:
        return self.op("Unsqueeze", x, self.const([int(a) for a in axes], np.int64, "axes"), out=out)

    def squeeze(self, x: str, axes, out: str | None = None) -> str:
        return self.op("Squeeze", x, self.const([int(a) for a in axes], np.int64, "axes"), out=out)

    # ---- small conveniences ----------------------------------------------------------------

    def cast(self, x: str, to: int, out: str | None = None) -> str:
        return self.op("Cast", x, out=out, to=to)

    def rows(self, v: Value) -> str:
        """The value as [N, width] (a batched [N] or [N, a, b] value flattened per row)."""
        if len(v.shape) == 2:
            return v.name
        return self.op("Reshape", v.name, self.const([-1, v.width], np.int64, "shape"))

    def column(self, x: str, j: int) -> str:
        """Column j of an [N, K] tensor as [N, 1]."""
        return self.op("Slice", x, self.const([j], np.int64), self.const([j + 1], np.int64),
                       self.const([1], np.int64))

    def columns(self, x: str, lo: int, hi: int) -> str:
        return self.op("Slice", x, self.const([lo], np.int64), self.const([hi], np.int64), self.const([1], np.int64))

    def zeros_rows(self, like: str, width: int, dtype=np.float32) -> str:
        """A [N, width] tensor of zeros with the row count of `like` (whatever its values hold:
        multiplying by 0 would turn NaN and infinities into NaN)."""
        return self.filled_rows(like, width, np.zeros((), dtype))

    def filled_rows(self, like: str, width: int, value) -> str:
        """A [N, width] tensor of `value` (a numpy scalar) with the row count of `like`."""
        n = self.op("Slice", self.op("Shape", like), self.const([0], np.int64), self.const([1], np.int64))
        shape = self.op("Concat", n, self.const([width], np.int64), axis=0)
        return self.op("ConstantOfShape", shape, value=numpy_helper.from_array(np.asarray(value).reshape(1)))

    def where(self, cond: str, a: str, b: str) -> str:
        return self.op("Where", cond, a, b)

    def label_strings(self, name: str, classes) -> None:
        """Record that the int64 value `name` holds indices into the string table `classes`."""
        self.string_tables[name] = [str(c) for c in classes]
