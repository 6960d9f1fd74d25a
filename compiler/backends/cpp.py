"""The `cpp` target: dependency-free C++17 source, built into a shared library, a static
library and a CSV command-line program with the system compiler."""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import BuildError
from ..kernel import ast as k
from ..kernel import walk
from ..lower import Program
from ..render.cpp import CppRenderer
from ..schema import Schema
from .naming import DTYPE_CODE, chunks, identifier, member_names

CXX_FLAGS = ["-std=c++17", "-O3", "-fPIC", "-fno-math-errno", "-DNDEBUG"]
# The HTTP server plugin's sources (modelport_serve.hpp is the program's side of it).
SERVE_FILES = ["modelport_serve.hpp", "modelport_serve.cpp", "modelport_json.hpp", "modelport_predict.hpp",
               "modelport_metrics.hpp", "modelport_shadow.hpp"]
RUNTIME_FILES = ["modelport_runtime.hpp", "modelport_runtime.cpp", "modelport_kernel.hpp", *SERVE_FILES]
# `bin/<name> serve` loads the HTTP server from here (modelport_serve.hpp), relative to bin/.
SERVE_PLUGIN = "lib/libmodelport_serve.so"
CTYPE = CppRenderer.types


# What the generated C functions do with an exception: record its message, return 4.
C_CATCH = ("catch (const std::exception& e) { modelport::set_last_error(e.what()); return 4; } "
           "catch (...) { modelport::set_last_error(\"the model failed\"); return 4; }")


def _c_value(v, dtype, r: CppRenderer) -> str:
    if dtype == "bool":
        return "1" if v else "0"
    if dtype == "str":
        return r.string_literal(str(v))
    return r.literal(v.item() if isinstance(v, np.generic) else v, dtype)


def table_source(buf: k.Buf, r: CppRenderer) -> str:
    data = buf.data if buf.data.size else np.zeros(1, dtype=buf.data.dtype)
    # Strings as C literals: constant-initialized, where an array of std::string needs a
    # constructor call each at load time (and g++ -O3 a minute for 5,000 of them).
    ctype = "char* const" if buf.dtype == "str" else CTYPE[buf.dtype]
    rows = chunks([_c_value(v, buf.dtype, r) for v in data.tolist()], 12)
    body = ",\n".join("    " + ", ".join(row) for row in rows)
    return f"static const {ctype} {buf.name}[] = {{\n{body}\n}};"


def procedure_headers(program: Program, r: CppRenderer) -> list:
    """The runtime headers of the procedures (text tokenizer, ...) the program's kernel calls."""
    return sorted({r.headers[p] for p in walk.procedures(program.body)})


def closed_levels(schema: Schema, program: Program) -> dict:
    """{input column index: [level, ...]} for the closed string input columns: only those
    values (and the empty string) are accepted. Shared with the Java backend."""
    dtypes = {v.info.name: v.dtype for v in program.inputs}
    return {j: [str(v) for v in c.levels] for j, c in enumerate(schema.inputs)
            if c.closed and c.levels and dtypes.get(c.tensor) == "str"}


def _spec_lines(ns: str, program: Program, schema: Schema, description: str, r: CppRenderer) -> list:
    lit = r.string_literal
    in_names = [v.info.name for v in program.inputs]
    out_names = [v.info.name for v in program.outputs]
    closed = closed_levels(schema, program)
    lines = []
    # Levels are data: they only ever appear inside escaped string literals.
    for j, levels in closed.items():
        body = ",\n".join("    " + ", ".join(row) for row in chunks([lit(v) for v in levels], 8))
        lines += [f"static const char* const kLevels{j}[] = {{", body, "};"]
    in_cols = [f"{{{lit(c.name)}, {in_names.index(c.tensor)}, {c.offset}"
               + (f", kLevels{j}, {len(closed[j])}" if j in closed else "") + "},"
               for j, c in enumerate(schema.inputs)]
    lines += ["static const modelport::TensorSpec kInputs[] = {"]
    lines += [f"    {{{lit(v.info.name)}, modelport::DType({DTYPE_CODE[v.dtype]}), {v.size}}}," for v in program.inputs]
    lines += ["};", "static const modelport::TensorSpec kOutputs[] = {"]
    lines += [f"    {{{lit(v.info.name)}, modelport::DType({DTYPE_CODE[v.dtype]}), {v.size}}}," for v in program.outputs]
    lines += ["};", "static const modelport::ColumnSpec kInputColumns[] = {"]
    lines += ["    " + line for line in in_cols]
    lines += ["};", "static const modelport::ColumnSpec kOutputColumns[] = {"]
    lines += [f"    {{{lit(c.name)}, {out_names.index(c.tensor)}, {c.offset}}}," for c in schema.outputs]
    lines += ["};"]
    desc = "\n".join("    " + lit(line + "\n") for line in description.splitlines()) or '""'
    lines += [
        "static const char kDescription[] =",
        desc + ";",
        "static const modelport::ModelSpec kSpec = {",
        f"    {lit(ns)}, kInputs, {len(program.inputs)}, kOutputs, {len(program.outputs)},",
        f"    kInputColumns, {len(schema.inputs)}, kOutputColumns, {len(schema.outputs)},",
        "    kDescription, &run_rows,",
        "};",
    ]
    if closed:
        lines += [
            "// The closed string columns' levels, indexed on first use.",
            "const modelport::LevelIndex& level_index() {",
            "  static const modelport::LevelIndex index(kSpec);",
            "  return index;",
            "}",
        ]
    return lines


def run_body(program: Program, r: CppRenderer) -> list:
    lines = []
    for i, v in enumerate(program.inputs):
        t = CTYPE[v.dtype]
        lines.append(f"  const {t}* {v.buf.name} = static_cast<const {t}*>(inputs[{i}]);")
    for i, v in enumerate(program.outputs):
        t = CTYPE[v.dtype]
        lines.append(f"  {t}* {v.buf.name} = static_cast<{t}*>(outputs[{i}]);")
    lines.append(f"  const int64_t cap = n < {program.block} ? n : {program.block};")
    # Working memory for one block, allocated once per call, never per row: one allocation
    # per element type, cut into the buffers (a single row would otherwise pay an allocation
    # per intermediate value).
    work = [(v.buf, v.size) for v in program.temps] + list(program.scratch)
    arenas = {}
    for buf, per_row in work:
        arenas.setdefault(CTYPE[buf.dtype], []).append((buf, per_row))
    for a, (t, bufs) in enumerate(arenas.items()):
        lines.append(f"  std::unique_ptr<{t}[]> work{a}(new {t}[cap * {sum(p for _, p in bufs)}]);")
        offset = 0
        for buf, per_row in bufs:
            lines.append(f"  {t}* {buf.name} = work{a}.get() + cap * {offset};")
            offset += per_row
    lines.append(f"  for (int64_t b0 = 0; b0 < n; b0 += {program.block}) {{")
    lines.append(f"    const int64_t nb = n - b0 < {program.block} ? n - b0 : {program.block};")
    lines += r.stmts(program.body, 2)
    lines.append("  }")
    return lines


REAL = {"float": "f32", "double": "f64"}  # the C type of a rows API -> the tensor type it passes as is


def runs(columns, names) -> list:
    """Columns as runs of consecutive elements of one tensor: [(first column, tensor index,
    first offset, length)], so that wide rows copy in a few statements, not one per column
    (compile time; Java's 64 KB a method). Shared with the Java backend."""
    out = []
    for j, c in enumerate(columns):
        i = names.index(c.tensor)
        if out and out[-1][1] == i and out[-1][0] + out[-1][3] == j and out[-1][2] + out[-1][3] == c.offset:
            out[-1][3] += 1
        else:
            out.append([j, i, c.offset, 1])
    return out


def _copy(dst: str, src: str, n: int, ctype: str) -> str:
    """`dst[...] = src[...]` converted to `ctype`, for one element or a run of `n` (the index
    expressions get `+ k`)."""
    if n == 1:
        return f"{dst.format(k='')} = static_cast<{ctype}>({src.format(k='')});"
    return (f"for (int64_t k = 0; k < {n}; ++k) "
            f"{dst.format(k=' + k')} = static_cast<{ctype}>({src.format(k=' + k')});")


def _rows(program: Program, schema: Schema, real: str, batch: int = 0) -> list:
    """Model::predict over rows of `real` ("float" or "double"), specialized to this model's
    tensors: columns are gathered into typed blocks (on the stack when small) and outputs
    scattered back, narrowed with static_cast (round to nearest even) or widened. A single
    input and output of the rows' own type whose columns are the tensors' own elements pass
    straight through, all rows in one call. `batch`: the fixed batch of a TVM stub, which runs
    whole multiples of it (a smaller block would pad every block to a full batch)."""
    head = f"int Model::predict(const {real}* x, int64_t n_rows, {real}* y) {{"
    if any(v.dtype == "i64" for v in program.inputs):
        # Integer inputs need the runtime's integrality check.
        return [head, f"  return modelport::predict_{real}_rows(kSpec, x, n_rows, y);", "}"]
    n_in, n_out = len(schema.inputs), len(schema.outputs)
    widest = max([v.size for v in program.inputs + program.outputs] + [1])
    in_names = [v.info.name for v in program.inputs]
    out_names = [v.info.name for v in program.outputs]
    direct_in = (len(program.inputs) == 1 and program.inputs[0].dtype == REAL[real]
                 and [(c.tensor, c.offset) for c in schema.inputs] == [(in_names[0], i) for i in range(n_in)])
    direct_out = (len(program.outputs) == 1 and program.outputs[0].dtype == REAL[real]
                  and [(c.tensor, c.offset) for c in schema.outputs] == [(out_names[0], i) for i in range(n_out)])
    lines = [head, "  if (n_rows < 0 || (n_rows > 0 && (x == nullptr || y == nullptr))) return 1;"]
    if direct_in and direct_out:
        return lines + ["  const void* inputs[] = {x};", "  void* outputs[] = {y};", "  run(inputs, outputs, n_rows);",
                        "  return 0;", "}"]
    block = max(1, min(256, 4096 // widest))
    if batch:
        block = batch * max(1, block // batch)
    lines.append(f"  constexpr int64_t kBlock = {block};")
    # Up to 4096 values a tensor on the stack (no allocation per call); more on the heap.
    on_stack = block * widest <= 4096
    buffers = [(f"in{i}", v) for i, v in enumerate(program.inputs) if not direct_in]
    buffers += [(f"out{i}", v) for i, v in enumerate(program.outputs) if not direct_out]
    for buf, v in buffers:
        if on_stack:
            lines.append(f"  {CTYPE[v.dtype]} {buf}[kBlock * {v.size}];")
        else:
            lines += [f"  std::vector<{CTYPE[v.dtype]}> {buf}_storage(static_cast<size_t>(kBlock * {v.size}));",
                      f"  {CTYPE[v.dtype]}* {buf} = {buf}_storage.data();"]
    lines += ["  for (int64_t b = 0; b < n_rows; b += kBlock) {",
              "    const int64_t m = n_rows - b < kBlock ? n_rows - b : kBlock;",
              f"    const {real}* xb = x + b * {n_in};",
              f"    {real}* yb = y + b * {n_out};"]
    if direct_in:
        lines.append("    const void* inputs[] = {xb};")
    else:
        lines.append("    for (int64_t r = 0; r < m; ++r) {")
        for j, i, off, n in runs(schema.inputs, in_names):
            v = program.inputs[i]
            lines.append("      " + _copy(f"in{i}[r * {v.size} + {off}{{k}}]", f"xb[r * {n_in} + {j}{{k}}]", n,
                                          CTYPE[v.dtype]))
        lines.append("    }")
        lines.append(f"    const void* inputs[] = {{{', '.join(f'in{i}' for i in range(len(program.inputs)))}}};")
    if direct_out:
        lines.append("    void* outputs[] = {yb};")
    else:
        lines.append(f"    void* outputs[] = {{{', '.join(f'out{i}' for i in range(len(program.outputs)))}}};")
    lines.append("    run(inputs, outputs, m);")
    if not direct_out:
        lines.append("    for (int64_t r = 0; r < m; ++r) {")
        for j, i, off, n in runs(schema.outputs, out_names):
            v = program.outputs[i]
            lines.append("      " + _copy(f"yb[r * {n_out} + {j}{{k}}]", f"out{i}[r * {v.size} + {off}{{k}}]", n, real))
        lines.append("    }")
    lines += ["  }", "  return 0;", "}"]
    return lines


# The HTTP server plugin in an artifact's CMakeLists.txt (the TVM stubs' too): built when the Boost
# headers (Beast, Asio: header-only) are found; without them the rest builds and `serve` says so.
SERVE_CMAKE = [
    "# `bin/<name> serve` (the HTTP server) loads lib/libmodelport_serve.so, built here when the Boost",
    "# headers are found (Beast and Asio, header-only; Debian/Ubuntu: apt-get install libboost-dev). Like",
    "# the CSV program and the libraries, it needs nothing at run time but the C++ runtime.",
    "find_path(BOOST_BEAST_DIR boost/beast/http.hpp)",
    "find_package(Threads)",
    "if(BOOST_BEAST_DIR AND Threads_FOUND)",
    "  add_library(modelport_serve MODULE modelport_serve.cpp modelport_runtime.cpp)",
    "  target_include_directories(modelport_serve PRIVATE ${BOOST_BEAST_DIR})",
    "  target_link_libraries(modelport_serve PRIVATE Threads::Threads)",
    "  set_target_properties(modelport_serve PROPERTIES PREFIX lib LIBRARY_OUTPUT_DIRECTORY lib)",
    "else()",
    '  message(WARNING "Boost headers (boost/beast) not found: building without the HTTP server (serve); "',
    '          "apt-get install libboost-dev")',
    "endif()",
]


def generate(program: Program, schema: Schema, name: str, description: str, banner: str,
             native: dict | None = None) -> dict:
    """Return {relative path: text} for the C++ sources of `program`.

    `native` replaces the generated kernel by another implementation of the same tensors
    (the TVM stubs): {"includes": [header], "prelude": [lines at file scope],
    "run_rows": [body lines of run_rows(inputs, outputs, n)], "batch": the implementation's
    fixed batch, or 0}; `program` then needs only its inputs and outputs."""
    r = CppRenderer()
    ns = identifier(name)
    numeric = all(v.dtype != "str" for v in program.inputs)
    float_out = all(v.dtype != "str" for v in program.outputs)
    closed = closed_levels(schema, program)
    headers = [] if native else procedure_headers(program, r)
    throws = (["  // Throws std::invalid_argument when a closed string column holds a value that is not",
               "  // one of its levels (see describe()); the empty string (a missing value) is accepted."]
              if closed else [])
    in_members = member_names([v.info.name for v in program.inputs], "")
    out_members = member_names([v.info.name for v in program.outputs], "")
    hpp = [
        f"// {ns}.hpp: {banner}",
        "#pragma once",
        "#include <cstdint>",
        "#include <initializer_list>",
        "#include <string>",
        "#include <vector>",
        "",
        "namespace modelport { struct ModelSpec; }",
        "",
        f"namespace {ns} {{",
        "",
        "// Typed inputs and outputs: one pointer per tensor, row-major, `n` rows each.",
        "struct Inputs {",
        *[f"  const {CTYPE[v.dtype]}* {m};  // {v.size} per row" for v, m in zip(program.inputs, in_members)],
        "};",
        "struct Outputs {",
        *[f"  {CTYPE[v.dtype]}* {m};  // {v.size} per row" for v, m in zip(program.outputs, out_members)],
        "};",
        "",
        "class Model {",
        " public:",
        f"  static constexpr int64_t kNumInputColumns = {len(schema.inputs)};",
        f"  static constexpr int64_t kNumOutputColumns = {len(schema.outputs)};",
        "  // Batch prediction on typed buffers. Thread-safe: the model holds no mutable state.",
        *throws,
        "  static void predict(const Inputs& in, int64_t n, Outputs& out);",
        "  // The same over type-erased buffers (inputs[i], outputs[i] in tensor order).",
        "  static void run(const void* const* inputs, void* const* outputs, int64_t n);",
    ]
    if numeric and float_out:
        hpp += [
            "  // Rows of numbers in input-column order (x: n_rows * kNumInputColumns values, row-major)",
            "  // -> rows in output-column order (y: n_rows * kNumOutputColumns values, preallocated).",
            "  // Returns 0 on success, 1 for a null pointer or negative n_rows, 3 when a value for an",
            "  // integer input is not an integer (an exception of the model propagates; the C",
            "  // functions below return 4 for it instead).",
            "  // The double overload passes float64 tensors exactly and narrows values for float32",
            "  // tensors as numpy's float64 -> float32 does (round to nearest even). The float overload",
            "  // rounds every input and output to float32: for a float64 model that loses exactness.",
            "  static int predict(const double* x, int64_t n_rows, double* y);",
            "  static int predict(const float* x, int64_t n_rows, float* y);",
            "  // One row: x has kNumInputColumns values; returns kNumOutputColumns values (empty when x",
            "  // has the wrong size or a value is refused). A braced list, predict_row({5.1, 3.5}),",
            "  // takes the float overload; pass a std::vector<double> for the double one.",
            "  static std::vector<double> predict_row(const std::vector<double>& x);",
            "  static std::vector<float> predict_row(const std::vector<float>& x);",
            "  static std::vector<float> predict_row(std::initializer_list<float> x);",
        ]
    hpp += [
        "  // Column names, in CSV order.",
        "  static std::vector<std::string> input_columns();",
        "  static std::vector<std::string> output_columns();",
        "  // Human-readable schema: inputs, outputs, classes, provenance.",
        "  static const char* describe();",
        "  // The table the CSV program and the C ABI are driven by.",
        "  static const modelport::ModelSpec& spec();",
        "};",
        "",
        f"}}  // namespace {ns}",
    ]
    if numeric and float_out:
        hpp += [
            "",
            'extern "C" {',
            "// Model::predict over rows: x and y as there. _f64 keeps float64 tensors exact; the float",
            "// function rounds inputs and outputs to float32.",
            f"int {ns}_predict_f64(const double* x, int64_t n_rows, double* y);",
            f"int {ns}_predict(const float* x, int64_t n_rows, float* y);",
            f"int64_t {ns}_num_features(void);",
            f"int64_t {ns}_num_outputs(void);",
            "// What this thread's last call of the two functions above says: \"\" after a success (0),",
            "// else what went wrong. Valid until this thread's next call.",
            f"const char* {ns}_last_error(void);",
            "}",
        ]
    cpp = [
        f"// {ns}.cpp: {banner}",
        f'#include "{ns}.hpp"',
        "",
        "#include <cmath>",
        "#include <cstdint>",
        "#include <initializer_list>",
        "#include <limits>",
        "#include <memory>",
        "#include <stdexcept>",
        "#include <string>",
        "#include <string_view>",
        "#include <vector>",
        "",
        *([] if native else ['#include "modelport_kernel.hpp"']),
        *[f'#include "{h}"' for h in headers],
        '#include "modelport_runtime.hpp"',
        *[f'#include "{h}"' for h in (native or {}).get("includes", [])],
        "",
        "namespace {",
        "",
        *(native["prelude"] if native else [table_source(b, r) for b in program.tables]),
        "",
        "}  // namespace",
        "",
        f"namespace {ns} {{",
        "",
        "namespace {",
        "",
        "// The model on n rows; the CSV program (kSpec.run) checks the input itself.",
        "void run_rows(const void* const* inputs, void* const* outputs, int64_t n) {",
        *(native["run_rows"] if native else run_body(program, r)),
        "}",
        "",
        *_spec_lines(ns, program, schema, description, r),
        "}  // namespace",
        "",
        "void Model::run(const void* const* inputs, void* const* outputs, int64_t n) {",
        *(["  level_index().check(inputs, n);"] if closed else []),
        "  run_rows(inputs, outputs, n);",
        "}",
        "",
        "void Model::predict(const Inputs& in, int64_t n, Outputs& out) {",
        f"  const void* inputs[] = {{{', '.join('in.' + m for m in in_members)}}};",
        f"  void* outputs[] = {{{', '.join('out.' + m for m in out_members)}}};",
        "  run(inputs, outputs, n);",
        "}",
        "",
        "const modelport::ModelSpec& Model::spec() { return kSpec; }",
        "const char* Model::describe() { return kDescription; }",
        "std::vector<std::string> Model::input_columns() {",
        "  std::vector<std::string> out;",
        "  for (const auto& c : kInputColumns) out.emplace_back(c.name);",
        "  return out;",
        "}",
        "std::vector<std::string> Model::output_columns() {",
        "  std::vector<std::string> out;",
        "  for (const auto& c : kOutputColumns) out.emplace_back(c.name);",
        "  return out;",
        "}",
    ]
    if numeric and float_out:
        batch = (native or {}).get("batch", 0)
        cpp += [*_rows(program, schema, "double", batch), *_rows(program, schema, "float", batch)]
        for real in ("double", "float"):
            cpp += [
                f"std::vector<{real}> Model::predict_row(const std::vector<{real}>& x) {{",
                f"  std::vector<{real}> y(kNumOutputColumns);",
                "  if (static_cast<int64_t>(x.size()) != kNumInputColumns || predict(x.data(), 1, y.data()) != 0) y.clear();",
                "  return y;",
                "}",
            ]
        cpp += ["std::vector<float> Model::predict_row(std::initializer_list<float> x) {",
                "  return predict_row(std::vector<float>(x));", "}"]
    cpp += ["", f"}}  // namespace {ns}"]
    cpp += [
        "",
        "// The model's spec for a program that loads this library (a server's --shadow model). `abi`:",
        "// the ModelSpec layout the caller reads (modelport::kServeAbi); null for another one.",
        "// Weak: a program that links several models' static libraries still links.",
        'extern "C" __attribute__((weak, visibility("default"))) const modelport::ModelSpec* modelport_model_spec(int abi) {',
        f"  return abi == 1 ? &{ns}::Model::spec() : nullptr;",
        "}",
    ]
    if numeric and float_out:
        cpp += [
            "",
            'extern "C" {',
            f"int {ns}_predict_f64(const double* x, int64_t n_rows, double* y) {{",
            "  // No exception crosses the C boundary: modelport::kPredictModelError and its message.",
            f"  try {{ return modelport::predict_result({ns}::Model::predict(x, n_rows, y)); }} {C_CATCH}",
            "}",
            f"int {ns}_predict(const float* x, int64_t n_rows, float* y) {{",
            f"  try {{ return modelport::predict_result({ns}::Model::predict(x, n_rows, y)); }} {C_CATCH}",
            "}",
            f"int64_t {ns}_num_features(void) {{ return {ns}::Model::kNumInputColumns; }}",
            f"int64_t {ns}_num_outputs(void) {{ return {ns}::Model::kNumOutputColumns; }}",
            f"const char* {ns}_last_error(void) {{ return modelport::last_error(); }}",
            "}",
        ]
    main = [
        f"// {ns}_main.cpp: {banner}",
        "// `serve ...` runs the HTTP server (loaded from lib/libmodelport_serve.so), anything else the",
        "// CSV program.",
        f'#include "{ns}.hpp"',
        '#include "modelport_serve.hpp"',
        "",
        f"int main(int argc, char** argv) {{ return modelport::program_main({ns}::Model::spec(), argc, argv); }}",
    ]
    cmake = [
        f"# {banner}",
        "cmake_minimum_required(VERSION 3.16)",
        f"project({ns} CXX)",
        "set(CMAKE_CXX_STANDARD 17)",
        "set(CMAKE_CXX_STANDARD_REQUIRED ON)",
        "set(CMAKE_POSITION_INDEPENDENT_CODE ON)",
        'if(NOT CMAKE_BUILD_TYPE)\n  set(CMAKE_BUILD_TYPE Release)\nendif()',
        f"add_library({ns} SHARED {ns}.cpp modelport_runtime.cpp)",
        f"add_library({ns}_static STATIC {ns}.cpp modelport_runtime.cpp)",
        f"set_target_properties({ns}_static PROPERTIES OUTPUT_NAME {ns})",
        f"add_executable({ns}_program {ns}_main.cpp)",
        f"target_link_libraries({ns}_program PRIVATE {ns}_static ${{CMAKE_DL_LIBS}})",
        f"set_target_properties({ns}_program PROPERTIES OUTPUT_NAME {ns} RUNTIME_OUTPUT_DIRECTORY bin)",
        *SERVE_CMAKE,
    ]
    files = {f"{ns}.hpp": "\n".join(hpp) + "\n", f"{ns}.cpp": "\n".join(cpp) + "\n",
             f"{ns}_main.cpp": "\n".join(main) + "\n", "CMakeLists.txt": "\n".join(cmake) + "\n"}
    for f in RUNTIME_FILES + headers:
        files[f] = resources.files("modelport.runtimes").joinpath("cpp", f).read_text()
    return files


def compiler() -> str:
    cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if not cxx:
        raise BuildError("no C++ compiler found (looked for g++, c++, clang++): install one, e.g. "
                         "`apt-get install g++`, or leave out the cpp target")
    return cxx


def _run(cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError(f"C++ build failed: {' '.join(cmd)}\n{proc.stderr[-4000:]}")


def _version(cxx: str) -> str:
    return subprocess.run([cxx, "--version"], capture_output=True, text=True).stdout.splitlines()[0]


def _cached(stem: str, suffix: str, key: bytes) -> tuple:
    """(path, None) of a build product kept in the user's cache (MODELPORT_CACHE, else
    ~/.cache/modelport) under a hash of `key`, or (path, temporary path to build it at) when it
    is not there yet."""
    cache = Path(os.environ.get("MODELPORT_CACHE") or Path.home() / ".cache" / "modelport") / "cpp-runtime"
    path = cache / f"{stem}-{hashlib.sha256(key).hexdigest()[:20]}{suffix}"
    if path.exists():
        return path, None
    cache.mkdir(parents=True, exist_ok=True)
    return path, cache / f".{path.name}.{os.getpid()}.tmp"


def _runtime_object(cxx: str, src: Path) -> tuple:
    """The runtime's object file: it is the same for every model, so it is compiled once per
    toolchain and source and kept in the user's cache (MODELPORT_CACHE, else ~/.cache/modelport).
    Returns (path, Popen or None)."""
    text = (src / "modelport_runtime.cpp").read_bytes() + (src / "modelport_runtime.hpp").read_bytes()
    obj, tmp = _cached("modelport_runtime", ".o", text + _version(cxx).encode() + " ".join(CXX_FLAGS).encode())
    if tmp is None:
        return obj, None
    cmd = [cxx, *CXX_FLAGS, "-c", str(src / "modelport_runtime.cpp"), "-o", str(tmp)]
    return obj, (subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True), tmp, cmd)


@functools.lru_cache(maxsize=None)
def _boost(cxx: str) -> str | None:
    """The version of the Boost headers the server plugin is compiled with (Beast and Asio,
    header-only: nothing to link), or None when they are missing."""
    probe = subprocess.run([cxx, "-std=c++17", "-E", "-P", "-x", "c++", "-", "-o", "-"], input=(
        "#include <boost/version.hpp>\n#include <boost/beast/version.hpp>\nmodelport_boost BOOST_LIB_VERSION\n"),
        capture_output=True, text=True)
    if probe.returncode != 0:
        return None
    line = [w for w in probe.stdout.splitlines() if w.startswith("modelport_boost ")]
    return line[-1].split(None, 1)[1].strip('"') if line else "unknown"


def _serve_plugin(cxx: str, src: Path) -> tuple:
    """The HTTP server plugin (lib/libmodelport_serve.so): the same for every model, so built once
    per toolchain and source and kept in the user's cache, like the runtime object. Returns
    (path, Popen job or None), or (None, reason) when the Boost headers are missing."""
    version = _boost(cxx)
    if version is None:
        return None, "the Boost headers (boost/beast) are not installed (apt-get install libboost-dev)"
    sources = [*SERVE_FILES, "modelport_runtime.cpp", "modelport_runtime.hpp"]
    text = b"".join((src / f).read_bytes() for f in sources)
    lib, tmp = _cached("libmodelport_serve", ".so", text + _version(cxx).encode() + " ".join(CXX_FLAGS + [version]).encode())
    if tmp is None:
        return lib, None
    # -Bsymbolic: the plugin's runtime calls stay in the plugin, whatever the program exports.
    cmd = [cxx, *CXX_FLAGS, "-shared", str(src / "modelport_serve.cpp"), str(src / "modelport_runtime.cpp"),
           "-o", str(tmp), "-pthread", "-Wl,-Bsymbolic"]
    return lib, (subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True), tmp, cmd)


def finish_job(path: Path, job) -> None:
    """Waits for a background compile of _runtime_object or _serve_plugin and moves its output
    into the cache."""
    if job is None:
        return
    proc, tmp, cmd = job
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise BuildError(f"C++ build failed: {' '.join(cmd)}\n{err[-4000:]}")
    os.replace(tmp, path)


def install_serve_plugin(plugin, job, lib_dir: Path) -> str:
    """Copies the built plugin into `lib_dir`; returns "" or why there is no server."""
    if plugin is None:
        return job
    try:
        finish_job(plugin, job)
    except BuildError as e:  # the server is optional: the model's libraries and CSV program stand
        return str(e)
    lib_dir.mkdir(exist_ok=True)
    shutil.copyfile(plugin, lib_dir / "libmodelport_serve.so")
    return ""


def build(src: Path, name: str) -> dict:
    """Compile the sources in `src` into lib<name>.so, lib<name>.a, bin/<name> and the HTTP server
    plugin lib/libmodelport_serve.so (which only `bin/<name> serve` loads), in place."""
    ns = identifier(name)
    cxx = compiler()
    runtime, job = _runtime_object(cxx, src)
    plugin, plugin_job = _serve_plugin(cxx, src)
    _run([cxx, *CXX_FLAGS, "-c", f"{ns}.cpp", "-o", f"{ns}.o"], src)
    _run([cxx, *CXX_FLAGS, "-c", f"{ns}_main.cpp", "-o", f"{ns}_main.o"], src)
    finish_job(runtime, job)
    _run([cxx, "-shared", f"{ns}.o", str(runtime), "-o", f"lib{ns}.so"], src)
    _run(["ar", "rcs", f"lib{ns}.a", f"{ns}.o", str(runtime)], src)
    (src / "bin").mkdir(exist_ok=True)
    _run([cxx, f"{ns}_main.o", f"{ns}.o", str(runtime), "-o", f"bin/{ns}", "-ldl"], src)
    for o in (f"{ns}.o", f"{ns}_main.o"):
        (src / o).unlink()
    no_server = install_serve_plugin(plugin, plugin_job, src / "lib")
    info = {"compiler": _version(cxx), "flags": CXX_FLAGS}
    if no_server:
        info["serve"] = f"not built: {no_server}"
    return info

NEEDS_PROGRAM = True


def emit(directory: Path, program, schema, name, description, banner, **_) -> dict:
    directory.mkdir(parents=True)
    files = generate(program, schema, name, description, banner)
    for rel, text in files.items():
        (directory / rel).write_text(text)
    info = build(directory, name)
    ns = identifier(name)
    info["files"] = sorted(files) + [f"lib{ns}.so", f"lib{ns}.a", f"bin/{ns}"] + ([] if "serve" in info else [SERVE_PLUGIN])
    return info
