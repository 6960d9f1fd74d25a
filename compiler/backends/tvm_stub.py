"""The C++ stub of the TVM targets: the cpp target's API, C ABI and CSV program, with
run_rows calling the TVM-compiled library through the TVM runtime that ships in the wheel.

Artifact layout (tvm-llvm/ and tvm-cuda/ alike):
  <name>_module.so   the TVM-compiled model
  lib<name>.so       the stub: <name>.hpp's C++ API and the C ABI (rpath $ORIGIN/lib)
  bin/<name>         the CSV program (rpath $ORIGIN/..:$ORIGIN/../lib)
  lib/               libtvm_runtime.so, libtvm_ffi.so (and libtvm_runtime_cuda.so)
  sources            <name>.hpp/.cpp, <name>_main.cpp, modelport_runtime.*, modelport_tvm.*
"""
from __future__ import annotations

import subprocess
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import onnx

from ..errors import BuildError, UnsupportedError
from ..ir import Graph, Tensor
from ..kernel import ast as k
from ..lower import Value
from ..render.cpp import CppRenderer
from . import cpp, tvm_build
from .naming import identifier

ELEM = {"f32": "F32", "f64": "F64", "i64": "I64", "i32": "I32", "bool": "BOOL"}
CTYPE = CppRenderer.types
CPU_RUNTIME = ("libtvm_runtime.so", "libtvm_ffi.so", "libtvm_runtime_extra.so")
TVM_RUNTIME_FILES = ["modelport_tvm.hpp", "modelport_tvm.cpp", "modelport_jni.hpp"]


def signature(graph: Graph, labels: dict, front: bool = False) -> SimpleNamespace:
    """The model's tensors as the C++ generator sees them (inputs and outputs only). An
    output whose labels the TVM graph holds as class indices stays a string tensor here.
    String inputs need a `front` (tvm_front.py) that turns them into numbers."""
    def value(name, i, kind):
        t = graph.tensors[name]
        if t.dtype not in ("f32", "f64", "i64", "str"):
            raise UnsupportedError(f"{'input' if kind == 'in' else 'output'} {name!r} has element type {t.dtype}; "
                                   "the TVM targets take float32, float64 and int64 tensors")
        return Value(Tensor(name, t.dtype, t.shape, True), k.Buf(f"{kind}{i}", t.dtype, kind))
    ins = [value(n, i, "in") for i, n in enumerate(graph.inputs)]
    outs = [value(n, i, "out") for i, n in enumerate(graph.outputs)]
    for v in ins:
        if v.dtype == "str" and not front:
            raise UnsupportedError(f"input {v.info.name!r} holds strings; the TVM targets take numeric inputs only. "
                                   "Use the cpp or java targets for models with string columns")
    for v in outs:
        if v.dtype == "str" and v.info.name not in labels:
            raise UnsupportedError(f"output {v.info.name!r} holds strings the TVM graph cannot compute")
    return SimpleNamespace(inputs=ins, outputs=outs, tables=[], temps=[], scratch=[], block=0)


def _desc_lines(prefix: str, values: list, labels: dict, r: CppRenderer) -> list:
    lines = []
    for i, v in enumerate(values):
        dims = ", ".join(str(d) for d in v.shape) or "1"
        lines.append(f"const int64_t k{prefix}Shape{i}[] = {{{dims}}};")
    lines.append(f"const modelport_tvm::TensorDesc k{prefix}[] = {{")
    for i, v in enumerate(values):
        dtype = "i64" if v.info.name in labels else v.dtype
        lines.append(f"    {{modelport_tvm::ElemType::{ELEM[dtype]}, {len(v.shape)}, k{prefix}Shape{i}, {v.size}}},")
    lines.append("};")
    return lines


def front_code(front: onnx.ModelProto, name: str, sig: SimpleNamespace, tvm_input_names: list) -> SimpleNamespace:
    """The front of a model with string inputs (tvm_front.py) as C++ the stub runs first:
    `prelude` (its tables and a front_rows function), `body` (run_rows lines that run it and
    make `tvm_in`, TVM's inputs in its order), `tvm_inputs` (their Values), `headers`."""
    from ..ir import build_graph
    from ..lower import lower
    r = CppRenderer()
    program = lower(build_graph(front), f"{name}_front")
    names = [v.info.name for v in sig.inputs]
    crossing = {v.info.name: (j, v) for j, v in enumerate(program.outputs)}
    prelude = [cpp.table_source(b, r) for b in program.tables]
    prelude += ["// The nodes that read the string columns, on n rows: their numbers are TVM's inputs.",
                "void front_rows(const void* const* inputs, void* const* outputs, int64_t n) {",
                *cpp.run_body(program, r), "}"]
    body = []
    for j, v in enumerate(program.outputs):
        t = CTYPE[v.dtype]
        body.append(f"  std::unique_ptr<{t}[]> front{j}(new {t}[static_cast<size_t>(n) * {v.size}]);")
    body.append(f"  const void* front_in[] = {{{', '.join(f'inputs[{names.index(v.info.name)}]' for v in program.inputs)}}};")
    body.append(f"  void* front_out[] = {{{', '.join(f'front{j}.get()' for j in range(len(program.outputs)))}}};")
    body.append("  front_rows(front_in, front_out, n);")
    sources, values = [], []
    for tname in tvm_input_names:
        if tname in crossing:
            j, v = crossing[tname]
            sources.append(f"front{j}.get()")
        else:
            v = sig.inputs[names.index(tname)]
            sources.append(f"inputs[{names.index(tname)}]")
        values.append(v)
    body.append(f"  const void* tvm_in[] = {{{', '.join(sources)}}};")
    headers = ["modelport_kernel.hpp"] + cpp.procedure_headers(program, r)
    return SimpleNamespace(prelude=prelude, body=body, tvm_inputs=values, headers=headers)


def native(sig: SimpleNamespace, labels: dict, ns: str, device: str, batch: int = 0, front=None) -> dict:
    """The run_rows of the stub: calls modelport_tvm::Model (after the `front`, front_code's,
    when the model has string inputs); maps class indices to labels."""
    r = CppRenderer()
    tvm_inputs = front.tvm_inputs if front else sig.inputs
    feed = "tvm_in" if front else "inputs"
    prelude = _desc_lines("TvmInputs", tvm_inputs, labels, r) + _desc_lines("TvmOutputs", sig.outputs, labels, r)
    mapped = [(i, v) for i, v in enumerate(sig.outputs) if v.info.name in labels]
    for i, v in mapped:
        prelude.append(f"const char* const kLabels{i}[] = {{"
                       + ", ".join(r.string_literal(str(c)) for c in labels[v.info.name]) + "};")
    prelude += [
        f'const modelport_tvm::Model kTvmModel("{ns}_module.so", modelport_tvm::{device},',
        f"                                     kTvmInputs, {len(tvm_inputs)}, kTvmOutputs, {len(sig.outputs)}, {batch});",
    ]
    includes = ["modelport_tvm.hpp"] + (front.headers if front else [])
    prelude += front.prelude if front else []
    body = list(front.body) if front else []
    if not mapped:
        body.append(f"  kTvmModel.run({feed}, outputs, n);")
        return {"includes": includes, "prelude": prelude, "run_rows": body, "batch": batch}
    body.append(f"  void* tvm_outputs[] = {{{', '.join(f'outputs[{i}]' for i in range(len(sig.outputs)))}}};")
    for i, v in mapped:
        body += [f"  std::vector<int64_t> index{i}(static_cast<size_t>(n * {v.size}));",
                 f"  tvm_outputs[{i}] = index{i}.data();"]
    body.append(f"  kTvmModel.run({feed}, tvm_outputs, n);")
    for i, v in mapped:
        count = len(labels[v.info.name])
        body += [f"  std::string* labels{i} = static_cast<std::string*>(outputs[{i}]);",
                 f"  for (int64_t j = 0; j < n * {v.size}; ++j) {{",
                 f"    const int64_t c = index{i}[static_cast<size_t>(j)];",
                 f"    labels{i}[j] = (c >= 0 && c < {count}) ? kLabels{i}[c] : std::string();",
                 "  }"]
    return {"includes": includes, "prelude": prelude, "run_rows": body, "batch": batch}


def generate(sig, labels, schema, name, description, banner, device: str, batch: int = 0, front=None) -> dict:
    """The stub's sources; `front`: front_code's, for a model with string inputs."""
    ns = identifier(name)
    files = cpp.generate(sig, schema, name, description, banner,
                         native=native(sig, labels, ns, device, batch, front))
    files.pop("modelport_kernel.hpp", None)
    for h in front.headers if front else []:
        files[h] = resources.files("modelport.runtimes").joinpath("cpp", h).read_text()
    files["CMakeLists.txt"] = _cmake(ns, banner)
    for f in TVM_RUNTIME_FILES:
        files[f] = resources.files("modelport.runtimes").joinpath("tvm", f).read_text()
    return files


def _cmake(ns: str, banner: str) -> str:
    return "\n".join([
        f"# {banner}",
        "# Rebuilds the stub against the TVM runtime libraries in lib/ (headers: TVM_FFI_INCLUDE,",
        "# the include folder of the tvm_ffi Python package, or of an apache-tvm-ffi source tree).",
        "cmake_minimum_required(VERSION 3.16)",
        f"project({ns} CXX)",
        "set(CMAKE_CXX_STANDARD 17)",
        "set(CMAKE_CXX_STANDARD_REQUIRED ON)",
        "set(CMAKE_POSITION_INDEPENDENT_CODE ON)",
        'set(TVM_FFI_INCLUDE "" CACHE PATH "tvm_ffi include folder")',
        'if(NOT CMAKE_BUILD_TYPE)\n  set(CMAKE_BUILD_TYPE Release)\nendif()',
        f"add_library({ns} SHARED {ns}.cpp modelport_runtime.cpp modelport_tvm.cpp)",
        f"target_include_directories({ns} PRIVATE ${{TVM_FFI_INCLUDE}})",
        f"target_link_libraries({ns} PRIVATE ${{CMAKE_CURRENT_SOURCE_DIR}}/lib/libtvm_runtime.so "
        "${CMAKE_CURRENT_SOURCE_DIR}/lib/libtvm_ffi.so -Wl,--no-as-needed "
        "${CMAKE_CURRENT_SOURCE_DIR}/lib/libtvm_runtime_extra.so -Wl,--as-needed dl)",
        f"set_target_properties({ns} PROPERTIES BUILD_RPATH \"$ORIGIN/lib\" INSTALL_RPATH \"$ORIGIN/lib\")",
        f"add_executable({ns}_program {ns}_main.cpp)",
        f"target_link_libraries({ns}_program PRIVATE {ns})",
        f"set_target_properties({ns}_program PROPERTIES OUTPUT_NAME {ns} RUNTIME_OUTPUT_DIRECTORY bin",
        '  BUILD_RPATH "$ORIGIN/..;$ORIGIN/../lib" INSTALL_RPATH "$ORIGIN/..;$ORIGIN/../lib")',
        f"target_link_libraries({ns}_program PRIVATE ${{CMAKE_DL_LIBS}})",
        *cpp.SERVE_CMAKE,
    ]) + "\n"


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"C++ build of the TVM stub failed: {' '.join(cmd)}\n{proc.stderr[-4000:]}")


def build(src: Path, name: str, cuda: bool = False, jni: list | None = None) -> dict:
    """Compile the stub in `src` into lib<name>.so and bin/<name>, next to lib/ (the runtime).
    `jni`: the JDK include folders, when lib<name>.so also carries the Java stub's natives."""
    ns = identifier(name)
    cxx = cpp.compiler()
    libs = tvm_build.copy_runtime(src / "lib", cuda)
    includes = [f"-I{d}" for d in tvm_build.include_dirs() + list(jni or [])]
    runtime, job = cpp._runtime_object(cxx, src)
    plugin, plugin_job = cpp._serve_plugin(cxx, src)
    units = [ns, f"{ns}_main", "modelport_tvm"] + ([f"{ns}_tensors", f"{ns}_jni"] if jni else [])
    for unit in units:
        _run([cxx, *cpp.CXX_FLAGS, *includes, "-c", f"{unit}.cpp", "-o", f"{unit}.o"], src)
    if job is not None:
        proc, tmp, cmd = job
        _, err = proc.communicate()
        if proc.returncode != 0:
            raise BuildError(f"C++ build failed: {' '.join(cmd)}\n{err[-4000:]}")
        tmp.replace(runtime)
    # Only the CPU runtime is linked; the CUDA plugin is loaded when the model first runs.
    # --no-as-needed: nothing in the stub names a symbol of the extra runtime; it is loaded
    # for the functions it registers.
    link = ["-Wl,--no-as-needed"] + [f"lib/{lib}" for lib in libs if lib in CPU_RUNTIME] + ["-Wl,--as-needed", "-ldl"]
    _run([cxx, "-shared", f"{ns}.o", "modelport_tvm.o", *([f"{ns}_tensors.o"] if jni else []), str(runtime),
          "-o", f"lib{ns}.so",
          "-Wl,-rpath,$ORIGIN/lib", *link], src)
    if jni:
        # The Java stub's natives: no link to the TVM runtime (it loads lib<name>.so itself).
        _run([cxx, "-shared", f"{ns}_jni.o", "-o", f"lib{ns}_jni.so", "-ldl"], src)
    (src / "bin").mkdir(exist_ok=True)
    _run([cxx, f"{ns}_main.o", f"lib{ns}.so", "-o", f"bin/{ns}", "-Wl,-rpath,$ORIGIN/..:$ORIGIN/../lib",
          *link], src)
    for unit in units:
        (src / f"{unit}.o").unlink()
    info = {"compiler": cpp._version(cxx), "flags": cpp.CXX_FLAGS, "runtime": [f"lib/{lib}" for lib in libs]}
    # `bin/<name> serve`: the same HTTP server plugin as the cpp target's, in lib/.
    no_server = cpp.install_serve_plugin(plugin, plugin_job, src / "lib")
    if no_server:
        info["serve"] = f"not built: {no_server}"
    return info
