"""TensorFlow/Keras frontend: Keras 3 models (objects, .keras files), TensorFlow modules and
SavedModel directories to SourceModel.

tf2onnx converts a tf.function traced with the model's input signature (its `from_keras`
does not work with Keras 3). The graph it writes is made batch-first (`_batch_first` below),
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
from onnx import helper, numpy_helper

from modelport.errors import UnsupportedError, UsageError
from modelport.onnx_edit import rename_values
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
    proto, note = _batch_first(proto)
    ran = _run(proto, 2)
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


# ---------------------------------------------------------------------------------------------
# Batch first. The C++/Java kernels compile values whose first dimension is the batch and whose
# other dimensions are fixed (docs/architecture.md, IR). tf2onnx writes two things that break this:
# shape arithmetic on the batch size (Shape -> ... -> Reshape for Flatten, -> Expand for the
# zero states of recurrent layers) and time-major recurrent layers (Transpose to [time, batch,
# features] -> LSTM -> ...). Every value is measured at batch sizes 2 and 3; Reshape targets
# become constants (-1 for the batch); LSTM nodes are unrolled over their fixed number of
# steps into batch-first MatMul, Sigmoid, Tanh, Mul and Add; the values in between get their
# batch axis moved to the front, and the ops on them are rewritten to match. A graph with a
# node the rules do not cover (a Loop, attention heads) is kept as it is: the onnx and TVM
# targets compile the ONNX graph as a whole and do not need batch-first values.
# ---------------------------------------------------------------------------------------------

UNARY = {"Identity", "Cast", "Relu", "Sigmoid", "Tanh", "Neg", "Abs", "Exp", "Log", "Sqrt", "Softplus",
         "Softsign", "Elu", "Selu", "LeakyRelu", "HardSigmoid", "Erf", "Not"}
ELEMENTWISE = {"Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Pow", "Where", "Equal", "Less", "Greater",
               "And", "Or"}
LAYOUT_OPS = "Transpose, Squeeze, Unsqueeze, Slice, Gather, Concat, ReverseSequence, elementwise ops and LSTM"


def _feed(proto: onnx.ModelProto, n: int) -> dict:
    """Seeded rows for every input: normal floats, zero integers (valid ids for any table)."""
    rng = np.random.RandomState(n)
    feed = {}
    for inp in proto.graph.input:
        tt = inp.type.tensor_type
        shape = [n] + [d.dim_value for d in tt.shape.dim[1:]]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)
        feed[inp.name] = rng.normal(size=shape).astype(dtype) if dtype.kind == "f" else np.zeros(shape, dtype)
    return feed


def _run(proto: onnx.ModelProto, n: int, extra=()) -> dict:
    """Run ONNX Runtime on `n` rows; the graph outputs first, then the `extra` values and inputs."""
    import onnxruntime as ort
    m = onnx.ModelProto()
    m.CopyFrom(proto)
    names = [o.name for o in m.graph.output]
    for name in extra:
        if name not in names:
            m.graph.output.append(onnx.ValueInfoProto(name=name))
            names.append(name)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    feed = _feed(proto, n)
    try:
        sess = ort.InferenceSession(m.SerializeToString(), opts, providers=["CPUExecutionProvider"])
        values = dict(zip(names, sess.run(names, feed)))
    except Exception as exc:
        raise UnsupportedError(f"ONNX Runtime cannot run the converted graph on {n} rows: "
                               f"{_first_line(exc)}") from None
    return {**values, **feed}


class _Refused(Exception):
    """A node the batch-first rewrite does not handle (the message says which and why)."""


def _batch_first(proto: onnx.ModelProto) -> tuple[onnx.ModelProto, str | None]:
    """(The same model with the batch as the first dimension of every value, checked by ONNX
    Runtime, None), or, where a node cannot be rewritten, (the model as tf2onnx wrote it, why):
    the targets that compile the ONNX graph as a whole take it, the C++/Java kernels do not."""
    values = [o for node in proto.graph.node for o in node.output if o]
    rewrite = _BatchFirst(proto, _run(proto, 2, values), _run(proto, 3, values))
    if not rewrite.needed():
        return proto, None
    try:
        new = rewrite.run()
    except _Refused as exc:
        return proto, f"the graph is kept as tf2onnx wrote it, with values that do not keep the batch first: {exc}"
    before, after = _run(proto, 3), _run(new, 3)
    _run(new, 2)
    for o in proto.graph.output:
        a, b = before[o.name], after[o.name]
        scale = max(1.0, float(np.nanmax(np.abs(a), initial=0.0)))
        if a.shape != b.shape or not np.allclose(a, b, rtol=1e-4, atol=1e-5 * scale, equal_nan=True):
            raise UnsupportedError(f"moving the batch dimension first changed output {o.name!r} of the graph "
                                   "tf2onnx wrote; this is a modelport bug: please report it with the model")
    return new, None


def _subgraph_refs(node) -> set:
    """The values a node's subgraphs (Loop, Scan, If bodies) read, their own included."""
    names = set()
    for a in node.attribute:
        for g in ([a.g] if a.type == onnx.AttributeProto.GRAPH else list(a.graphs)):
            for n in g.node:
                names.update(n.input)
                names |= _subgraph_refs(n)
    return names


class _BatchFirst:
    """One pass over tf2onnx's nodes (in order), writing a batch-first graph."""

    def __init__(self, proto, run2, run3):
        self.proto = proto
        self.consts = {i.name: numpy_helper.to_array(i) for i in proto.graph.initializer}
        for node in proto.graph.node:
            if node.op_type == "Constant" and node.attribute[0].name == "value":
                self.consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
        self.run2, self.run3 = {**self.consts, **run2}, {**self.consts, **run3}  # every value's contents
        # Values that depend on the inputs' shapes only (the batch size), not on their data.
        self.free = set(self.consts)
        for node in proto.graph.node:
            reads = [i for i in node.input if i] + sorted(_subgraph_refs(node))
            if node.op_type == "Shape" or all(i in self.free for i in reads):
                self.free.update(node.output)
        self.axis = {}  # the batch axis of every value computed from the data
        # Values whose first dimension is batch x k (Dense on a sequence reshapes [batch, k, F] to
        # [batch * k, F] around a MatMul) are held as [batch, k, ...]: the same elements in order.
        self.merged = {}
        for name, a in self.run2.items():
            b = self.run3[name]
            diff = [k for k in range(a.ndim) if a.shape[k] != b.shape[k]] if a.ndim == b.ndim else None
            if name in self.free or not diff or len(diff) != 1:
                continue
            if (a.shape[diff[0]], b.shape[diff[0]]) == (2, 3):
                self.axis[name] = diff[0]
            elif diff == [0] and a.shape[0] % 2 == 0 and a.shape[0] // 2 * 3 == b.shape[0]:
                self.merged[name] = a.shape[0] // 2
        self.moved = {}  # value -> its batch-first copy
        self.nodes, self.inits, self.count, self.known = [], [], 0, {}

    def needed(self) -> bool:
        return any(self.axis.values()) or bool(self.merged) or \
            any(n.op_type == "Shape" for n in self.proto.graph.node)

    # -- helpers ----------------------------------------------------------------------------

    def order(self, value) -> list:
        """The axes of `value` in the order its batch-first copy holds them."""
        b, rank = self.axis.get(value, 0), self.run2[value].ndim
        return [b] + [k for k in range(rank) if k != b]

    def name(self, value) -> str:
        return self.moved.get(value, value)

    def out(self, value) -> str:
        if self.axis.get(value, 0) == 0 and value not in self.merged:
            return value
        self.moved[value] = f"{value}/batch_first"
        return self.moved[value]

    def fresh(self) -> str:
        self.count += 1
        return f"batch_first/{self.count}"

    def const(self, array) -> str:
        """A new initializer, shared by equal constants (an unrolled LSTM reuses its weights)."""
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.known:
            self.known[key] = self.fresh()
            self.inits.append(numpy_helper.from_array(array, self.known[key]))
        return self.known[key]

    def copy(self, node, inputs, outputs):
        """`node` on other values (same op, domain and attributes)."""
        new = helper.make_node(node.op_type, inputs, outputs, name=node.name, domain=node.domain or None)
        new.attribute.extend(node.attribute)
        self.nodes.append(new)

    def emit(self, op, inputs, outputs=None, **attrs) -> str:
        outputs = outputs or [self.fresh()]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=self.fresh(), **attrs))
        return outputs[0]

    def ints(self, node, k) -> list | None:
        """A constant integer input (axes, starts, ...) as a list; None when absent."""
        if len(node.input) <= k or not node.input[k]:
            return None
        if node.input[k] not in self.consts:
            raise self.refuse(node, f"its input {node.input[k]!r} is computed at run time")
        return [int(v) for v in np.asarray(self.consts[node.input[k]]).reshape(-1)]

    def refuse(self, node, why) -> _Refused:
        return _Refused(f"the {node.op_type} node {node.name!r}: {why}. The batch is moved first through "
                        f"{LAYOUT_OPS} only (tf2onnx writes GRU and SimpleRNN layers as a Loop)")

    # -- the pass ---------------------------------------------------------------------------

    def run(self) -> onnx.ModelProto:
        for node in self.proto.graph.node:
            outs = [o for o in node.output if o]
            ins = [i for i in node.input if i]
            moved_in = [i for i in ins + sorted(_subgraph_refs(node)) if i in self.moved]
            if all(o in self.free for o in outs):
                self.nodes.append(node)  # shape arithmetic: dropped below unless still used
            elif node.op_type == "LSTM":
                self.lstm(node)
            elif node.op_type == "Reshape" and (ins[1] not in self.consts or ins[0] in self.merged
                                                or outs[0] in self.merged):
                self.reshape(node)
            elif any(v in self.merged for v in ins + outs):
                self.merged_op(node)
            elif not moved_in and all(self.axis.get(o, 0) == 0 for o in outs):
                self.nodes.append(node)
            elif hasattr(self, "op_" + node.op_type):
                getattr(self, "op_" + node.op_type)(node)
            elif (node.op_type in UNARY or node.op_type in ELEMENTWISE) and not _subgraph_refs(node):
                self.elementwise(node)
            else:
                shape = self.run2[moved_in[0] if moved_in else outs[0]].shape
                raise self.refuse(node, f"its values have the batch on another axis than the first ({shape} "
                                        "at batch size 2)")
        return self.finish()

    def finish(self) -> onnx.ModelProto:
        graph = self.proto.graph
        for o in graph.output:
            if o.name in self.moved:
                raise _Refused(f"output {o.name!r} does not have the batch as its first dimension")
        needed, kept = {o.name for o in graph.output}, []
        for node in reversed(self.nodes):
            if any(o in needed for o in node.output):
                kept.append(node)
                needed.update(i for i in node.input if i)
        kept.reverse()
        for node in kept:
            if node.op_type == "Shape":
                users = [n.name for n in kept if any(o in n.input for o in node.output)]
                raise self.refuse(node, "the graph computes with the batch size at run time (for "
                                        f"{', '.join(users) or 'its outputs'}); only Reshape targets are "
                                        "made constant")
        inits = [i for i in list(graph.initializer) + self.inits if i.name in needed]
        new = helper.make_graph(kept, graph.name, list(graph.input), list(graph.output), initializer=inits)
        model = helper.make_model(new, opset_imports=list(self.proto.opset_import),
                                  producer_name=self.proto.producer_name,
                                  producer_version=self.proto.producer_version)
        model.ir_version = self.proto.ir_version
        return model

    # -- rules, one per op ------------------------------------------------------------------

    def reshape(self, node):
        """A Reshape to the measured row shape, -1 for the batch (tf2onnx computes some targets from
        the batch size at run time)."""
        x, y = node.input[0], node.output[0]
        if self.axis.get(x, 0) or self.axis.get(y, 0) or (y not in self.axis and y not in self.merged):
            raise self.refuse(node, f"it makes {self.run2[y].shape} (batch size 2) of {self.run2[x].shape}, "
                                    "which does not keep the batch first")
        rest = list(self.run2[y].shape[1:])
        target = [-1, self.merged[y]] + rest if y in self.merged else [-1] + rest
        self.emit("Reshape", [self.name(x), self.const(np.array(target, np.int64))], [self.out(y)])

    def merged_op(self, node):
        """An op on [batch * k, ...] values, run on their [batch, k, ...] copies: MatMul by a
        constant matrix, and elementwise ops with constants that broadcast over the rows."""
        y = node.output[0]
        k, rank = self.merged.get(y), self.run2[y].ndim
        data = [i for i in node.input if i and i not in self.consts]
        consts = [self.consts[i] for i in node.input if i in self.consts]
        if node.op_type == "MatMul":
            fits = len(data) == 1 and data[0] == node.input[0] and consts[0].ndim == 2
        else:
            fits = node.op_type in UNARY or node.op_type in ELEMENTWISE
            fits = fits and all(c.ndim < rank for c in consts) and len(node.output) == 1
        if k is None or not data or any(self.merged.get(i) != k for i in data) or not fits:
            raise self.refuse(node, f"it works on rows that merge the batch with another dimension "
                                    f"({self.run2[y].shape} at batch size 2)")
        self.copy(node, [self.name(i) for i in node.input], [self.out(y)])

    def op_Transpose(self, node):
        x, y = node.input[0], node.output[0]
        rank = self.run2[x].ndim
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), list(range(rank))[::-1])
        ox, oy = self.order(x), self.order(y)
        new = [ox.index(perm[a]) for a in oy]
        if new == list(range(rank)):
            self.emit("Identity", [self.name(x)], [self.out(y)])
        else:
            self.emit("Transpose", [self.name(x)], [self.out(y)], perm=new)

    def op_Squeeze(self, node):
        x, y = node.input[0], node.output[0]
        rank = self.run2[x].ndim
        axes = [a % rank for a in self.ints(node, 1) or [k for k in range(rank) if self.run2[x].shape[k] == 1]]
        if self.axis.get(x, 0) in axes:
            raise self.refuse(node, "it removes the batch axis")
        new = sorted(self.order(x).index(a) for a in axes)
        self.emit("Squeeze", [self.name(x), self.const(np.array(new, np.int64))], [self.out(y)])

    def op_Unsqueeze(self, node):
        x, y = node.input[0], node.output[0]
        rank = self.run2[y].ndim
        new = sorted(self.order(y).index(a % rank) for a in self.ints(node, 1))
        self.emit("Unsqueeze", [self.name(x), self.const(np.array(new, np.int64))], [self.out(y)])

    def op_Slice(self, node):
        x, y = node.input[0], node.output[0]
        rank = self.run2[x].ndim
        starts, ends = self.ints(node, 1), self.ints(node, 2)
        axes = [a % rank for a in (self.ints(node, 3) or range(len(starts)))]
        steps = self.ints(node, 4) or [1] * len(starts)
        if self.axis.get(x, 0) in axes:
            raise self.refuse(node, "it slices the batch axis")
        new = [self.order(x).index(a) for a in axes]
        args = [self.const(np.array(v, np.int64)) for v in (starts, ends, new, steps)]
        self.emit("Slice", [self.name(x)] + args, [self.out(y)])

    def op_Gather(self, node):
        x, idx, y = node.input[0], node.input[1], node.output[0]
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0) % self.run2[x].ndim
        if x in self.axis and idx in self.consts and axis != self.axis[x]:
            self.emit("Gather", [self.name(x), idx], [self.out(y)], axis=self.order(x).index(axis))
        elif x in self.consts and idx in self.axis and axis == 0:
            self.emit("Gather", [x, self.name(idx)], [self.out(y)], axis=0)
        else:
            raise self.refuse(node, "it gathers along the batch axis or with indices computed at run time")

    def op_Concat(self, node):
        y = node.output[0]
        axis = next(a.i for a in node.attribute if a.name == "axis") % self.run2[y].ndim
        layouts = {(self.axis.get(i), self.run2[i].ndim) for i in node.input}
        if len(layouts) != 1 or None in next(iter(layouts)) or axis == self.axis.get(y, 0):
            raise self.refuse(node, "its inputs do not all have the batch on the same axis")
        self.emit("Concat", [self.name(i) for i in node.input], [self.out(y)], axis=self.order(y).index(axis))

    def op_ReverseSequence(self, node):
        """Keras' go_backwards reverses every sequence whole: a reversed Slice along time."""
        x, lengths, y = node.input[0], node.input[1], node.output[0]
        attrs = {a.name: a.i for a in node.attribute}
        time = attrs.get("time_axis", 0)
        steps = self.run2[x].shape[time]
        if attrs.get("batch_axis", 1) != self.axis.get(x) or lengths not in self.free or \
                not all((r[lengths] == steps).all() for r in (self.run2, self.run3)):
            raise self.refuse(node, "it reverses sequences of different lengths (masking)")
        args = [self.const(np.array(v, np.int64)) for v in ([-1], [np.iinfo(np.int64).min],
                                                           [self.order(x).index(time)], [-1])]
        self.emit("Slice", [self.name(x)] + args, [self.out(y)])

    def elementwise(self, node):
        """Inputs with the batch on the same axis, and scalar constants."""
        y = node.output[0]
        layouts = {(self.axis.get(i), self.run2[i].ndim) for i in node.input
                   if i and not (i in self.consts and self.consts[i].ndim == 0)}
        if len(layouts) != 1 or next(iter(layouts)) != (self.axis.get(y), self.run2[y].ndim):
            raise self.refuse(node, "its inputs do not all have the batch on the same axis")
        self.copy(node, [self.name(i) for i in node.input], [self.out(y)])

    def lstm(self, node):
        """ONNX LSTM (time-major, gates i, o, f, c) unrolled step by step on batch-first rows."""
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        ins = list(node.input) + [""] * (8 - len(node.input))
        x, w, r, b, lens, h0, c0, peep = ins
        direction = attrs.get("direction", b"forward").decode()
        dirs = 2 if direction == "bidirectional" else 1
        acts = [a.decode() for a in attrs.get("activations", [])]
        if acts and acts != ["Sigmoid", "Tanh", "Tanh"] * dirs or attrs.get("clip") or attrs.get("input_forget") \
                or attrs.get("layout") or peep or self.axis.get(x) != 1 or w not in self.consts or r not in self.consts:
            raise self.refuse(node, "only LSTMs with the default activations, constant weights, no peepholes, "
                                    "no clipping and time-major input are unrolled")
        steps = self.run2[x].shape[0]
        if lens and not (lens in self.free and all((rr[lens] == steps).all() for rr in (self.run2, self.run3))):
            raise self.refuse(node, "its sequences have different lengths (masking)")
        hidden = int(attrs["hidden_size"])
        bias = self.consts[b] if b else np.zeros((dirs, 8 * hidden), np.float32)
        hs, hlast, clast = [], [], []
        for d in range(dirs):
            reverse = direction == "reverse" or d == 1
            h, c = self.state(node, h0, d), self.state(node, c0, d)
            # The input's share of every step's gates at once: [n, T, 4H].
            wx = self.emit("MatMul", [self.name(x), self.const(self.consts[w][d].T.copy())])
            wx = self.emit("Add", [wx, self.const(bias[d, :4 * hidden] + bias[d, 4 * hidden:])])
            rt = self.const(self.consts[r][d].T.copy())
            out = [None] * steps
            for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
                h, c = self.lstm_step(wx, t, h, c, rt, hidden)
                out[t] = h
            hs.append(self.emit("Concat", [self.emit("Unsqueeze", [v, self.const(np.array([1, 2], np.int64))])
                                           for v in out], axis=1))  # [n, T, 1, H]
            hlast.append(self.emit("Unsqueeze", [h, self.const(np.array([1], np.int64))]))  # [n, 1, H]
            clast.append(self.emit("Unsqueeze", [c, self.const(np.array([1], np.int64))]))
        for value, parts, axis in zip(node.output, (hs, hlast, clast), (2, 1, 1)):
            if value:
                self.emit("Concat", parts, [self.out(value)], axis=axis)

    def state(self, node, value, d):
        """Direction d's initial state [n, H], or None where it is zero (Keras' default)."""
        if not value:
            return None
        if value in self.free:
            if any(np.any(rr[value] != 0) for rr in (self.run2, self.run3)):
                raise self.refuse(node, "its initial state is a non-zero value computed from the batch size")
            return None
        if self.axis.get(value) != 1:
            raise self.refuse(node, "its initial state does not have the batch on axis 1")
        return self.emit("Gather", [self.name(value), self.const(np.array(d, np.int64))], axis=1)

    def lstm_step(self, wx, t, h, c, rt, hidden):
        """Step t: i, o, f = sigmoid, g = tanh of the gates; c = f * c + i * g; h = o * tanh(c)."""
        gates = self.emit("Gather", [wx, self.const(np.array(t, np.int64))], axis=1)  # [n, 4H]
        if h is not None:
            gates = self.emit("Add", [gates, self.emit("MatMul", [h, rt])])

        def gate(k, act):
            part = self.emit("Slice", [gates] + [self.const(np.array([v], np.int64))
                                                 for v in (k * hidden, (k + 1) * hidden, 1)])
            return self.emit(act, [part])
        i, o, f, g = gate(0, "Sigmoid"), gate(1, "Sigmoid"), gate(2, "Sigmoid"), gate(3, "Tanh")
        ig = self.emit("Mul", [i, g])
        c = ig if c is None else self.emit("Add", [self.emit("Mul", [f, c]), ig])
        return self.emit("Mul", [o, self.emit("Tanh", [c])]), c
