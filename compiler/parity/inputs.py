"""Parity inputs: the user's data file, or rows generated from the schema and from what the
model itself carries (tree thresholds and the double and float32 steps around them, training
values, scaler statistics, category levels). Numbers are float64, as a user has them: they
are never rounded before the original model or an artifact sees them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from ..errors import UsageError
from ..ir import attributes
from ..schema import Schema


def read_data(path, schema: Schema) -> dict:
    """CSV, .npy or Parquet -> {column: array}; columns checked against the schema."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    names = [c.name for c in schema.inputs]
    strings = {c.name for c in schema.inputs if c.kind == "string"}
    try:
        if suffix == ".npy":
            arr = np.load(path, allow_pickle=False)
            if arr.ndim != 2 or arr.shape[1] != len(names):
                raise UsageError(f"{path}: expected a 2-D array with {len(names)} columns "
                                 f"({', '.join(names)}), got shape {arr.shape}")
            return {n: arr[:, i] for i, n in enumerate(names)}
        import pandas as pd
        if suffix in (".parquet", ".pq"):
            # pyarrow directly: pandas would hide why pyarrow failed to load behind "no engine".
            import pyarrow.parquet as pq
            df = pq.read_table(path).to_pandas()
        elif suffix in (".csv", ".txt"):
            # pandas 3 parses decimal strings to the nearest double (the user's values exactly).
            df = pd.read_csv(path, dtype={n: str for n in strings}, keep_default_na=False,
                             na_values={n: ["", "NaN", "nan"] for n in names if n not in strings})
        else:
            raise UsageError(f"unknown data file type {suffix!r}: use .csv, .npy or .parquet")
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(f"cannot read data file {path}: {str(exc).splitlines()[0]}") from None
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise UsageError(f"data file {path} lacks the column(s) {', '.join(repr(m) for m in missing)}; "
                         f"the model's input columns are: {', '.join(repr(n) for n in names)}")
    table = {}
    for n in names:
        col = df[n]
        if n in strings:
            table[n] = np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                                 for v in col], dtype=object)
        else:
            try:
                table[n] = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64)
            except Exception:
                bad = next(v for v in col if not _is_number(v))
                raise UsageError(f"data file {path}, column {n!r}: value {bad!r} is not a number") from None
    if not len(df):
        raise UsageError(f"data file {path} has no rows")
    return table


def _is_number(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def model_hints(proto: onnx.ModelProto, schema: Schema) -> dict:
    """Per input column, values the model cares about: thresholds, offsets."""
    # For each value that is input columns side by side (an input, or one passed through
    # Cast/Identity/Reshape/Flatten, or a Concat of such along the columns): the column
    # name of each element of a row (None where an element is not a plain input column).
    by_tensor = {}
    for c in schema.inputs:
        by_tensor.setdefault(c.tensor, {})[c.offset] = c.name
    layout = {t: [cols.get(i) for i in range(max(cols) + 1)] for t, cols in by_tensor.items()}
    for node in proto.graph.node:
        if node.op_type in ("Cast", "Identity", "Reshape", "Flatten") and node.input and node.input[0] in layout:
            layout[node.output[0]] = layout[node.input[0]]
        elif node.op_type == "Concat" and all(i in layout for i in node.input) and \
                attributes(node).get("axis") in (1, -1):
            layout[node.output[0]] = [c for i in node.input for c in layout[i]]
    hints = {}

    def add(cols, f, v):
        if 0 <= f < len(cols) and cols[f] is not None:
            hints.setdefault(cols[f], []).append(float(v))
    for node in proto.graph.node:
        if not node.input or node.input[0] not in layout:
            continue
        cols = layout[node.input[0]]
        a = attributes(node)
        if node.op_type == "TreeEnsemble":  # ai.onnx.ml 5
            for f, v in zip(a["nodes_featureids"], np.asarray(a["nodes_splits"]).reshape(-1)):
                add(cols, f, v)
        elif node.op_type.startswith("TreeEnsemble"):
            vals = a.get("nodes_values")
            if vals is None and "nodes_values_as_tensor" in a:
                vals = np.asarray(a["nodes_values_as_tensor"]).tolist()
            for f, v, m in zip(a["nodes_featureids"], vals or [], a["nodes_modes"]):
                if m != "LEAF":
                    add(cols, f, v)
        elif node.op_type == "Scaler":
            off, sc = a.get("offset", []), a.get("scale", [])
            for f in range(len(cols)):
                if f < len(off):
                    s = sc[f] if f < len(sc) and sc[f] else 1.0
                    for v in (off[f] - 2 / s, off[f], off[f] + 2 / s):
                        add(cols, f, v)
    return hints


def steps(h: np.ndarray) -> np.ndarray:
    """Each value of h, the doubles one step either side, and the nearest float32 with the
    float32 values one step either side (as doubles): where a port that rounds or compares
    differently goes the other way."""
    h = np.asarray(h, dtype=np.float64)
    h = h[np.isfinite(h)]
    with np.errstate(over="ignore"):
        f = h.astype(np.float32)
    f = f[np.isfinite(f)]
    out = [h, np.nextafter(h, -np.inf), np.nextafter(h, np.inf),
           f.astype(np.float64), np.nextafter(f, np.float32(-np.inf)).astype(np.float64),
           np.nextafter(f, np.float32(np.inf)).astype(np.float64)]
    return np.unique(np.concatenate(out))


def generate(schema: Schema, proto: onnx.ModelProto, rows: int, seed: int = 0, levels=None,
             samples=None, thresholds=None) -> dict:
    """Rows (float64) from the schema and the model. Per numeric column, when the model splits
    on it: a third of the rows on a split point or one double or float32 step beside one
    (split points from the graph and, `thresholds` {column: [values]}, from the original
    model). `samples` ({column: {"values": [...], "exact": bool}}, from the frontend) are
    values the model was trained on: rows take them too (or, unless exact, uniform values
    within their range); the rest are uniform over the range of the split points, or normal."""
    rng = np.random.RandomState(seed)
    hints = model_hints(proto, schema)
    for col, vals in (thresholds or {}).items():
        hints.setdefault(col, []).extend(float(v) for v in vals)
    table = {}
    for c in schema.inputs:
        if c.kind == "string":
            lv = list(c.levels or (levels or {}).get(c.name) or ["a", "b", "c"])
            table[c.name] = np.array([lv[i] for i in rng.randint(0, len(lv), rows)], dtype=object)
            continue
        s = (samples or {}).get(c.name)
        h = np.asarray(hints.get(c.name, []), dtype=np.float64)
        h = h[np.isfinite(h)]
        sampled = None
        if s is not None and len(s["values"]):
            vals = np.asarray(s["values"], dtype=np.float64)
            vals = vals[np.isfinite(vals)] if np.isfinite(vals).any() else vals
            sampled = vals[rng.randint(0, len(vals), rows)]
            if not s.get("exact"):
                spread = rng.uniform(vals.min(), vals.max(), rows)
                sampled = np.where(rng.rand(rows) < 0.5, sampled, spread)
        if h.size:
            lo, hi = h.min(), h.max()
            pad = max(hi - lo, 1e-3) * 0.25 + 1e-3
            col = rng.uniform(lo - pad, hi + pad, rows)
            near = steps(h)
            col = np.where(rng.rand(rows) < 0.35, near[rng.randint(0, near.size, rows)], col)
            if sampled is not None:
                col = np.where(rng.rand(rows) < 0.35, sampled, col)
        elif sampled is not None:
            col = sampled
        else:
            col = rng.normal(0.0, 2.0, rows)
        table[c.name] = np.asarray(col, dtype=np.float64)
    return table


def with_missing(table: dict, schema: Schema, fraction: float = 0.1, seed: int = 1) -> dict:
    """A copy with some numeric cells set to NaN (for models that accept missing values)."""
    rng = np.random.RandomState(seed)
    out = {}
    for c in schema.inputs:
        col = table[c.name].copy()
        if c.kind != "string":
            col[rng.rand(len(col)) < fraction] = np.nan
        out[c.name] = col
    return out


UNSEEN_LEVEL = "modelport-unseen-level"


def with_unseen(table: dict, schema: Schema, fraction: float = 0.08, seed: int = 2) -> dict:
    """A copy where some cells of the string columns hold the empty string (a missing value)
    and, in open columns (closed ones reject them), as many a level the model never saw."""
    rng = np.random.RandomState(seed)
    out = dict(table)
    for c in schema.inputs:
        if c.kind == "string":
            col = table[c.name].copy()
            u = rng.rand(len(col))
            if not c.closed:
                col[u < fraction] = UNSEEN_LEVEL
            col[(u >= fraction) & (u < 2 * fraction)] = ""
            out[c.name] = col
    return out


def to_feed(table: dict, schema: Schema, proto: onnx.ModelProto, float64: bool = False) -> dict:
    """{column: values} -> {ONNX input: array [n, row_size]} in the model's dtypes; with
    `float64`, floating-point inputs stay float64 (the values as the user has them)."""
    from ..ir import NUMPY_OF_ELEM
    n = len(next(iter(table.values())))
    feed = {}
    inits = {i.name for i in proto.graph.initializer}
    for inp in proto.graph.input:
        if inp.name in inits:
            continue
        cols = [c for c in schema.inputs if c.tensor == inp.name]
        dtype = NUMPY_OF_ELEM[inp.type.tensor_type.elem_type]
        if float64 and np.dtype(dtype).kind == "f":
            dtype = np.float64
        arr = np.empty((n, len(cols)), dtype=dtype)
        for c in cols:
            arr[:, c.offset] = table[c.name]
        dims = [d.dim_value if d.HasField("dim_value") else -1 for d in inp.type.tensor_type.shape.dim]
        feed[inp.name] = arr.reshape([n] + [d for d in dims[1:]]) if len(dims) != 2 else arr
    return feed



MAX_LEVEL_CLASSES = 30  # per string column; rarer levels are counted together


def row_classes(table: dict, schema: Schema, proto: onnx.ModelProto, thresholds=None, samples=None,
                tie_rows=None) -> dict:
    """{class: bool per row}: which kinds of value each row holds, as `generate`, `with_missing`
    and `with_unseen` make them (a row can be in several classes): a value on a split point,
    one double or float32 step beside one, a value the model was trained on, a missing value,
    each category level, a level the model never saw, a tie of the original model."""
    n = len(next(iter(table.values())))
    hints = model_hints(proto, schema)
    for col, vals in (thresholds or {}).items():
        hints.setdefault(col, []).extend(float(v) for v in vals)
    on, beside, trained, missing = (np.zeros(n, bool) for _ in range(4))
    levels, unseen, plain = {}, {}, []
    texts = text_inputs(proto)
    for c in schema.inputs:
        col = table[c.name]
        if c.kind == "string":
            col = np.asarray(col, dtype=object)
            missing |= col == ""
            known = [] if c.tensor in texts else list(c.levels or [])  # a text's levels are sample documents
            unseen_mask = (col == UNSEEN_LEVEL) | (~np.isin(col, known + [""]) if known else False)
            if unseen_mask.any():
                unseen[f"unseen level of {c.name}"] = unseen_mask
            if known:  # free text (no levels) has no level classes
                values, counts = np.unique(col[np.isin(col, known)].astype(str), return_counts=True)
                order = sorted(zip(-counts, values))
                for _, v in order[:MAX_LEVEL_CLASSES]:
                    levels[f"level {c.name}={v}"] = col == v
                if len(order) > MAX_LEVEL_CLASSES:
                    rest = [v for _, v in order[MAX_LEVEL_CLASSES:]]
                    levels[f"other levels of {c.name} ({len(rest)})"] = np.isin(col, rest)
            continue
        s = (samples or {}).get(c.name)
        if c.name not in hints and s is None:
            plain.append(col)  # most columns of image models: only missing values to look for
            continue
        col = np.asarray(col, dtype=np.float64)
        missing |= np.isnan(col)
        h = np.asarray(hints.get(c.name, []), dtype=np.float64)
        h = h[np.isfinite(h)]
        if h.size:
            exact = np.isin(col, h)
            on |= exact
            beside |= np.isin(col, steps(h)) & ~exact
        if s is not None and len(s["values"]):
            trained |= np.isin(col, np.asarray(s["values"], dtype=np.float64))
    if plain:
        missing |= np.isnan(np.asarray(plain, dtype=np.float64)).any(axis=0)
    out = {"on a split point": on, "one step beside a split": beside, "training value": trained,
           "missing value": missing, **levels, **unseen}
    if any(c.kind != "string" for c in schema.inputs):  # rows with none of the values above
        out["no special value"] = ~np.any([on, beside, trained, missing, *unseen.values()], axis=0)
    if tie_rows is not None:
        out["tie"] = np.asarray(tie_rows, bool).reshape(-1)[:n]
    return {k: v for k, v in out.items() if v.any()}


TEXT_OPS = {"Tokenizer", "StringNormalizer", "TfIdfVectorizer"}


def text_inputs(proto: onnx.ModelProto) -> set:
    """The graph inputs read as free text (tokenized), not as categories."""
    return {i for node in proto.graph.node if node.domain == "modelport.text" or node.op_type in TEXT_OPS
            for i in node.input}


def classes_to_json(classes: dict) -> dict:
    """{class: [row indices]} (stored beside the parity rows)."""
    return {k: np.flatnonzero(v).tolist() for k, v in classes.items()}


def classes_from_json(stored: dict, n: int) -> dict:
    out = {}
    for k, rows in stored.items():
        mask = np.zeros(n, bool)
        mask[[i for i in rows if 0 <= i < n]] = True
        out[k] = mask
    return out
