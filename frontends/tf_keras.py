"""TensorFlow/Keras frontend: Keras 3 models (objects, .keras files), TensorFlow modules and
SavedModel directories to SourceModel.

tf2onnx converts a tf.function traced with the model's input signature (its `from_keras`
does not work with Keras 3). The graph it writes is made batch-first (the batch_first pass),
its inputs and outputs take the model's names, and the model itself (`model(x,
training=False)`, or the SavedModel's serving signature) is the parity reference.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import onnx

from modelport.errors import UnsupportedError, UsageError
from modelport.onnx_edit import rename_values
from modelport.passes import batch_first
from modelport.schema import Schema, default_columns
from modelport.source_model import SourceModel

OPSET = 17
SIGNATURE = "serving_default"
DTYPES = ("float32", "float64", "int32", "int64")
SHAPE_HELP = "--input-shape {name}=D1,D2 (Python: input_shapes={{'{name}': (D1, D2)}})"


@dataclass
class _Model:
    """What the conversion needs from a Keras model or a TensorFlow signature."""
    inputs: list  # [(name, row shape, dtype name)]
    outputs: list | None  # output names, None until traced (subclassed models)
    call: Callable  # list of input tensors -> list of output tensors
    framework: str
    framework_version: str
    estimator: str


def is_model(obj) -> bool:
    """A Keras model or a TensorFlow module/trackable (a loaded SavedModel), told apart by the
    modules of its classes so that neither framework is imported."""
    for cls in type(obj).__mro__:
        module = cls.__module__ or ""
        if module.startswith("keras.") and cls.__name__ == "Model":
            return True
        if module.startswith("tensorflow.") and cls.__name__ in ("Module", "AutoTrackable"):
            return True
    return False


def to_source(model_or_path, name: str, *, source_file=None, example_inputs=None, input_shapes=None,
              input_dtypes=None) -> SourceModel:
    """Convert with tf2onnx; describe the schema; wrap the model as the reference.
    `example_inputs` is for PyTorch and is ignored here."""
    if isinstance(model_or_path, (str, Path)):
        source_file = Path(model_or_path)
        _check_path(source_file)  # before TensorFlow's slow import
    _import_tensorflow()
    obj = _load(source_file) if isinstance(model_or_path, (str, Path)) else model_or_path
    model = _describe(obj, dict(input_shapes or {}), dict(input_dtypes or {}))
    proto = _convert(model)
    proto, note = batch_first.run(proto)
    if note and any(n.op_type == "Loop" for n in proto.graph.node):
        note += " (tf2onnx writes GRU, SimpleRNN and masked LSTM layers as a Loop)"
    ran = batch_first.measure(proto, 2)
    rows = {o.name: ran[o.name].shape[1:] for o in proto.graph.output}
    inputs = default_columns([(n, math.prod(shape)) for n, shape, _ in model.inputs], "number")
    outputs = default_columns([(o, math.prod(rows[o])) for o in model.outputs], "value")
    schema = Schema(inputs, outputs, "tensor")

    def reference(feed):
        with _quiet():
            outs = model.call([feed[n] for n, _, _ in model.inputs])
        return {o: np.asarray(v) for o, v in zip(model.outputs, outs)}

    import tf2onnx
    provenance = {
        "framework": model.framework,
        "framework_version": model.framework_version,
        "converter": f"tf2onnx {tf2onnx.__version__}",
        "estimator": model.estimator,
        "source_file": str(source_file) if source_file else None,
        "source_sha256": _sha256(Path(source_file)) if source_file else None,
    }
    if note:
        provenance["note"] = note
    return SourceModel(proto, schema, reference, provenance, name, _hints(proto, schema, model))


def _import_tensorflow():
    # TensorFlow's C++ logging reads this variable once, when TensorFlow is first imported.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with _quiet():
        import tensorflow  # noqa: F401
        import tf2onnx  # noqa: F401


@contextlib.contextmanager
def _quiet():
    """Silence TensorFlow's, Keras' and tf2onnx's logging and warnings (errors are raised)."""
    loggers = [logging.getLogger(n) for n in ("tensorflow", "tf2onnx", "absl")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _check_path(path: Path):
    """A SavedModel directory or a .keras file (a zip archive), by the look of it."""
    if path.is_dir():
        if not (path / "saved_model.pb").exists():
            raise UsageError(f"{path} is a directory but not a TensorFlow SavedModel (no saved_model.pb); "
                             "give a .keras file or a directory written by model.export() or tf.saved_model.save()")
    elif path.suffix.lower() != ".keras":
        raise UsageError(f"{path} is not a Keras model file: give a .keras file or a SavedModel directory")
    elif not zipfile.is_zipfile(path):  # Keras would report such a file as "not found"
        raise UsageError(f"cannot read {path} as a Keras model file: it is not a zip archive, which a .keras "
                         "file is (model.save('model.keras') writes one)")


def _load(path: Path):
    """A .keras file or a SavedModel directory -> the loaded object."""
    import keras
    import tensorflow as tf
    if path.is_dir():
        try:
            with _quiet():
                return tf.saved_model.load(str(path))
        except Exception as exc:
            raise UsageError(f"cannot load {path} as a TensorFlow SavedModel: {_first_line(exc)}") from None
    try:
        with _quiet():
            return keras.saving.load_model(path)
    except Exception as exc:
        raise UsageError(
            f"cannot read {path} as a Keras model file: {_first_line(exc).rstrip('.')}. A .keras file is what "
            "model.save('model.keras') writes; a model with custom layers compiles from Python, where "
            "its classes are defined (modelport.compile(model, ...)).") from None


def _describe(obj, shapes: dict, dtypes: dict) -> _Model:
    if any(c.__module__.startswith("keras.") and c.__name__ == "Model" for c in type(obj).__mro__):
        return _keras_model(obj, shapes, dtypes)
    if hasattr(obj, "signatures"):
        return _signature_model(obj, shapes, dtypes)
    raise UsageError(f"cannot compile the TensorFlow object {type(obj).__name__}: supported are Keras "
                     f"models and TensorFlow modules with a {SIGNATURE!r} signature (loaded SavedModels); save "
                     "the module with tf.saved_model.save(module, dir, signatures=...) and compile the directory")


def _keras_model(model, shapes: dict, dtypes: dict) -> _Model:
    import keras
    try:
        tensors = list(model.inputs)
    except (AttributeError, ValueError):  # subclassed, or a Sequential without an Input
        tensors = []
    if tensors:
        names = [t._keras_history.operation.name for t in tensors]  # the Input layers' names
        known = {n: (tuple(t.shape[1:]), str(t.dtype)) for n, t in zip(names, tensors)}
        outputs = _unique([o._keras_history.operation.name for o in model.outputs], names)
        struct = getattr(model, "_inputs_struct", None)
    elif shapes:
        names, known, outputs, struct = list(shapes), {}, None, None
    else:
        raise UsageError(f"the {type(model).__name__} {model.name!r} has no known inputs (a subclassed model, "
                         "or a Sequential without keras.Input): give each input's row shape with "
                         + SHAPE_HELP.format(name="NAME"))
    inputs = _inputs(names, known, shapes, dtypes)

    def call(xs):
        if struct is not None:
            x = keras.tree.pack_sequence_as(struct, list(xs))
        else:
            x = xs[0] if len(xs) == 1 else list(xs)
        return keras.tree.flatten(model(x, training=False))
    return _Model(inputs, outputs, call, "keras", keras.__version__,
                  f"{type(model).__name__} {model.name!r}")


def _signature_model(obj, shapes: dict, dtypes: dict) -> _Model:
    import tensorflow as tf
    signatures = getattr(obj, "signatures", {}) or {}
    if SIGNATURE not in signatures:
        raise UsageError(f"the TensorFlow module has no {SIGNATURE!r} signature (it has: "
                         f"{', '.join(signatures) or 'none'}); export it with model.export(dir) or "
                         "tf.saved_model.save(module, dir, signatures=...)")
    sig = signatures[SIGNATURE]
    specs = sig.structured_input_signature[1]  # signatures take keyword arguments only
    names = list(specs)
    known = {n: (tuple(s.shape[1:]), s.dtype.name) for n, s in specs.items()}
    keys = list(sig.structured_outputs)
    outputs = _unique(keys, names)

    def call(xs):
        result = sig(**dict(zip(names, xs)))
        return [result[k] for k in keys]
    return _Model(_inputs(names, known, shapes, dtypes), outputs, call, "tensorflow", tf.__version__,
                  f"SavedModel signature {SIGNATURE!r}")


def _unique(names: list, taken: list) -> list:
    """Output names, made distinct from each other and from the input names."""
    seen, out = set(taken), []
    for n in names:
        m, k = n, 1
        while m in seen:
            m, k = f"{n}_{k}", k + 1
        seen.add(m)
        out.append(m)
    return out


def _inputs(names: list, known: dict, shapes: dict, dtypes: dict) -> list:
    """[(name, row shape, dtype)]: the model's, completed or overridden by the user's options."""
    unknown = sorted(set(shapes) - set(names)) + sorted(set(dtypes) - set(names))
    if unknown:
        raise UsageError(f"no model input named {', '.join(map(repr, unknown))}; the inputs are: "
                         f"{', '.join(map(repr, names))}")
    inputs = []
    for n in names:
        shape, dtype = known.get(n, (None, "float32"))
        dtype = str(dtypes.get(n, dtype))
        if dtype not in DTYPES:
            raise UnsupportedError(f"input {n!r} has element type {dtype}; supported: {', '.join(DTYPES)} "
                                   "(keep string preprocessing such as TextVectorization outside the model)")
        inputs.append((n, _row_shape(n, shape, shapes.get(n)), dtype))
    return inputs


def _row_shape(name: str, known, given) -> tuple:
    if given is not None:
        given = tuple(int(d) for d in given)
        if known is not None and (len(given) != len(known) or any(k not in (None, g) for k, g in zip(known, given))):
            raise UsageError(f"the row shape {given} given for input {name!r} does not fit the model's "
                             f"{tuple(known)} (the batch dimension left out)")
        return given
    if known is None or any(d is None for d in known):
        raise UsageError(f"input {name!r} has the row shape {known} with unknown dimensions: only the first "
                         "(batch) dimension may be unknown. Give the row shape with " + SHAPE_HELP.format(name=name))
    return tuple(int(d) for d in known)


def _convert(model: _Model) -> onnx.ModelProto:
    """Trace the model with a batch-polymorphic signature and convert it with tf2onnx."""
    import tensorflow as tf
    import tf2onnx
    # TensorFlow names placeholders after the specs and allows only some characters there;
    # inputs are renamed to the model's names after the conversion.
    safe = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\-/]*$")
    specs = [tf.TensorSpec((None, *shape), dtype, name=n if safe.match(n) else f"input_{i}")
             for i, (n, shape, dtype) in enumerate(model.inputs)]
    fn = tf.function(lambda *xs: tuple(model.call(list(xs))), input_signature=specs)
    with _quiet():
        try:
            traced = fn.get_concrete_function()
        except Exception as exc:
            shapes = ", ".join(f"{n} {(None, *s)} {d}" for n, s, d in model.inputs)
            raise UsageError(f"calling the {model.estimator} on inputs {shapes} failed: {_first_line(exc)} "
                             "(if those row shapes are wrong, give them with " + SHAPE_HELP.format(name="NAME")
                             + ")") from None
        if model.outputs is None:
            count = len(tf.nest.flatten(traced.structured_outputs))
            model.outputs = _unique(["output"] if count == 1 else [f"output_{i}" for i in range(count)],
                                    [n for n, _, _ in model.inputs])
        try:
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=specs, opset=OPSET,
                                                     custom_op_handlers={"Erfc": (_erfc, [])})
        except Exception as exc:
            raise UnsupportedError(f"tf2onnx {tf2onnx.__version__} cannot convert the {model.estimator}: "
                                   f"{_first_line(exc)}") from None
    _check_ops(proto, model)
    rename = {g.name: n for g, (n, _, _) in zip(proto.graph.input, model.inputs)}
    rename.update({g.name: n for g, n in zip(proto.graph.output, model.outputs)})
    return rename_values(proto, {k: v for k, v in rename.items() if k != v})


def _erfc(ctx, node, name, args):
    """TensorFlow's Erfc, which tf2onnx lacks (Keras' exact GELU uses it), as 1 - Erf(x)."""
    from tf2onnx import utils
    node.type = "Erf"
    dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.output[0]))
    one = ctx.make_const(utils.make_name("one"), np.array(1, dtype))
    ctx.insert_new_node_on_output("Sub", node.output[0], inputs=[one.output[0], node.output[0]])


def _check_ops(proto: onnx.ModelProto, model: _Model):
    """tf2onnx leaves TensorFlow ops it cannot convert in the graph as they are: name them."""
    import tf2onnx
    bad = []
    for node in proto.graph.node:
        try:
            onnx.defs.get_schema(node.op_type, OPSET, node.domain)
        except onnx.defs.SchemaError:
            bad.append(f"{node.op_type} (TensorFlow op {node.name})")
    if bad:
        listed = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise UnsupportedError(
            f"tf2onnx {tf2onnx.__version__} cannot convert the TensorFlow op(s) {listed} of the "
            f"{model.estimator} to ONNX (opset {OPSET}). Supported are the ops tf2onnx converts (its "
            "support_status.md); write the layer that holds the op (its Keras path begins the op's "
            "name) with supported operations.")
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as exc:
        raise UnsupportedError(f"tf2onnx wrote an invalid ONNX graph for the {model.estimator}: "
                               f"{_first_line(exc)}") from None


def _hints(proto: onnx.ModelProto, schema: Schema, model: _Model) -> dict:
    """Integer inputs that index an embedding table get valid ids as parity inputs."""
    samples = {}
    for n, _, dtype in model.inputs:
        size = _table_rows(proto, n) if dtype.startswith("int") else None
        if size:
            for c in schema.inputs:
                if c.tensor == n:
                    samples[c.name] = {"values": list(range(size)), "exact": True}
    # No missing-value rows in parity: NaN is not an input a network is meant to take.
    return {"samples": samples, "missing": False} if samples else {"missing": False}


def _table_rows(proto: onnx.ModelProto, name: str) -> int | None:
    """The smallest constant table an input (or a value computed from it) indexes with Gather."""
    dims = {i.name: list(i.dims) for i in proto.graph.initializer}
    reached, sizes = {name}, []
    for node in proto.graph.node:
        if not any(i in reached for i in node.input):
            continue
        if node.op_type == "Gather" and node.input[1] in reached and node.input[0] in dims:
            axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
            sizes.append(dims[node.input[0]][axis])
            continue  # what the ids fetch is data, not ids
        reached.update(node.output)
    return min(sizes) if sizes else None


def _sha256(path: Path) -> str:
    """Of the file, or of a directory's files (relative paths and contents, sorted)."""
    h = hashlib.sha256()
    if path.is_file():
        h.update(path.read_bytes())
        return h.hexdigest()
    for p in sorted(q for q in path.rglob("*") if q.is_file()):
        h.update(str(p.relative_to(path)).encode() + b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()
