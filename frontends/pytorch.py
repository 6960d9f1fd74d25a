"""PyTorch frontend: nn.Module objects, exported programs (.pt2) and TorchScript (.pt) to SourceModel.

torch.export captures the model with a dynamic batch dimension, then torch.onnx (the dynamo
exporter) converts the program. TorchScript modules, which torch.export cannot capture, go
through torch.onnx's TorchScript exporter instead. The graph is made batch-first (the
batch_first pass). The reference runs the original model in eval mode without gradients.
"""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import logging
import re
import warnings
from pathlib import Path

import numpy as np
import onnx

from modelport.errors import ModelportError, UnsupportedError, UsageError
from modelport.passes import batch_first
from modelport.schema import Schema, default_columns
from modelport.source_model import SourceModel

# The dynamo exporter's own opset: asking for another one runs ONNX's version converter.
OPSET = 20
# (module, qualname) of the classes this frontend takes, looked up in an object's MRO so that
# torch need not be imported to tell. Every nn.Module (ScriptModules and traced modules
# included) has torch's Module class in its MRO.
MODULE = ("torch.nn.modules.module", "Module")
PROGRAM = ("torch.export.exported_program", "ExportedProgram")
SCRIPT = ("torch.jit._script", "ScriptModule")
DTYPES = ("float32", "float64", "int64", "int32")
# ONNX ops that pass integer values through unchanged (to find what an integer input indexes).
PASS_THROUGH = {"Cast", "Identity", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"}


def is_model(obj) -> bool:
    """True for nn.Module (TorchScript included) and ExportedProgram objects; never imports torch."""
    return any(_has_class(obj, c) for c in (MODULE, PROGRAM, SCRIPT))


def _has_class(obj, module_and_name) -> bool:
    return any((getattr(c, "__module__", None), getattr(c, "__qualname__", None)) == module_and_name
               for c in type(obj).__mro__)


def to_source(model, name: str, *, source_file=None, example_inputs=None, input_shapes=None,
              input_dtypes=None) -> SourceModel:
    """Export `model` (an object or a .pt2/.pt path) to ONNX; describe its schema and reference."""
    path = Path(model) if isinstance(model, (str, Path)) else None
    with _quiet():
        if path is not None:
            model = _load(path)
        kind = _kind(model)
        names = _input_names(model, kind, example_inputs, input_shapes)
        args = _example_args(model, kind, names, example_inputs, input_shapes or {}, input_dtypes or {})
        proto, out_names, results = _to_onnx(model, kind, names, args)
    rows = {n: tuple(a.shape[1:]) for n, a in zip(names, args)}
    _finish(proto, rows, _describe(model, kind))
    # The exporter writes recurrent layers time-major, with zero states built from the batch size:
    # the C++/Java kernels need every value batch-first.
    proto, note = batch_first.run(proto)
    schema = _schema(names, rows, out_names, results)
    # No missing-value rows in parity: NaN is not an input a network is meant to take.
    hints = {"samples": _samples(proto, schema, names, args, kind, example_inputs is not None), "missing": False}
    reference = _reference(model, kind, names, out_names)
    provenance = _provenance(model, kind, source_file or path)
    if note:
        provenance["note"] = "; ".join(filter(None, [provenance.get("note"), note]))
    return SourceModel(proto, schema, reference, provenance, name, hints)


def _to_onnx(model, kind, names, args):
    """(ONNX model, output names, the model's outputs on `args`)."""
    import torch
    run = _runner(model, kind)
    with _eval(model, kind), torch.no_grad():
        try:
            result = run(*args)
        except Exception as exc:
            raise UsageError(f"the PyTorch model {_describe(model, kind)} fails on the example inputs "
                             f"({', '.join(f'{n}: {tuple(a.shape)} {a.dtype}' for n, a in zip(names, args))}): "
                             f"{_first_line(exc)[:300]}") from None
        out_names = _output_names(result, names)
        if kind == "script":
            proto = _export_torchscript(model, args, names, out_names)
        else:
            program = model if kind == "program" else _capture(model, args)
            proto = _convert(program, names, out_names)
    return proto, out_names, _leaves(result)


def _provenance(model, kind, src) -> dict:
    import torch
    provenance = {
        "framework": "pytorch",
        "framework_version": torch.__version__,
        "converter": "torch.onnx (TorchScript exporter, dynamo=False)" if kind == "script" else "torch.onnx (dynamo)",
        "estimator": _describe(model, kind),
        "source_file": str(src) if src else None,
        "source_sha256": hashlib.sha256(Path(src).read_bytes()).hexdigest() if src else None,
    }
    if kind == "script":
        provenance["note"] = ("torch.export cannot capture TorchScript modules: converted with torch.onnx's "
                              "TorchScript exporter, with the batch dimension dynamic (dynamic_axes)")
    else:
        import onnxscript
        provenance["converter_version"] = onnxscript.__version__
    return provenance


@contextlib.contextmanager
def _quiet():
    """Silence torch's warnings, log lines and prints while exporting (torch.export prints a
    partial graph on failure); failures still propagate as exceptions."""
    disabled = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(disabled)


def _load(path: Path):
    """A .pt2 file (torch.export.save) or a TorchScript .pt file (torch.jit.save)."""
    import torch
    if path.suffix.lower() == ".pt2":
        try:
            return torch.export.load(str(path))
        except Exception as exc:
            raise UsageError(f"cannot read {path} as a PyTorch exported program ({_first_sentence(exc)}); "
                             "modelport reads .pt2 files written by torch.export.save(torch.export.export("
                             "model, example_args), 'model.pt2')") from None
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:
        raise UsageError(
            f"cannot read {path} as a TorchScript module ({_first_sentence(exc)}); modelport reads .pt files "
            "written by torch.jit.save (of torch.jit.script or torch.jit.trace); a .pt written by torch.save "
            "is a pickle that needs the model's Python code: export the model instead with "
            "torch.export.save(torch.export.export(model, example_args), 'model.pt2')") from None


def _kind(model) -> str:
    if _has_class(model, PROGRAM):
        return "program"
    return "script" if _has_class(model, SCRIPT) else "module"


def _describe(model, kind) -> str:
    if kind == "script":
        return getattr(model, "original_name", type(model).__name__)
    return type(model).__name__


def _input_names(model, kind, example_inputs, input_shapes) -> list:
    """The model's input names: forward()'s parameters, or the program's user inputs."""
    if kind == "program":
        return list(model.graph_signature.user_inputs)
    if kind == "script":
        return [a.name for a in model.forward.schema.arguments[1:]]
    params = [p for p in inspect.signature(model.forward).parameters.values()
              if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if example_inputs is not None:
        count = len(_as_tuple(example_inputs))
        names = [p.name for p in params[:count]]
        return names + [f"input_{i}" for i in range(len(names), count)]
    return [p.name for p in params if p.default is p.empty or p.name in (input_shapes or {})]


def _as_tuple(example_inputs) -> tuple:
    return tuple(example_inputs) if isinstance(example_inputs, (tuple, list)) else (example_inputs,)


def _example_args(model, kind, names, example_inputs, shapes, dtypes) -> tuple:
    """One example tensor per input, with at least two rows (torch.export takes a batch of one
    for a constant)."""
    import torch
    _check_names(names, shapes, dtypes)
    if kind == "program":
        args = _program_args(model, names, shapes, dtypes)
    elif kind == "module" and example_inputs is not None:
        args = tuple(_as_tensor(x, n) for x, n in zip(_as_tuple(example_inputs), names))
    else:
        missing = [n for n in names if n not in shapes]
        if missing:
            raise UsageError(_shape_advice(missing, kind, _describe(model, kind)))
        args = tuple(torch.zeros([2, *shapes[n]], dtype=_torch_dtype(dtypes.get(n, "float32"))) for n in names)
    return tuple(torch.cat([a, a]) if a.shape[0] < 2 else a for a in args)


def _check_names(names, shapes, dtypes):
    for flag, given in (("--input-shape", shapes), ("--input-dtype", dtypes)):
        unknown = [k for k in given if k not in names]
        if unknown:
            raise UsageError(f"{flag} names {', '.join(repr(k) for k in unknown)}, but the model's inputs are "
                             f"{', '.join(repr(n) for n in names)}")


def _shape_advice(missing, kind, cls) -> str:
    flags = "; ".join(f"give the row shape of input {n!r} with --input-shape {n}=3,32,32 (the shape of one "
                      f"example, without the batch dimension; add --input-dtype {n}=int64 for integer inputs)"
                      for n in missing)
    python = (f"input_shapes={{{missing[0]!r}: [3, 32, 32]}} (and input_dtypes={{{missing[0]!r}: 'int64'}} for "
              "integer inputs)")
    if kind == "script":
        return f"the TorchScript module {cls} does not record its input shapes: {flags} (from Python: {python})"
    return (f"the PyTorch module {cls} needs example inputs to be exported: pass example_inputs=(tensor, ...), "
            f"one tensor per forward() argument with the batch first, or {python}")


def _torch_dtype(name: str):
    import torch
    if name not in DTYPES:
        raise UsageError(f"--input-dtype {name!r} is not supported; use one of {', '.join(DTYPES)}")
    return getattr(torch, name)


def _as_tensor(x, name):
    import torch
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor) or x.dim() < 1:
        raise UsageError(f"example input {name!r} must be a tensor (or numpy array) whose first dimension is "
                         f"the batch; got {type(x).__name__}")
    return x


def _program_args(program, names, shapes, dtypes) -> tuple:
    """Example tensors for an exported program, from its recorded (fake) input tensors."""
    import torch
    fake = {n.name: n.meta.get("val") for n in program.graph.nodes if n.op == "placeholder"}
    recorded = _recorded_examples(program, names)
    args = []
    for name in names:
        val = fake.get(name)
        if not isinstance(val, torch.Tensor) or val.dim() < 1:
            raise UnsupportedError(f"input {name!r} of the exported program is not a tensor with a batch "
                                   "dimension; modelport compiles programs whose inputs are all batched tensors")
        if isinstance(val.shape[0], int):
            raise UsageError(
                f"the exported program has a fixed batch size ({val.shape[0]} rows for input {name!r}); modelport "
                "compiles the first dimension as the batch, of any size. Export it again with a dynamic batch: "
                f"torch.export.export(model, args, dynamic_shapes=({{0: torch.export.Dim('batch')}},)) "
                "(one entry per input) and torch.export.save it")
        row = [d if isinstance(d, int) else None for d in val.shape[1:]]
        if name in shapes:
            if len(shapes[name]) != len(row) or any(d is not None and d != s for d, s in zip(row, shapes[name])):
                raise UsageError(f"--input-shape {name}={','.join(map(str, shapes[name]))} does not fit the "
                                 f"program's row shape {_shape_text(row)} for input {name!r}")
            row = list(shapes[name])
        if None in row:
            example = recorded.get(name)
            guess = list(example.shape[1:]) if example is not None else [d or 8 for d in row]
            raise UsageError(
                f"input {name!r} of the exported program has a dynamic dimension after the batch (its shape is "
                f"{_shape_text(row)}); modelport compiles a static row shape: give it with --input-shape "
                f"{name}={','.join(map(str, guess))} (from Python: input_shapes={{{name!r}: {guess}}})")
        example = recorded.get(name)
        if example is not None and list(example.shape[1:]) == row and example.dtype == val.dtype:
            args.append(example)
        else:
            args.append(torch.zeros([2, *row], dtype=val.dtype))
    return tuple(args)


def _recorded_examples(program, names) -> dict:
    """The example inputs torch.export.save kept in the file, by input name ({} if none)."""
    import torch
    try:
        args, kwargs = program.example_inputs
    except Exception:
        return {}
    found = dict(zip(names, args))
    found.update(kwargs or {})
    return {n: t for n, t in found.items() if isinstance(t, torch.Tensor) and t.dim() >= 1}


def _shape_text(row) -> str:
    return "(batch, " + ", ".join("?" if d is None else str(d) for d in row) + ")"


def _runner(model, kind):
    """A callable that runs the original model on positional tensors."""
    return model.module() if kind == "program" else model


@contextlib.contextmanager
def _eval(model, kind):
    """Eval mode while exporting and predicting, then every submodule's own mode back."""
    if kind == "program":  # an exported program's mode was fixed when it was exported
        yield
        return
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _leaves(result) -> list:
    from torch.utils._pytree import tree_flatten
    return tree_flatten(result)[0]


def _output_names(result, input_names) -> list:
    """`output` for one tensor; a dict's keys or a namedtuple's fields; else `output_<i>`."""
    import torch
    leaves = _leaves(result)
    bad = [type(x).__name__ for x in leaves if not isinstance(x, torch.Tensor)]
    if bad or not leaves:
        raise UnsupportedError(f"the model returns {', '.join(bad) or 'nothing'}; modelport compiles models "
                               "that return tensors (one, or a tuple, list or dict of them)")
    names = None
    if isinstance(result, dict) and len(result) == len(leaves):
        names = [str(k) for k in result]
    elif isinstance(result, tuple) and hasattr(result, "_fields") and len(result) == len(leaves):
        names = list(result._fields)
    if names is None or len(set(names)) < len(names) or set(names) & set(input_names):
        names = ["output"] if len(leaves) == 1 else [f"output_{i}" for i in range(len(leaves))]
    return names


def _capture(module, args):
    """torch.export with one dynamic batch dimension shared by every input."""
    import torch
    batch = torch.export.Dim("batch")
    try:
        return torch.export.export(module, args, dynamic_shapes=tuple({0: batch} for _ in args))
    except Exception as exc:
        raise _capture_error(module, exc) from None


def _capture_error(module, exc) -> ModelportError:
    cls = type(module).__name__
    text = _clean(str(exc))
    fixed = re.search(r"specialized it to be a constant \((\d+)\)", text)
    if fixed:
        return UsageError(
            f"the PyTorch module {cls} only works with a batch of {fixed.group(1)} rows (torch.export found the "
            "batch dimension fixed, e.g. by x.view(N, -1) or a reshape to a literal size); modelport compiles the "
            "first dimension as the batch, of any size: write the model for any batch size "
            "(x.flatten(1), x.view(x.size(0), -1), x.reshape(-1, ...))")
    if "data-dependent" in text or "DataDependent" in type(exc).__name__:
        return UnsupportedError(
            f"torch.export cannot capture the PyTorch module {cls}: its control flow depends on the values of its "
            f"inputs{_user_code(text)}, and a compiled model is one graph for every input. Compute both branches "
            "and pick with torch.where, or use torch.cond")
    return UnsupportedError(f"torch.export cannot capture the PyTorch module {cls}: {_first_line(text)}. "
                            "Make the model exportable with torch.export.export (see PyTorch's export "
                            "documentation), or export it to ONNX yourself and compile the .onnx file")


def _user_code(text: str) -> str:
    """' (at file:line: code)' for the user's line that torch.export names in `text`."""
    found = re.search(r'File "([^"]+)", line (\d+), in \w+\n\s+(.+)', text.split("raised this error:")[-1])
    return f" (at {Path(found.group(1)).name}:{found.group(2)}: {found.group(3).strip()})" if found else ""


def _convert(program, names, out_names) -> onnx.ModelProto:
    """The exported program to ONNX with torch.onnx's dynamo exporter."""
    import torch
    try:
        onnx_program = torch.onnx.export(program, (), dynamo=True, input_names=names, output_names=out_names,
                                         opset_version=OPSET, optimize=True, verbose=False)
    except Exception as exc:
        raise _conversion_error(program, exc) from None
    return onnx_program.model_proto


def _conversion_error(program, exc) -> UnsupportedError:
    import torch
    text = _clean(str(exc))
    op = re.search(r"No ONNX function found for <OpOverload\(op='([\w.]+)'", text)
    if op:
        layer = _layer_of(program, op.group(1), text)
        return UnsupportedError(
            f"torch.onnx {torch.__version__} cannot convert the PyTorch op {op.group(1)}{layer} to ONNX: it has no "
            "ONNX translation. Replace that op or layer with ones ONNX has, or export the model to ONNX yourself "
            "with a translation for it (torch.onnx.export(..., custom_translation_table={...})) and compile the "
            ".onnx file")
    summary = [ln for ln in text.splitlines() if ln.startswith("<class")]
    detail = summary[-1] if summary else _first_line(text)
    return UnsupportedError(f"torch.onnx {torch.__version__} cannot convert the model to ONNX: {detail[:400]}")


def _layer_of(program, op, text) -> str:
    """' (in layer 'path', Class)' for the first node of `program` that calls `op` (or that the
    exporter named in `text`), from torch.export's module stack; '' when unknown."""
    node_name = re.search(r"Error when translating node %(\w+)", text)
    for node in program.graph.nodes:
        if str(node.target).startswith(op + ".") or (node_name and node.name == node_name.group(1)):
            stack = node.meta.get("nn_module_stack") or {}
            if stack:
                path, cls = list(stack.values())[-1]
                cls = getattr(cls, "__name__", str(cls).rsplit(".", 1)[-1].strip("'>"))
                return f" (in layer {path!r}, {cls})" if path else f" (in {cls})"
    return ""


def _export_torchscript(module, args, names, out_names) -> onnx.ModelProto:
    """A TorchScript module through torch.onnx's TorchScript exporter, batch dimension dynamic."""
    import torch
    f = io.BytesIO()
    axes = {n: {0: "batch"} for n in [*names, *out_names]}
    try:
        torch.onnx.export(module, args, f, dynamo=False, input_names=names, output_names=out_names,
                          dynamic_axes=axes, opset_version=OPSET)
    except Exception as exc:
        raise UnsupportedError(f"torch.onnx {torch.__version__} cannot convert the TorchScript module "
                               f"{_describe(module, 'script')} to ONNX: {_first_line(_clean(str(exc)))}. "
                               "Export the model with torch.export.save to a .pt2 file instead") from None
    return onnx.load_from_string(f.getvalue())


def _finish(proto: onnx.ModelProto, rows: dict, cls: str):
    """Static row shapes on the inputs, all weights inside the model, and a check that ONNX
    Runtime runs it on a batch of 2 and of 3 rows."""
    from onnx.external_data_helper import uses_external_data
    if any(uses_external_data(t) for t in proto.graph.initializer):
        raise UnsupportedError(f"the ONNX graph of {cls} keeps its weights outside the model (over 2 GB); "
                               "modelport compiles self-contained models only")
    for inp in proto.graph.input:
        if inp.name in rows:
            dims = inp.type.tensor_type.shape.dim
            del dims[:]
            dims.add().dim_param = "batch"
            for d in rows[inp.name]:
                dims.add().dim_value = d
    _run_onnxruntime(proto, rows, cls)


def _run_onnxruntime(proto, rows, cls):
    import onnxruntime as ort
    from modelport.ir import NUMPY_OF_ELEM
    types = {i.name: NUMPY_OF_ELEM.get(i.type.tensor_type.elem_type, np.float32) for i in proto.graph.input}
    try:
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        for n in (2, 3):
            sess.run(None, {name: np.zeros([n, *row], dtype=types[name]) for name, row in rows.items()})
    except Exception as exc:
        raise UnsupportedError(f"ONNX Runtime cannot run the ONNX graph exported from {cls}: "
                               f"{_first_line(str(exc))[:400]}") from None


def _schema(names, rows, out_names, results) -> Schema:
    """One column per element of each input row; outputs by their row size, integers compared exactly."""
    inputs = default_columns([(n, int(np.prod(rows[n], dtype=np.int64))) for n in names], "number")
    outputs = []
    for n, r in zip(out_names, results):
        size = int(np.prod(r.shape[1:], dtype=np.int64)) if r.dim() else 1
        exact = not (r.dtype.is_floating_point or r.dtype.is_complex)
        outputs += default_columns([(n, size)], "label" if exact else "value")
    return Schema(inputs, outputs, "tensor")


def _samples(proto, schema, names, args, kind, user_examples) -> dict:
    """Parity values for integer inputs: every valid index of the table the input looks up
    (an nn.Embedding's rows), else the values of the user's example input."""
    samples = {}
    for name, arg in zip(names, args):
        if arg.dtype.is_floating_point:
            continue
        size = _lookup_size(proto, name)
        if size is not None:
            values = list(range(size))
        elif user_examples or kind == "program":
            values = sorted({int(v) for v in arg.reshape(-1).tolist()})
        else:
            continue
        for c in schema.inputs:
            if c.tensor == name:
                samples[c.name] = {"values": values, "exact": True}
    return samples


def _lookup_size(proto, name) -> int | None:
    """Rows of the smallest constant table that Gather indexes with `name` (through casts and
    reshapes), or None when the input indexes no table."""
    from modelport.ir import attributes
    tables = {i.name: list(i.dims) for i in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            tables[node.output[0]] = list(node.attribute[0].t.dims)
    aliases, sizes = {name}, []
    for node in proto.graph.node:
        if node.op_type in PASS_THROUGH and node.input and node.input[0] in aliases:
            aliases.update(node.output)
        elif node.op_type == "Gather" and len(node.input) > 1 and node.input[1] in aliases \
                and tables.get(node.input[0]) and attributes(node).get("axis", 0) == 0:
            sizes.append(tables[node.input[0]][0])
    return min(sizes) if sizes else None


def _reference(model, kind, names, out_names):
    """The original model on a feed of numpy rows, in eval mode, without gradients."""
    run = _runner(model, kind)

    def reference(feed: dict) -> dict:
        import torch
        args = tuple(torch.from_numpy(np.ascontiguousarray(feed[n])) for n in names)
        try:
            with _eval(model, kind), torch.no_grad():
                leaves = _leaves(run(*args))
        except Exception as exc:
            raise UsageError(f"the PyTorch model failed on the parity rows: {_first_line(str(exc))[:300]}; "
                             "give rows it accepts with --data") from None
        return {n: t.detach().cpu().numpy() for n, t in zip(out_names, leaves)}
    return reference


def _clean(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _first_sentence(exc) -> str:
    """torch's load errors continue with long advice about corrupted checkpoints."""
    return _first_line(exc).split(". ")[0].rstrip(".")


def _first_line(exc) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return lines[0] if lines else type(exc).__name__
