"""Run each built artifact for real on the parity inputs: the C++ program and shared library,
the Java jar, ONNX Runtime. Each returns {output tensor: array [n, row_size]}."""
from __future__ import annotations

import csv
import ctypes
import io
import subprocess
from pathlib import Path

import numpy as np

from ..ort_session import session
from ..schema import Schema

STRING_KINDS = ("string",)


def _number(x) -> str:
    """A CSV field for a number: integral values without a fraction, so that integer
    (int64) columns parse too; others as the exact double (repr reads back to it; the programs
    parse to double and narrow where a tensor is float32, as numpy does)."""
    x = float(x)
    if np.isnan(x):
        return "NaN"
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 2**53:
        return ("-0" if np.signbit(x) else "0") if x == 0 else str(int(x))
    return repr(x)


def table_to_csv(table: dict, schema: Schema) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([c.name for c in schema.inputs])
    n = len(next(iter(table.values())))
    cols = []
    for c in schema.inputs:
        v = table[c.name]
        if c.kind == "string":
            cols.append([str(x) for x in v])
        else:
            cols.append([_number(x) for x in v])
    for i in range(n):
        w.writerow([col[i] for col in cols])
    return buf.getvalue()


def csv_to_outputs(text: str, schema: Schema, sizes: dict, dtypes: dict) -> dict:
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    want = [c.name for c in schema.outputs]
    if header != want:
        raise RuntimeError(f"program wrote header {header}, expected {want}")
    out = {}
    for t, size in sizes.items():
        is_str = dtypes[t] == "str"
        out[t] = np.empty((len(body), size), dtype=object if is_str else np.float64)
    for j, c in enumerate(schema.outputs):
        col = [r[j] for r in body]
        out[c.tensor][:, c.offset] = col if dtypes[c.tensor] == "str" else [float(x) for x in col]
    return out


def run_program(cmd: list, table: dict, schema: Schema, sizes: dict, dtypes: dict, cwd=None) -> dict:
    proc = subprocess.run(cmd, input=table_to_csv(table, schema), capture_output=True, text=True, timeout=600,
                          cwd=cwd)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    return csv_to_outputs(proc.stdout, schema, sizes, dtypes)


def run_jar(jar: Path, table: dict, schema: Schema, sizes: dict, dtypes: dict) -> dict:
    """`java -jar` from the jar's folder: Java reads a ':' in the jar's path as a class path
    separator (an output folder named after a time of day would break the path)."""
    return run_program(["java", "-jar", jar.name], table, schema, sizes, dtypes, cwd=jar.parent)


ABI = {"f64": ("_predict_f64", np.float64), "f32": ("_predict", np.float32)}


def run_library(lib: Path, name: str, table: dict, schema: Schema, sizes: dict, isolated: bool = False,
                abi: str = "f64") -> dict:
    """Call the C ABI through ctypes (in a child process when `isolated`): `abi` "f64" is
    `<name>_predict_f64` on the table's float64 values (float64 tensors exact, float32 ones
    narrowed by the library), "f32" is `<name>_predict` on the values rounded to float32 here."""
    suffix, dtype = ABI[abi]
    n = len(next(iter(table.values())))
    with np.errstate(over="ignore"):  # beyond float32's range: +-inf, as the C++ cast gives
        x = np.ascontiguousarray(np.stack([np.asarray(table[c.name], dtype=np.float64) for c in schema.inputs],
                                          axis=1).astype(dtype))
    if isolated:
        from .isolated_library import call
        y = call(lib, name, x, len(schema.outputs))
    else:
        dll = ctypes.CDLL(str(lib))
        fn = getattr(dll, f"{name}{suffix}")
        fn.restype = ctypes.c_int
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
        y = np.zeros((n, len(schema.outputs)), dtype=dtype)
        rc = fn(x.ctypes.data, n, y.ctypes.data)
        if rc != 0:
            why = getattr(dll, f"{name}_last_error", None)
            if why is not None:
                why.restype = ctypes.c_char_p
            raise RuntimeError(f"{name}{suffix} returned {rc}" + (f": {why().decode(errors='replace')}" if why else ""))
    out = {t: np.empty((n, s), dtype=np.float64) for t, s in sizes.items()}
    for j, c in enumerate(schema.outputs):
        out[c.tensor][:, c.offset] = y[:, j]
    return out


def _chunked(sess, names, feed, batch) -> list:
    n = len(next(iter(feed.values())))
    parts = []
    for r0 in range(0, n, batch):
        chunk = {}
        for k, v in feed.items():
            part = v[r0:r0 + batch]
            if len(part) < batch:
                pad = np.zeros((batch - len(part),) + part.shape[1:], dtype=part.dtype)
                part = np.concatenate([part, pad])
            chunk[k] = part
        m = min(batch, n - r0)
        parts.append([np.asarray(v)[:m] for v in sess.run(names, chunk)])
    return [np.concatenate([p[i] for p in parts]) for i in range(len(names))]


def run_onnxruntime(model, feed: dict, batch: int | None = None) -> dict:
    """`model`: a path or an onnx.ModelProto. `batch`: the model's fixed batch size, if any
    (rows then go in chunks of that size, the last one padded with zero rows)."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = session(model if hasattr(model, "SerializeToString") else Path(model).read_bytes(), opts)
    names = [o.name for o in sess.get_outputs()]
    if batch:
        values = _chunked(sess, names, feed, batch)
    else:
        values = sess.run(names, feed)
    out = {}
    for name, v in zip(names, values):
        v = np.asarray(v)
        out[name] = v.reshape(len(v), -1) if v.ndim != 2 else v
    return out
