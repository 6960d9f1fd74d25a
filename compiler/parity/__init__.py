"""Parity: the original model, ONNX Runtime on the IR, and every built artifact, on the same rows."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import onnx

from ..backends import tvm_front
from ..backends.naming import identifier
from ..schema import Schema
from . import html
from . import inputs as inputs_mod
from .compare import compare, compare_rows
from .report import ParityReport
from .runners import run_jar, run_library, run_onnxruntime, run_program, table_to_csv

STORED_INPUTS = "parity/inputs.csv"
STORED_REFERENCE = "parity/reference.npz"
STORED_CLASSES = "parity/row_classes.json"  # {class: [row indices]}: what each stored row exercises


def _as2d(v) -> np.ndarray:
    v = np.asarray(v)
    return v.reshape(len(v), -1)


def _sizes_and_dtypes(schema: Schema, proto):
    from ..ir import DTYPE_OF_NUMPY, NUMPY_OF_ELEM
    sizes = {}
    for c in schema.outputs:
        sizes[c.tensor] = max(sizes.get(c.tensor, 0), c.offset + 1)
    dtypes = {}
    for o in proto.graph.output:
        np_t = NUMPY_OF_ELEM.get(o.type.tensor_type.elem_type, np.float32)
        dtypes[o.name] = DTYPE_OF_NUMPY[np.dtype(np_t)]
    return sizes, dtypes


def precisions(proto) -> dict:
    """{output tensor: "float64" | "float32"}: the precision each output is computed in (a
    double output, or a label or index decided from double scores, is float64)."""
    out = {o.name: ("float64" if o.type.tensor_type.elem_type == onnx.TensorProto.DOUBLE else "float32")
           for o in proto.graph.output}
    floats = [o for o in proto.graph.output if o.type.tensor_type.elem_type in
              (onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT)]
    model = "float64" if floats and all(out[o.name] == "float64" for o in floats) else "float32"
    for o in proto.graph.output:
        if o not in floats:
            out[o.name] = model
    return out


def _kinds(schema: Schema) -> dict:
    kinds = {}
    for c in schema.outputs:
        kinds[c.tensor] = c.kind
    return kinds


def _runners(directory: Path, manifest: dict, schema: Schema, proto):
    """(target, runner name, fn(table) -> outputs) for every built artifact."""
    name = identifier(manifest["name"])
    numeric = all(c.kind != "string" for c in schema.inputs)
    out = []
    targets = manifest["targets"]
    sizes, dtypes = _sizes_and_dtypes(schema, proto)
    float_out = all(dtypes[t] != "str" for t in sizes)
    batch = manifest.get("fixed_batch")
    if "onnx" in targets:
        out.append(("onnx", "onnxruntime", lambda table, feed: run_onnxruntime(directory / "onnx" / f"{name}.onnx",
                                                                               feed, batch)))
    if "cpp" in targets:
        exe = directory / "cpp" / "bin" / name
        out.append(("cpp", "program", lambda table, feed: run_program([str(exe)], table, schema, sizes, dtypes)))
        if numeric and float_out:
            lib = directory / "cpp" / f"lib{name}.so"
            out.append(("cpp", "library", lambda table, feed: run_library(lib, name, table, schema, sizes)))
    if "java" in targets:
        jar = directory / "java" / f"{name}.jar"
        out.append(("java", "jar", lambda table, feed: run_jar(jar, table, schema, sizes, dtypes)))
    for target in ("tvm-llvm", "tvm-cuda"):
        if target in targets:
            out += _tvm_runners(directory / target, target, targets[target], name, schema, sizes, dtypes,
                                numeric and float_out, batch)
    return out


def _tvm_runners(folder: Path, target: str, info: dict, name: str, schema: Schema, sizes, dtypes, numeric,
                 batch=None):
    """ONNX Runtime on the graph prepared for TVM, the stub's CSV program and its C ABI.
    CUDA artifacts need a GPU: without one they are reported as not run, with the reason."""
    labels = info.get("label_classes", {})

    def prepared(table, feed):
        front = folder / tvm_front.FRONT  # string columns: the stub's front first
        outs = run_onnxruntime(folder / "prepared.onnx", tvm_front.rest_feed(front, feed) if front.exists() else feed,
                               batch)
        for t, classes in labels.items():
            outs[t] = np.asarray(classes, dtype=object)[outs[t].astype(np.int64)]
        return outs

    out = [(target, "prepared-onnx", prepared)]
    if target == "tvm-cuda":
        from .gpu import cuda_available
        ok, why = cuda_available()
        if not ok:
            return out + [(target, runner, SkipRunner(why)) for runner in ("program", "library", "jar")]
    exe = folder / "bin" / name
    out.append((target, "program", lambda table, feed: run_program([str(exe)], table, schema, sizes, dtypes)))
    if numeric:
        lib = folder / f"lib{name}.so"
        out.append((target, "library", lambda table, feed: run_library(lib, name, table, schema, sizes,
                                                                       isolated=True)))
    jar = folder / "java" / f"{name}.jar"
    if jar.exists():
        out.append((target, "jar", lambda table, feed: run_jar(jar, table, schema, sizes, dtypes)))
    return out


class SkipRunner:
    """A runner that cannot run on this machine; the report shows it as not run, and why."""

    def __init__(self, reason: str):
        self.reason = reason


def _read_stored_inputs(directory: Path, schema: Schema) -> dict:
    return inputs_mod.read_data(directory / STORED_INPUTS, schema)


def _store(directory: Path, table: dict, schema: Schema, reference: dict, classes: dict):
    (directory / "parity").mkdir(exist_ok=True)
    (directory / STORED_INPUTS).write_text(table_to_csv(table, schema))
    (directory / STORED_CLASSES).write_text(json.dumps(inputs_mod.classes_to_json(classes)) + "\n")
    arrays = {k: (v.astype(str) if v.dtype == object else v) for k, v in reference.items()}
    np.savez(directory / STORED_REFERENCE, **arrays)


MAX_GENERATED_VALUES = 2_000_000  # generated rows x input columns (images have 150k columns)


def run_parity(directory, source=None, data=None, progress=None, rows: int = 256,
               trust_pickle: bool = False) -> ParityReport:
    directory = Path(directory)
    if "matplotlib.figure" not in sys.modules:
        html.preload()
    manifest = json.loads((directory / "manifest.json").read_text())
    schema = Schema.from_dict(manifest["schema"])
    rows = min(rows, max(8, MAX_GENERATED_VALUES // max(1, len(schema.inputs))))
    proto = onnx.load(str(directory / "model.onnx"))
    reference, ref_desc = None, None
    classes = None
    prov = manifest["source"]
    framework = f"{prov.get('framework')} {prov.get('framework_version', '')}".strip()
    if data is not None:
        table, data_desc = inputs_mod.read_data(data, schema), str(data)
        original = prov.get("source_file")
        if prov.get("recipe_file") and prov.get("model_file"):  # an R model with its recipe: the pair
            original = (prov["recipe_file"], prov["model_file"])
        files = original if isinstance(original, tuple) else (original,) if original else ()
        if source is None and files and all(Path(f).exists() for f in files):
            from ..frontends import load_source
            if progress:
                progress(f"reloading the original model from {' and '.join(files)}")
            source = load_source(original, manifest["name"], trust_pickle, prov.get("precision_option"),
                                 **prov.get("shape_options", {}))
    elif source is not None:
        table = inputs_mod.generate(schema, proto, rows, samples=source.hints.get("samples"),
                                    thresholds=source.hints.get("thresholds"))
        table, note = _maybe_missing(table, schema, source, proto)
        table, unseen = _maybe_unseen(table, schema, source, proto)
        note = "; ".join(n for n in (note, unseen) if n)
        data_desc = f"{len(next(iter(table.values())))} rows generated from the model" + (f"; {note}" if note else "")
    elif (directory / STORED_INPUTS).exists():
        table, data_desc = _read_stored_inputs(directory, schema), "the rows stored at compile time"
        if (directory / STORED_CLASSES).exists():
            classes = inputs_mod.classes_from_json(json.loads((directory / STORED_CLASSES).read_text()),
                                                   len(next(iter(table.values()))))
        stored = np.load(directory / STORED_REFERENCE, allow_pickle=False)
        reference = {k: _as2d(stored[k]) for k in stored.files}
        ref_desc = f"{framework} (stored at compile time)"
    else:
        table = inputs_mod.generate(schema, proto, rows)
        data_desc = f"{rows} rows generated from the model"
    feed = inputs_mod.to_feed(table, schema, proto)
    tie_rows = None
    if source is not None and source.reference is not None:
        # The original sees the values as the user has them (float64), never rounded.
        ref_feed = inputs_mod.to_feed(table, schema, proto, float64=source.reference_float64)
        reference = {k: _as2d(v) for k, v in source.reference(ref_feed).items()}
        if source.hints.get("tie_rows"):
            tie_rows = source.hints["tie_rows"](ref_feed)
        ref_desc = f"{framework} predict()"
    if tie_rows is None and classes is not None and "tie" in classes:
        tie_rows = classes["tie"]  # decided by the original model at compile time
    if classes is None:
        hints = source.hints if source is not None else {}
        classes = inputs_mod.row_classes(table, schema, proto, hints.get("thresholds"), hints.get("samples"),
                                         tie_rows)
    if source is not None and source.reference is not None and data is None:
        _store(directory, table, schema, reference, classes)
    ort = {k: _as2d(v) for k, v in run_onnxruntime(directory / "model.onnx", feed,
                                                   manifest.get("fixed_batch")).items()}
    if reference is None:
        ref_desc = "ONNX Runtime on model.onnx (the original model is not available)"
    n = len(next(iter(table.values())))
    report = ParityReport(manifest["name"], n, data_desc, ref_desc,
                          precision=manifest.get("precision", {}).get("model", "float32"))
    kinds = _kinds(schema)
    precision = precisions(proto)
    scores_name = next((t for t, kd in kinds.items() if kd in ("probability", "value") and kinds.get("label")), None)

    def add(target, runner, outputs, against, expected):
        for tname, kind in kinds.items():
            scores = expected.get(scores_name) if scores_name else None
            got, want = _as2d(outputs[tname]), _as2d(expected[tname])
            res, per_row = compare_rows(kind, got, want, scores, precision[tname], tie_rows)
            report.checks.append({"target": target, "runner": runner, "output": tname, "kind": kind,
                                  "against": against, **res})
            report.details.append(per_row and {**per_row, "got": got, "expected": want,
                                               "scores": _as2d(scores) if scores is not None else None})

    if reference is not None:
        add("onnx-ir", "onnxruntime", ort, "reference", reference)
    for target, runner, fn in _runners(directory, manifest, schema, proto):
        if isinstance(fn, SkipRunner):
            report.skipped.append({"target": target, "runner": runner, "reason": fn.reason})
            continue
        if progress:
            progress(f"parity: running {target} ({runner})")
        try:
            outputs = fn(table, feed)
        except Exception as exc:  # a crash of a built artifact is a parity failure, reported
            report.errors.append({"target": target, "runner": runner, "error": str(exc)})
            continue
        if reference is not None:
            add(target, runner, outputs, "reference", reference)
        add(target, runner, outputs, "onnxruntime", ort)
    _add_ties(report, classes)
    report.inputs, report.schema, report.classes = table, schema, classes
    if not report.passed and report.checks:
        from .stages import locate
        if progress:
            progress("parity fails: locating the stage where the mismatch starts")
        try:
            report.mismatch = locate(report, proto=proto, table=table, feed=feed, reference=reference, schema=schema,
                                     kinds=kinds, name=manifest["name"], source=source, progress=progress)
        except Exception as exc:  # noqa: BLE001 - the report is written whatever the search finds
            report.mismatch = {"target": None, "stage": None, "detail": f"the search stopped: {exc}", "stages": []}
    report.write(directory)
    return report


def _add_ties(report: ParityReport, classes: dict):
    """Rows excused as ties by any check (a label whose top two scores tie) join the class "tie"."""
    ties = [d["tie"] for d in report.details if d is not None and d["tie"].any()]
    if ties:
        classes["tie"] = np.any([classes["tie"], *ties] if "tie" in classes else ties, axis=0)


def _maybe_missing(table, schema, source, proto):
    """Add rows with missing values when the original model accepts them and its ONNX
    conversion reproduces what it does with them (some converters ignore learned
    missing-value directions; those models are checked without missing values)."""
    if all(c.kind == "string" for c in schema.inputs):
        return table, None
    if source.hints.get("missing") is False:
        # Neural networks have no notion of a missing value: NaN only shows how each
        # runtime's Relu/Max treats it, which differs (TVM gives 0 where PyTorch gives NaN).
        return table, "no missing values (not meaningful for this model)"
    missing = inputs_mod.with_missing(table, schema)
    feed = inputs_mod.to_feed(missing, schema, proto)
    try:
        ref = source.reference(inputs_mod.to_feed(missing, schema, proto, float64=source.reference_float64))
    except Exception:
        return table, "the original model rejects missing values"
    kinds = _kinds(schema)
    if any(_has_na(ref[t]) for t, kd in kinds.items() if kd == "label" and t in ref):
        return table, "missing values not checked: the original model gives no class (NA) for them"
    ort = run_onnxruntime(proto, feed)
    scores = next((ref[t] for t, kd in kinds.items() if kd != "label"), None)
    precision = precisions(proto)
    for t, kind in kinds.items():
        if not compare(kind, _as2d(ort[t]), _as2d(ref[t]), _as2d(scores) if scores is not None else None,
                       precision[t])["passed"]:
            return table, ("missing values not checked: the ONNX conversion does not reproduce "
                           "what the original model does with them")
    half = len(next(iter(table.values()))) // 2
    return {c: np.concatenate([table[c][:half], missing[c][half:]]) for c in table}, \
        "missing values included"


def _maybe_unseen(table, schema, source, proto):
    """Give string columns empty (missing) cells and, open ones, levels the model never saw,
    when the original model accepts them (scikit-learn's OneHotEncoder(handle_unknown="error")
    does not). Whatever the original does with them, every artifact must do too."""
    strings = [c for c in schema.inputs if c.kind == "string"]
    if not strings:
        return table, None
    what = "unseen and empty levels" if any(not c.closed for c in strings) else "empty levels"
    unseen = inputs_mod.with_unseen(table, schema)
    try:
        ref = source.reference(inputs_mod.to_feed(unseen, schema, proto, float64=source.reference_float64))
    except Exception:
        return table, f"{what} not checked: the original model rejects them"
    kinds = _kinds(schema)
    if any(_has_na(ref[t]) for t, kd in kinds.items() if kd == "label" and t in ref):
        return table, f"{what} not checked: the original model gives no class (NA) for them"
    return unseen, f"{what} included"


def _has_na(values) -> bool:
    arr = np.asarray(values)
    if arr.dtype == object:
        return any(v is None or (isinstance(v, float) and np.isnan(v)) for v in arr.reshape(-1))
    return arr.dtype.kind == "f" and bool(np.isnan(arr).any())
