"""Lowers an IR Graph to a kernel Program: buffers, constant tables and one block body.

The generated `run` walks the batch in blocks of `block` rows; the body computes one block.
Ops see `Value`s (a tensor bound to a buffer) and emit kernel statements through `Context`.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field

import numpy as np

from .errors import UnsupportedError
from .ir import Graph, Node, Tensor
from .kernel import ast as k
from .ops import REGISTRY, supported_ops

NP_OF_DTYPE = {"f32": np.float32, "f64": np.float64, "i64": np.int64, "i32": np.int32,
               "bool": np.bool_, "str": object}


_mul = k.idx_mul
_add = k.idx_add


@dataclass(eq=False)
class Value:
    """A tensor bound to storage. Batched values are addressed by (row, element)."""
    info: Tensor
    buf: k.Buf
    base: k.Expr = field(default_factory=lambda: k.Const(0, "idx"))

    @property
    def dtype(self):
        return self.info.dtype

    @property
    def shape(self):
        return self.info.shape

    @property
    def size(self):
        return self.info.size

    @property
    def batched(self):
        return self.info.batched

    @property
    def value(self):
        return self.info.value

    def strides(self) -> list:
        out, acc = [], 1
        for d in reversed(self.shape):
            out.append(acc)
            acc *= d
        return list(reversed(out))

    def flat(self, r, elem) -> k.Expr:
        """Index of element `elem` (flat within a row) of row `r` (ignored for constants)."""
        elem = k.as_idx(elem)
        if not self.batched:
            return elem
        return _add(_add(self.base, _mul(k.as_idx(r), self.size)), elem)

    def at(self, r, elem=0) -> k.Expr:
        return k.Load(self.buf, self.flat(r, elem))

    def put(self, r, elem, value: k.Expr) -> k.Stmt:
        return k.Store(self.buf, self.flat(r, elem), value)


@dataclass
class Program:
    name: str
    block: int
    inputs: list  # Values with kind "in"
    outputs: list  # Values with kind "out"
    temps: list  # Values with kind "tmp" (each holds `block` rows)
    tables: list  # constant Bufs
    scratch: list  # (Buf, elements per row) working memory not tied to a tensor
    steps: list  # one list of statements per op, in order; together they compute one block

    @property
    def body(self) -> list:
        return [s for step in self.steps for s in step]


class Context:
    """What an op's lowering may ask for: fresh names, tables, scratch, row loops."""

    def __init__(self, block: int, opsets: dict | None = None):
        self.block = block
        self.opsets = dict(opsets or {})
        self.nb = k.Var("nb", "idx")
        self.tables: list = []
        self.scratch: list = []
        self._count = 0
        self._tables_by_key: dict = {}

    def opset(self, domain: str = "") -> int:
        """The model's opset version for `domain` (ops whose meaning changed between versions ask)."""
        return self.opsets.get("" if domain == "ai.onnx" else domain, 1)

    def _fresh(self, prefix: str, hint: str) -> str:
        self._count += 1
        clean = "".join(c for c in hint if c.isalnum())[:24] or "v"
        return f"{prefix}{self._count}_{clean}"

    def var(self, hint: str, dtype: str) -> k.Var:
        return k.Var(self._fresh("v", hint), dtype)

    def table(self, hint: str, data, dtype: str) -> k.Buf:
        """A constant table; identical tables are stored once."""
        arr = np.asarray(data, dtype=NP_OF_DTYPE[dtype]).reshape(-1)
        key = (dtype, arr.shape, arr.tobytes() if dtype != "str" else tuple(arr.tolist()))
        if key in self._tables_by_key:
            return self._tables_by_key[key]
        buf = k.Buf(self._fresh("T", hint), dtype, "const", arr)
        self.tables.append(buf)
        self._tables_by_key[key] = buf
        return buf

    def scratch_buf(self, hint: str, dtype: str, per_row: int) -> k.Buf:
        """Working memory of `per_row` elements for each row of a block."""
        buf = k.Buf(self._fresh("s", hint), dtype, "tmp")
        self.scratch.append((buf, int(per_row)))
        return buf

    def loop(self, n, fn, hint="i") -> k.For:
        v = self.var(hint, "idx")
        body = fn(v)
        return k.For(v, k.Const(0, "idx"), k.as_idx(n), body if isinstance(body, list) else [body])

    def rows(self, fn) -> k.For:
        return self.loop(self.nb, fn, "r")

    def elementwise(self, out: Value, fn) -> k.For:
        """out[r, i] = fn(r, i) for every element of every row."""
        return self.rows(lambda r: [self.loop(out.size, lambda i: out.put(r, i, fn(r, i)))])


def _load_op(node: Node, graph: Graph):
    key = (node.domain or "", node.op_type)
    module = REGISTRY.get(key)
    if module is None:
        domain = node.domain or "ai.onnx"
        raise UnsupportedError(
            f"unsupported op {domain}:{node.op_type} (opset {graph.opset(node.domain)}) in node "
            f"{node.name!r}: the cpp and java targets support {', '.join(supported_ops())}. "
            "Try the 'onnx' target, or another converter option that avoids this op.")
    return importlib.import_module(f".ops.{module}", __package__)


BLOCK = 64          # rows per block
TREE_BLOCK = 256    # rows per block of graphs with tree ensembles
TREE_OPS = ("TreeEnsemble", "TreeEnsembleRegressor", "TreeEnsembleClassifier")


BLOCK_ELEMENTS = 1 << 21  # the most elements one working buffer holds for a block (16 MiB of doubles)


def block_rows(graph: Graph) -> int:
    """Rows per block: forests walk every tree for a block of rows, so a bigger block loads
    each tree from memory once for more rows (a 500-tree randomForest whose tables outgrow the
    caches: 2x faster in double at 256 rows than at 64, measured; no gain past 256). Fewer
    where values are wide (a text column's counts over a 100,000-term vocabulary), so that each
    working buffer stays within BLOCK_ELEMENTS."""
    block = TREE_BLOCK if any(n.op_type in TREE_OPS for n in graph.nodes) else BLOCK
    widest = max([t.size for t in graph.tensors.values() if t.batched] or [1])
    return max(1, min(block, BLOCK_ELEMENTS // max(widest, 1)))


def lower(graph: Graph, name: str, block: int | None = None) -> Program:
    block = block or block_rows(graph)
    ctx = Context(block, graph.opsets)
    values: dict = {}
    b0 = k.Var("b0", "idx")
    inputs, outputs, temps = [], [], []

    def batched_value(t: Tensor, kind: str) -> Value:
        buf = k.Buf(ctx._fresh({"in": "in", "out": "out", "tmp": "t"}[kind], "x"), t.dtype, kind)
        base = _mul(b0, t.size) if kind in ("in", "out") else k.Const(0, "idx")
        v = Value(t, buf, base)
        (inputs if kind == "in" else outputs if kind == "out" else temps).append(v)
        return v

    def value_of(tname: str):
        if not tname:
            return None
        if tname in values:
            return values[tname]
        t = graph.tensors[tname]
        if t.batched:
            raise AssertionError(f"batched value {tname} used before it is computed")
        v = Value(t, ctx.table("c", t.value, t.dtype))
        values[tname] = v
        return v

    for tname in graph.inputs:
        values[tname] = batched_value(graph.tensors[tname], "in")
    out_values = {}
    body = []
    for node in graph.nodes:
        op = _load_op(node, graph)
        ins = [value_of(i) for i in node.inputs]
        outs = []
        for j, oname in enumerate(node.outputs):
            if not oname:
                outs.append(None)
                continue
            t = graph.tensors[oname]
            alias = getattr(op, "ALIAS", False) and ins[0] is not None and ins[0].batched \
                and oname not in graph.outputs and t.size == ins[0].size and j == 0
            if alias:
                v = Value(t, ins[0].buf, ins[0].base)
            else:
                v = batched_value(t, "out" if oname in graph.outputs else "tmp")
            if oname in graph.outputs:
                out_values[oname] = v
            values[oname] = v
            outs.append(v)
        if getattr(op, "ALIAS", False) and outs[0] is not None and outs[0].buf is not ins[0].buf:
            body.append([ctx.elementwise(outs[0], lambda r, i: ins[0].at(r, i))])
        else:
            body.append(op.lower(ctx, node, ins, outs))
    for oname in graph.outputs:
        if oname not in out_values:
            # A graph output that is also an input or an earlier output: copy it.
            src = values[oname]
            v = batched_value(graph.tensors[oname], "out")
            body.append([ctx.elementwise(v, lambda r, i: src.at(r, i))])
            out_values[oname] = v
    ordered_outputs = [out_values[o] for o in graph.outputs]
    return Program(name, block, inputs, ordered_outputs, temps, ctx.tables, ctx.scratch, body)
