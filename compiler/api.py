"""The Python API: compile, convert, check."""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

from . import __version__, ir
from .backends import TARGETS, onnx_model, target_module
from .errors import ModelportError, UnsupportedError, UsageError
from .lower import lower
from .passes import run_passes
from .schema import Column, Schema
from .verify import hash_files

DEFAULT_TARGETS = ("cpp", "java")
# For graphs the C++/Java kernels do not cover (convolutions, recurrent layers, attention).
DEFAULT_DEEP_TARGETS = ("tvm-llvm", "onnx")


def _say(progress, msg):
    if progress:
        progress(msg)


def convert(model, name: str | None = None, trust_pickle: bool = False, precision: str | None = None,
            **shape_options) -> onnx.ModelProto:
    """The model as ONNX (the same graph `compile` builds from). `shape_options`:
    example_inputs, input_shapes, input_dtypes (see frontends.SHAPE_OPTIONS)."""
    from .frontends import load_source
    return load_source(model, name, trust_pickle, precision, **shape_options).onnx


def fit_schema(schema: Schema, graph: ir.Graph) -> Schema:
    """Make output columns match the measured row sizes (frontends may not know them)."""
    outputs = []
    for tname in graph.outputs:
        size = graph.tensors[tname].size
        cols = [c for c in schema.outputs if c.tensor == tname]
        if len(cols) != size:
            stem = cols[0].name.rsplit("_", 1)[0] if cols else tname
            kind = cols[0].kind if cols else "value"
            cols = [Column(stem, tname, 0, kind)] if size == 1 else [
                Column(f"{stem}_{i}", tname, i, kind) for i in range(size)]
        outputs.extend(cols)
    return Schema(schema.inputs, outputs, schema.task, schema.classes)


def _levels_text(c: Column, most: int = 50) -> str:
    """' (levels: a, b)' for a column with known levels, at most `most` of them listed."""
    if not c.levels:
        return ""
    shown = ", ".join(str(v) for v in c.levels[:most])
    if len(c.levels) > most:
        shown += f", ... ({len(c.levels)} levels)"
    return f" (levels: {shown}; other values are rejected)" if c.closed else f" (levels: {shown})"


def _column_lines(cols: list, most: int = 8) -> list:
    """One line per column; a tensor with more than `most` plain columns in one line."""
    lines, i = [], 0
    while i < len(cols):
        c = cols[i]
        j = i
        while j + 1 < len(cols) and cols[j + 1].tensor == c.tensor and cols[j + 1].kind == c.kind \
                and not cols[j + 1].levels and not c.levels:
            j += 1
        if j - i + 1 > most:
            lines.append(f"  {c.name} ... {cols[j].name}: {c.kind} ({j - i + 1} columns of tensor {c.tensor})")
            i = j + 1
            continue
        lines.append(f"  {c.name}: {c.kind}" + _levels_text(c))
        i += 1
    return lines


def precision_info(source, proto) -> dict:
    """What the manifest and `inspect` say of precision: the model's, why, and the element
    type of each input and output tensor."""
    from .ir import NUMPY_OF_ELEM
    inits = {i.name for i in proto.graph.initializer}

    def dtypes(values):
        return {v.name: str(np.dtype(NUMPY_OF_ELEM.get(v.type.tensor_type.elem_type, np.float32))).replace(
            "object", "string") for v in values if v.name not in inits}
    return {"model": source.precision, "why": source.precision_reason,
            "inputs": dtypes(proto.graph.input), "outputs": dtypes(proto.graph.output)}


def describe(name: str, schema: Schema, provenance: dict, precision: dict | None = None) -> str:
    lines = [f"model: {name}", f"task: {schema.task}"]
    if provenance.get("estimator"):
        lines.append(f"source: {provenance['framework']} {provenance.get('framework_version', '')} "
                     f"{provenance['estimator']}")
    if precision:
        lines.append(f"precision: {precision['model']}" + (f" ({precision['why']})" if precision.get("why") else ""))
    lines.append("inputs (CSV columns):")
    lines += _column_lines(schema.inputs)
    lines.append("outputs (CSV columns):")
    lines += _column_lines(schema.outputs)
    if schema.classes:
        lines.append("classes: " + ", ".join(str(c) for c in schema.classes))
    return "\n".join(lines)


def parse_targets(targets) -> list:
    if isinstance(targets, str):
        targets = [t.strip() for t in targets.split(",") if t.strip()]
    targets = list(dict.fromkeys(targets))
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        raise UsageError(f"unknown target(s) {', '.join(unknown) or '(none)'}; available: {', '.join(TARGETS)}")
    return targets


def compile(model, targets=None, out=None, data=None, name: str | None = None,
            trust_pickle: bool = False, progress=None, rows: int = 256, tune: float = 0,
            cuda_arch: str | None = None, batch: int | None = None, precision: str | None = None,
            **shape_options) -> dict:
    """Compile `model` for `targets` into the directory `out`; return the manifest.

    `shape_options` tell the deep-learning frontends how to trace a model: example_inputs
    (PyTorch modules), input_shapes ({input: row shape}) and input_dtypes ({input: dtype}).
    `tune`: seconds of MetaSchedule tuning for the TVM targets (0: none; records are cached
    and reused; needs `batch`). `cuda_arch`: the GPU architectures of tvm-cuda (default
    sm_80,sm_90). `batch`: compile the TVM targets for exactly that many rows per call
    (static shapes, which tuning needs); the stubs run bigger inputs in chunks.
    `precision`: None (the default) computes in the original model's precision (double for
    R and most scikit-learn models); "float32" rounds the inputs of such models to float32
    on purpose, for speed, and the parity report shows the cost on the unrounded values.

    The directory is built in a temporary place next to `out` and moved into place only
    when complete, so a failed compile leaves nothing half-written.
    """
    from .frontends import load_source
    from .parity import run_parity

    if targets is not None:
        targets = parse_targets(targets)  # a bad target is reported before any work
    if tune and not batch:
        raise UsageError("tuning needs a fixed batch size (MetaSchedule tunes static shapes): add --batch N "
                         "(e.g. --batch 1 for single rows, or the batch your service uses)")
    t0 = time.time()
    _say(progress, "loading the model")
    source = load_source(model, name, trust_pickle, precision, **shape_options)
    name = source.name
    from .backends.naming import identifier
    name = identifier(name)
    out = Path(out or f"{name}_modelport")
    _check_out(out)
    _say(progress, "checking the ONNX graph")
    proto = run_passes(ir.load(source.onnx))
    graph, kernel_error = _graph(proto)
    targets, program = _choose_targets(targets, graph, name, progress, kernel_error)
    if graph.fixed_batch:
        if batch and batch != graph.fixed_batch:
            raise UsageError(f"the model fixes its batch size at {graph.fixed_batch} (its inputs' first "
                             f"dimension); --batch {batch} cannot change that")
        batch = graph.fixed_batch
        _say(progress, f"the model fixes its batch size at {batch}: the programs run it {batch} row(s) at a time")
    schema = fit_schema(source.schema, graph)
    for c in schema.inputs:
        # A closed column's levels are its whole domain: keep the frontend's own list when
        # the hints have none.
        c.levels = list(source.hints.get("levels", {}).get(c.name, c.levels if c.closed else []))
    precision_facts = precision_info(source, proto)
    description = describe(name, schema, source.provenance, precision_facts)
    banner = f"generated by modelport {__version__} from {name}; do not edit"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        onnx.save(proto, tmp / "model.onnx")
        built = {}
        for target in targets:
            mod = target_module(target)
            if getattr(mod, "NEEDS_PROGRAM", False) and program is None:
                _say(progress, "lowering the graph to kernels")
                program = lower(graph, name)
            _say(progress, f"generating and building {target}")
            t1 = time.time()
            built[target] = mod.emit(tmp / target, program=program, schema=schema, name=name,
                                     description=description, banner=banner, proto=proto, graph=graph,
                                     tune=tune, cuda_arch=cuda_arch, batch=batch, progress=progress)
            built[target]["seconds"] = round(time.time() - t1, 2)
        manifest = {
            "modelport_version": __version__,
            "name": name,
            "created_by": "modelport compile",
            "source": {**source.provenance, **_recorded_shapes(shape_options),
                       **({"precision_option": precision} if precision else {})},
            "precision": precision_facts,
            "onnx": {"opsets": {k or "ai.onnx": v for k, v in graph.opsets.items()},
                     "ops": sorted({(n.domain + ":" if n.domain else "") + n.op_type for n in graph.nodes}),
                     "ir_version": proto.ir_version},
            "schema": schema.to_dict(),
            "fixed_batch": graph.fixed_batch,
            "targets": built,
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        _say(progress, "checking parity")
        report = run_parity(tmp, source=source, data=data, progress=progress, rows=rows)
        manifest["parity"] = report.summary()
        manifest["seconds"] = round(time.time() - t0, 2)
        manifest["files"] = hash_files(tmp)  # what `modelport verify` rechecks
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        _move_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    manifest["out"] = str(out)
    return manifest


def _recorded_shapes(shape_options) -> dict:
    """The shape options a file model needed, kept so `check` can reload it the same way."""
    kept = {k: v for k, v in shape_options.items() if k in ("input_shapes", "input_dtypes") and v}
    return {"shape_options": kept} if kept else {}


def _graph(proto):
    """(IR graph, None), or, when the kernels' row-wise IR cannot hold the graph (values
    whose first dimension is not the batch), (a graph of its inputs and outputs, the
    reason): enough for the targets that compile the ONNX graph as a whole."""
    try:
        return ir.build_graph(proto), None
    except UnsupportedError as exc:
        return ir.build_io_graph(proto), exc


def _choose_targets(targets, graph, name, progress, kernel_error=None):
    """The requested targets, or the defaults: cpp and java when their kernels cover the
    graph, else tvm-llvm and onnx. Returns (targets, the lowered Program or None)."""
    if targets is not None:
        targets = parse_targets(targets)
        kernels = [t for t in targets if getattr(target_module(t), "NEEDS_PROGRAM", False)]
        if kernel_error is not None and kernels:
            raise UnsupportedError(f"{kernel_error}. The {' and '.join(kernels)} target(s) need that; the "
                                   "tvm-llvm, tvm-cuda and onnx targets compile this model")
        return targets, None
    if kernel_error is not None:
        _say(progress, f"the C++/Java kernels do not cover this model; targets: {', '.join(DEFAULT_DEEP_TARGETS)}")
        return list(DEFAULT_DEEP_TARGETS), None
    try:
        program = lower(graph, name)
        return list(DEFAULT_TARGETS), program
    except ModelportError as exc:
        _say(progress, f"the C++/Java kernels do not cover this model ({exc}); targets: "
                       f"{', '.join(DEFAULT_DEEP_TARGETS)}")
        return list(DEFAULT_DEEP_TARGETS), None


def _check_out(out: Path):
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").exists())):
        raise UsageError(f"output directory {out} exists and is not a modelport artifact directory; "
                         "choose another -o or remove it")


def _move_into_place(tmp: Path, out: Path):
    if out.exists():
        old = out.with_name(f".{out.name}.old-{int(time.time() * 1000)}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(out)


def check(directory, data=None, junit=None, trust_pickle: bool = False, progress=None):
    """Re-run parity on a built artifact directory; returns the ParityReport."""
    from .parity import run_parity
    directory = Path(directory)
    if not (directory / "manifest.json").exists():
        raise UsageError(f"{directory} is not a modelport artifact directory (no manifest.json)")
    report = run_parity(directory, source=None, data=data, progress=progress, trust_pickle=trust_pickle)
    if junit:
        Path(junit).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(directory / "parity.xml", junit)
    return report


def _tvm_support(proto) -> str:
    """Whether the graph prepared for TVM has only ops TVM imports (without building)."""
    try:
        from .backends import tvm_build, tvm_front
        tvm_build.prepare(tvm_front.split(proto)[1])
        return "supported"
    except ModelportError as exc:
        return f"not supported: {exc}"


def inspect(model, trust_pickle: bool = False, precision: str | None = None, **shape_options) -> dict:
    """Schema, ONNX ops and per-target support of `model`, without building anything."""
    from .frontends import load_source
    source = load_source(model, None, trust_pickle, precision, **shape_options)
    proto = run_passes(ir.load(source.onnx))
    graph, kernel_error = _graph(proto)
    schema = fit_schema(source.schema, graph)
    ops = sorted({(n.domain + ":" if n.domain else "") + n.op_type for n in graph.nodes})
    try:
        if kernel_error is not None:
            raise kernel_error
        lower(graph, source.name)
        kernel = "supported"
    except ModelportError as exc:
        kernel = f"not supported: {exc}"
    tvm = _tvm_support(proto)
    try:
        onnx_model.check(proto)
        onnx_target = "supported"
    except ModelportError as exc:
        onnx_target = f"not supported: {exc}"
    targets = {"cpp": kernel, "java": kernel, "tvm-llvm": tvm, "tvm-cuda": tvm, "onnx": onnx_target}
    facts = precision_info(source, proto)
    return {"name": source.name, "description": describe(source.name, schema, source.provenance, facts),
            "schema": schema.to_dict(), "ops": ops, "targets": targets, "source": source.provenance,
            "precision": facts}
