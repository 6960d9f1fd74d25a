"""Where a mismatch starts: when a built artifact disagrees, find the first stage of the
compiler that disagrees, and inside the graph the first ONNX node whose output differs.

The stages, in order (each compared with the one before it, on the rows that fail):

1. ONNX conversion: ONNX Runtime on the converted graph against the original model.
2. graph passes: ONNX Runtime after each pass (compiler/passes) against before it; the pass
   that changes the answers is named.
3. lowered kernels: a debug build of the generated code whose outputs are every intermediate
   tensor of the graph, against ONNX Runtime's intermediate tensors, node by node in graph
   order: the first node whose output differs is named.
4. built artifact: the debug build agrees with ONNX Runtime while the artifact does not (its
   runtime, packaging or toolchain).
"""
from __future__ import annotations

import copy
import csv
import io
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import onnx

from ..ort_session import session
from .compare import compare_rows

DEBUG_ROWS = 64             # failing rows the stage search runs on
MAX_TENSOR_ELEMENTS = 4096  # wider intermediate tensors (per row) are not compared
DEBUG_SUFFIX = "__modelport_debug"
# ONNX element types the programs cannot print, and the type each is widened to (exactly).
WIDEN = {onnx.TensorProto.BOOL: onnx.TensorProto.INT64, onnx.TensorProto.INT32: onnx.TensorProto.INT64,
         onnx.TensorProto.INT16: onnx.TensorProto.INT64, onnx.TensorProto.INT8: onnx.TensorProto.INT64,
         onnx.TensorProto.UINT8: onnx.TensorProto.INT64, onnx.TensorProto.UINT16: onnx.TensorProto.INT64,
         onnx.TensorProto.UINT32: onnx.TensorProto.INT64, onnx.TensorProto.FLOAT16: onnx.TensorProto.FLOAT}
ORT_TYPES = {"tensor(float)": onnx.TensorProto.FLOAT, "tensor(double)": onnx.TensorProto.DOUBLE,
             "tensor(int64)": onnx.TensorProto.INT64, "tensor(string)": onnx.TensorProto.STRING,
             "tensor(bool)": onnx.TensorProto.BOOL, "tensor(int32)": onnx.TensorProto.INT32,
             "tensor(int16)": onnx.TensorProto.INT16, "tensor(int8)": onnx.TensorProto.INT8,
             "tensor(uint8)": onnx.TensorProto.UINT8, "tensor(uint16)": onnx.TensorProto.UINT16,
             "tensor(uint32)": onnx.TensorProto.UINT32, "tensor(float16)": onnx.TensorProto.FLOAT16}


def failing_rows(report, target: str) -> np.ndarray:
    """Rows (indices) where a check of `target` fails, ties excused."""
    bad = None
    for check, rows in zip(report.checks, report.details):
        if check["target"] != target or check["passed"] or rows is None:
            continue
        b = (rows["ratio"] > 1) & ~rows["tie"]
        bad = b if bad is None else bad | b
    return np.flatnonzero(bad) if bad is not None else np.array([], dtype=np.int64)


def _subset(feed: dict, rows: np.ndarray) -> dict:
    return {k: v[rows] for k, v in feed.items()}


def _ort(proto: onnx.ModelProto, feed: dict, outputs=None) -> dict:
    s = session(proto.SerializeToString())
    names = outputs or [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, feed)))


def _differs(kind: str, got, want, precision: str) -> tuple:
    """(whether they differ, largest error, first differing row) of two [n, ...] arrays."""
    got, want = np.asarray(got), np.asarray(want)
    n = len(want)
    g, w = got.reshape(n, -1), want.reshape(n, -1)
    if g.shape != w.shape:
        return True, float("inf"), 0
    if g.dtype == object or w.dtype == object:
        bad = (g.astype(str) != w.astype(str)).any(axis=1)
        return bool(bad.any()), float("inf") if bad.any() else 0.0, int(np.argmax(bad)) if bad.any() else -1
    res, rows = compare_rows(kind, g.astype(np.float64), w.astype(np.float64), None, precision)
    if rows is None:
        return not res["passed"], float("inf"), 0
    bad = rows["ratio"] > 1
    return bool(bad.any()), float(rows["error"].max(initial=0.0)), int(np.argmax(bad)) if bad.any() else -1


def _precision(arr) -> str:
    return "float64" if np.asarray(arr).dtype == np.float64 else "float32"


def _first_difference(got: dict, want: dict, kinds: dict):
    """(output, largest error, row) of the first output that differs, or None."""
    for t, kind in kinds.items():
        if t in got and t in want:
            diff, err, row = _differs(kind, got[t], want[t], _precision(want[t]))
            if diff:
                return t, err, row
    return None


def conversion_stage(reference: dict, converted: onnx.ModelProto, feed: dict, kinds: dict) -> dict:
    """The original model against ONNX Runtime on the graph as converted (before any pass)."""
    found = _first_difference(_ort(converted, feed), reference, kinds)
    if found:
        t, err, row = found
        return {"stage": "onnx conversion", "agrees": False, "output": t, "max_abs_error": err, "row": row,
                "detail": f"ONNX Runtime on the converted graph differs from the original model on output "
                          f"{t!r} (largest error {err:.3g})"}
    return {"stage": "onnx conversion", "agrees": True}


WHAT = {"onnx conversion": "the original model against ONNX Runtime on the converted graph",
        "graph passes": "ONNX Runtime before and after each graph pass",
        "lowered kernels": "a debug build of the generated code, every intermediate tensor against ONNX Runtime's",
        "built artifact": "the artifact against ONNX Runtime, where the debug build agrees"}


def passes_stage(converted: onnx.ModelProto, feed: dict, kinds: dict, passes: list) -> dict:
    """ONNX Runtime after each rewrite of the converted graph against before it; names the
    first that changes an output."""
    before_proto = converted
    before = _ort(before_proto, feed)
    for p in passes:
        after_proto = p(before_proto)
        if after_proto is before_proto:
            continue
        after = _ort(after_proto, feed)
        found = _first_difference(after, before, kinds)
        if found:
            t, err, row = found
            name = f"{p.__module__.rsplit('.', 1)[-1]}.{p.__name__}"
            return {"stage": "graph passes", "agrees": False, "pass": name, "output": t, "max_abs_error": err,
                    "row": row, "detail": f"the graph pass {name} changes output {t!r} (largest error {err:.3g})"}
        before_proto, before = after_proto, after
    return {"stage": "graph passes", "agrees": True}


def debug_model(proto: onnx.ModelProto, feed: dict) -> tuple:
    """(model, [(node, tensor, debug output name)]): `proto` with every batched intermediate
    tensor also an output, widened to a type the programs print (bool and small integers to
    int64, float16 to float32)."""
    m = copy.deepcopy(proto)
    g = m.graph
    outputs = {o.name for o in g.output}
    initializers = {i.name for i in g.initializer}
    probe = copy.deepcopy(m)
    candidates = [(n, o) for n in g.node for o in n.output if o and o not in outputs and o not in initializers]
    for _, o in candidates:
        probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(o))
    s = session(probe.SerializeToString())
    types = {o.name: o.type for o in s.get_outputs()}
    values = dict(zip([o.name for o in s.get_outputs()], s.run(None, feed)))
    n = len(next(iter(feed.values())))
    listed = []
    for node, o in candidates:
        v = values.get(o)
        t = ORT_TYPES.get(types.get(o, ""))
        if v is None or t is None or not isinstance(v, np.ndarray) or v.ndim == 0 or v.shape[0] != n:
            continue  # not a per-row tensor (a sequence, a map, a constant)
        if int(np.prod(v.shape[1:], dtype=np.int64)) > MAX_TENSOR_ELEMENTS:
            continue
        name = o
        if t in WIDEN:
            name = o + DEBUG_SUFFIX
            g.node.append(onnx.helper.make_node("Cast", [o], [name], to=WIDEN[t], name=name))
            g.output.append(onnx.helper.make_tensor_value_info(name, WIDEN[t], None))
        else:
            g.output.append(onnx.helper.make_tensor_value_info(o, t, None))
        listed.append((node, o, name))
    return m, listed


def kernels_stage(proto: onnx.ModelProto, feed: dict, table: dict, schema, target: str, name: str,
                  kinds: dict, progress=None) -> dict:
    """A debug build of the generated code (`target`: cpp or java) whose outputs include every
    intermediate tensor, against ONNX Runtime's, node by node in graph order."""
    from .. import ir
    from ..lower import lower
    from ..schema import Column, Schema
    from .runners import table_to_csv

    dbg, listed = debug_model(proto, feed)
    graph = ir.build_graph(dbg)
    outputs = list(schema.outputs)
    for _, _, t in listed:
        size = graph.tensors[t].size
        outputs += [Column(f"{t}_{i}", t, i, "string" if graph.tensors[t].dtype == "str" else "value")
                    for i in range(size)]
    dschema = Schema(schema.inputs, outputs, schema.task, schema.classes)
    program = lower(graph, name)
    from ..backends import target_module
    mod = target_module(target)
    if progress:
        progress(f"locating the mismatch: a debug build ({target}) with {len(listed)} intermediate tensors")
    with tempfile.TemporaryDirectory(prefix="modelport-debug-") as tmp:
        d = Path(tmp) / target
        mod.emit(d, program=program, schema=dschema, name=name, description="debug build", banner="debug build",
                 proto=dbg, graph=graph)
        from ..backends.naming import identifier
        ns = identifier(name)
        cmd = [str(d / "bin" / ns)] if target == "cpp" else ["java", "-jar", str(d / f"{ns}.jar")]
        proc = subprocess.run(cmd, input=table_to_csv(table, schema), capture_output=True, text=True)
    if proc.returncode != 0:
        return {"stage": "lowered kernels", "agrees": False, "detail": f"the debug build failed: {proc.stderr[:500]}"}
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    header, body = rows[0], rows[1:]
    col = {h: j for j, h in enumerate(header)}
    ort = _ort(dbg, feed, [t for _, _, t in listed])
    for node, tensor, t in listed:
        want = ort[t].reshape(len(body), -1)
        is_str = want.dtype == object
        got = np.array([[r[col[f"{t}_{i}"]] for i in range(want.shape[1])] for r in body],
                       dtype=object if is_str else np.float64)
        diff, err, row = _differs("value", got, want, _precision(want))
        if diff:
            return {"stage": "lowered kernels", "agrees": False, "node": node.name, "op": node.op_type,
                    "domain": node.domain or "ai.onnx", "tensor": tensor, "max_abs_error": err, "row": row,
                    "detail": f"node {node.name!r} ({node.op_type}) computes {tensor!r} differently from ONNX "
                              f"Runtime (largest error {err:.3g}); every node before it agrees"}
    return {"stage": "lowered kernels", "agrees": True, "compared": len(listed)}


def _load_stage(proto: onnx.ModelProto) -> onnx.ModelProto:
    """The compiler's first rewrite of a converted graph (checks, constant folding): ir.load."""
    from .. import ir
    return ir.load(copy.deepcopy(proto))


_load_stage.__module__ = "modelport.ir"
_load_stage.__name__ = "load"


def locate(report, *, proto, table: dict, feed: dict, reference: dict | None, schema, kinds: dict, name: str,
           source=None, progress=None) -> dict | None:
    """The first stage that disagrees, for the first failing artifact of `report` (None when
    every check passes). `proto` is the graph the artifacts were built from (model.onnx),
    `source` the loaded original model when there is one (its converted graph and reference)."""
    from ..passes import PASSES
    failing = [c for c in report.checks if not c["passed"]]
    if not failing:
        return None
    ir_fails = any(c["target"] == "onnx-ir" for c in failing)
    target = "onnx-ir" if ir_fails else failing[0]["target"]
    rows = failing_rows(report, target)[:DEBUG_ROWS]
    if not len(rows):
        rows = np.arange(min(DEBUG_ROWS, len(next(iter(feed.values())))))
    sub_feed = _subset(feed, rows)
    sub_table = {k: np.asarray(v)[rows] for k, v in table.items()}
    result = {"target": target, "rows": rows.tolist(), "stages": []}

    def add(stage: dict):
        stage.setdefault("what", WHAT.get(stage["stage"], ""))
        result["stages"].append(stage)

    def done(stage: dict) -> dict:
        add(stage)
        for k in ("stage", "detail", "node", "op", "domain", "tensor", "pass", "output", "max_abs_error"):
            if k in stage:
                result[k] = stage[k]
        if "row" in stage and stage["row"] >= 0:
            result["row"] = int(rows[stage["row"]])
        return result

    converted = getattr(source, "onnx", None) if source is not None else None
    if converted is not None and reference is not None:
        ref = {k: np.asarray(v)[rows] for k, v in reference.items()}
        try:
            stage = conversion_stage(ref, converted, sub_feed, kinds)
        except Exception as exc:  # noqa: BLE001 - a graph ONNX Runtime cannot run is itself the finding
            stage = {"stage": "onnx conversion", "agrees": False, "detail": f"ONNX Runtime cannot run it: {exc}"}
        if not stage["agrees"]:
            return done(stage)
        add(stage)
        stage = passes_stage(converted, sub_feed, kinds, [_load_stage, *PASSES])
        if not stage["agrees"]:
            return done(stage)
        add(stage)
    else:
        add({"stage": "onnx conversion", "agrees": None,
                                 "detail": "not checked: the original model is not loaded (it is when compiling, "
                                           "and in `check --data` when its file is where the manifest says)"})
    if ir_fails:
        return done({"stage": "graph passes" if converted is not None else "onnx conversion or graph passes",
                     "agrees": False, "detail": "ONNX Runtime on model.onnx differs from the original model"})
    if target not in ("cpp", "java"):
        return done({"stage": "built artifact", "agrees": False,
                     "detail": f"the {target} artifact differs from ONNX Runtime on model.onnx (no debug build for "
                               f"{target}: build the cpp or java target to locate the node)"})
    try:
        stage = kernels_stage(proto, sub_feed, sub_table, schema, target, name, kinds, progress)
    except Exception as exc:  # noqa: BLE001 - say why the search stopped rather than fail the report
        stage = {"stage": "lowered kernels", "agrees": None, "detail": f"the debug build could not run: {exc}"}
    if stage["agrees"] is False:
        return done(stage)
    add(stage)
    return done({"stage": "built artifact", "agrees": False,
                 "detail": f"a debug build of the same kernels agrees with ONNX Runtime on every intermediate "
                           f"tensor, the {target} artifact does not: its runtime, build or packaging differs"})
