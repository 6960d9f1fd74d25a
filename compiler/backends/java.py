"""The `java` target: dependency-free Java 11 source and a jar that is also a CSV program.

Tables (numbers and strings) travel as one little-endian resource in the jar, read once at class
initialization: nothing big is inlined into methods, so Java's 64 KB method and
constant-pool limits do not bound model size.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import BuildError
from ..kernel import walk
from ..lower import Program
from ..render.java import JavaRenderer
from ..schema import Schema
from .cpp import _cached, closed_levels, runs
from .naming import DTYPE_CODE, class_name

PACKAGE = "modelport.models"
JTYPE = JavaRenderer.types
READER = {"str": "strings", "f32": "floats", "f64": "doubles", "i64": "longs", "i32": "ints", "bool": "booleans"}
LE = {"f32": "<f4", "f64": "<f8", "i64": "<i8", "i32": "<i4", "bool": "u1"}
RUNTIME_SOURCES = ["ModelSpec.java", "CsvProgram.java", "Kernel.java", "TextCounts.java", "Server.java", "Json.java",
                   "Metrics.java", "RequestLog.java", "Shadow.java"]


def _blob(program: Program) -> bytes:
    """Every table in order: numbers little-endian; strings as (int32 byte length, UTF-8)."""
    parts = []
    for b in program.tables:
        if b.dtype == "str":
            for v in b.data.tolist():
                data = str(v).encode("utf-8", "surrogatepass")
                parts += [np.int32(len(data)).astype("<i4").tobytes(), data]
        else:
            parts.append(np.ascontiguousarray(b.data.astype(LE[b.dtype])).tobytes())
    return b"".join(parts)


def _copy(dst: str, dst_at: str, src: str, src_at: str, n: int, cast: str) -> str:
    if n == 1:
        return f"{dst}[{dst_at}] = {cast}{src}[{src_at}];"
    if not cast:
        return f"System.arraycopy({src}, {src_at}, {dst}, {dst_at}, {n});"
    return f"for (int k = 0; k < {n}; k++) {dst}[{dst_at} + k] = {cast}{src}[{src_at} + k];"


REAL = {"float": "f32", "double": "f64"}  # the Java type of a rows API -> the tensor type it copies as is


def _rows(program: Program, schema: Schema, real: str) -> list:
    """predict(float[][]) or predict(double[][]) (`real`) specialized to this model: typed
    arrays filled straight from the rows, one copy per run of columns that are consecutive
    elements of one tensor; values narrowed with (float) (round to nearest even) or widened."""
    head = f"    public static {real}[][] predict({real}[][] rows) {{"
    if any(v.dtype == "i64" for v in program.inputs):
        # Integer inputs need the runtime's integrality check.
        return [head, f"        return CsvProgram.predict{real.title()}Rows(SPEC, rows);", "    }"]
    n_in, n_out = len(schema.inputs), len(schema.outputs)
    ins, outs = program.inputs, program.outputs
    lines = [head, "        final int n = rows.length;"]
    for i, v in enumerate(ins):
        lines.append(f"        final {JTYPE[v.dtype]}[] in{i} = new {JTYPE[v.dtype]}[n * {v.size}];")
    lines.append("        for (int r = 0; r < n; r++) {")
    lines.append(f"            final {real}[] row = rows[r];")
    lines.append(f"            if (row.length != {n_in}) {{")
    lines.append(f'                throw new IllegalArgumentException("row " + r + " has " + row.length + " values, expected {n_in}");')
    lines.append("            }")
    for j, i, off, n in runs(schema.inputs, [v.info.name for v in ins]):
        cast = "" if ins[i].dtype == REAL[real] else f"({JTYPE[ins[i].dtype]}) "
        lines.append("            " + _copy(f"in{i}", f"r * {ins[i].size} + {off}", "row", str(j), n, cast))
    lines.append("        }")
    for i, v in enumerate(outs):
        lines.append(f"        final {JTYPE[v.dtype]}[] out{i} = new {JTYPE[v.dtype]}[n * {v.size}];")
    lines.append(f"        run(new Object[] {{{', '.join(f'in{i}' for i in range(len(ins)))}}}, "
                 f"new Object[] {{{', '.join(f'out{i}' for i in range(len(outs)))}}}, n);")
    lines.append(f"        final {real}[][] y = new {real}[n][{n_out}];")
    lines.append("        for (int r = 0; r < n; r++) {")
    lines.append(f"            final {real}[] yr = y[r];")
    for j, i, off, n in runs(schema.outputs, [v.info.name for v in outs]):
        # A widening needs the cast too: System.arraycopy copies between arrays of one type only.
        cast = "" if outs[i].dtype == REAL[real] else f"({real}) "
        lines.append("            " + _copy("yr", str(j), f"out{i}", f"r * {outs[i].size} + {off}", n, cast))
    lines += ["        }", "        return y;", "    }"]
    return lines


INLINE_LEVELS = 64  # longer level lists are packed (see _levels_expr)
PACK_CHUNK = 8192  # code points per packed literal: under Java's 65,535-byte constant limit


def _levels_expr(levels: list, lit) -> str:
    """A Java expression for a String[] of `levels`. Short lists are written out; long ones
    are packed as "<UTF-16 length>:<text>" records in a few literals (ModelSpec.unpackLevels),
    so that neither the constant pool nor the class initializer's 64 KB grows per level."""
    if len(levels) <= INLINE_LEVELS:
        return f"new String[] {{{', '.join(lit(v) for v in levels)}}}"
    packed = "".join(f"{len(v.encode('utf-16-le')) // 2}:{v}" for v in levels)
    parts = [lit(packed[i:i + PACK_CHUNK]) for i in range(0, len(packed), PACK_CHUNK)]
    return f"ModelSpec.unpackLevels({len(levels)}, new String[] {{\n                {(',' + chr(10) + '                ').join(parts)}}})"


def generate(program: Program, schema: Schema, name: str, description: str, banner: str,
             native: dict | None = None) -> dict:
    """{relative path: text or bytes} of the Java sources of `program`.

    `native` replaces the generated kernel by another implementation of the same tensors
    (the TVM stubs' JNI): {"members": [class body lines], "run_rows": [body lines of
    runRows(inputs, outputs, n)]}; `program` then needs only its inputs and outputs."""
    r = JavaRenderer()
    cls = class_name(name)
    lit = r.string_literal
    numeric = all(v.dtype != "str" for v in program.inputs) and all(v.dtype != "str" for v in program.outputs)
    in_names = [v.info.name for v in program.inputs]
    out_names = [v.info.name for v in program.outputs]
    lines = [
        f"// {cls}.java: {banner}",
        f"package {PACKAGE};",
        "",
        "import modelport.runtime.CsvProgram;",
        "import modelport.runtime.Kernel;",
        "import modelport.runtime.ModelSpec;",
        "",
        "/** A compiled model. Thread-safe: it holds no mutable state. */",
        f"public final class {cls} {{",
        f"    private {cls}() {{}}",
        "",
    ]
    if native:
        lines += native["members"] + [""]
    else:
        lines += _tables(program, cls)
    # The spec.
    lines.append("    /** Inputs, outputs and CSV columns; drives the CSV program. */")
    lines.append("    public static final ModelSpec SPEC = new ModelSpec(")
    lines.append(f"        {lit(name)},")
    lines.append("        new ModelSpec.TensorSpec[] {")
    lines += [f"            new ModelSpec.TensorSpec({lit(v.info.name)}, {DTYPE_CODE[v.dtype]}, {v.size})," for v in program.inputs]
    lines.append("        },")
    lines.append("        new ModelSpec.TensorSpec[] {")
    lines += [f"            new ModelSpec.TensorSpec({lit(v.info.name)}, {DTYPE_CODE[v.dtype]}, {v.size})," for v in program.outputs]
    lines.append("        },")
    closed = closed_levels(schema, program)
    # Levels are data: they only ever appear inside escaped string literals.
    lines += _columns_expr([(c, in_names.index(c.tensor), _levels_expr(closed[j], lit) if j in closed else None)
                            for j, c in enumerate(schema.inputs)], lit)
    lines += _columns_expr([(c, out_names.index(c.tensor), None) for c in schema.outputs], lit)
    desc = [lit(line + "\n") for line in description.splitlines()] or ['""']
    lines.append("        " + "\n            + ".join(desc) + ",")
    lines.append(f"        {cls}::runRows);")
    lines.append("")
    # run
    lines += [
        "    /**",
        "     * Batch prediction over flat row-major arrays, one per tensor (float[], double[], long[] or String[]).",
        *(["     *",
           "     * @throws IllegalArgumentException when a closed string column holds a value that is not one",
           "     *     of its levels (see describe()); the empty string (a missing value) is accepted"]
          if closed else []),
        "     */",
        "    public static void run(Object[] inputs, Object[] outputs, int n) {",
        *(["        SPEC.checkLevels(inputs, n);"] if closed else []),
        "        runRows(inputs, outputs, n);",
        "    }",
        "",
        "    /** The model on n rows; the CSV program (SPEC) checks the input itself. */",
        "    private static void runRows(Object[] inputs, Object[] outputs, int n) {",
    ]
    if native:
        lines += native["run_rows"] + ["    }", ""]
    else:
        lines += _kernel(program, r)
    lines += _api(cls, program, schema, numeric)
    pkg_dir = "src/" + PACKAGE.replace(".", "/")
    files = {f"{pkg_dir}/{cls}.java": "\n".join(lines) + "\n"}
    if not native:
        files[f"{pkg_dir}/{cls}.bin"] = _blob(program)
    for f in RUNTIME_SOURCES:
        files[f"src/modelport/runtime/{f}"] = resources.files("modelport.runtimes").joinpath(
            "java", "modelport", "runtime", f).read_text()
    return files


RANGE_MIN = 16  # runs of at least this many numbered columns are built in a loop


def _columns_expr(cols: list, lit) -> list:
    """The ColumnSpec[] argument lines for [(Column, tensor index, levels expr or None)].
    Runs of columns named <prefix><i> over consecutive elements of one tensor become
    ModelSpec.range(...) calls, so that wide tensors cost a loop, not one call each."""
    parts, single = [], []
    i = 0
    while i < len(cols):
        j = i
        c0, t0, lv0 = cols[i]
        prefix = c0.name[:len(c0.name) - len(str(c0.offset))] if c0.name.endswith(str(c0.offset)) else None
        while (prefix is not None and lv0 is None and j + 1 < len(cols) and cols[j + 1][2] is None
               and cols[j + 1][1] == t0 and cols[j + 1][0].offset == cols[j][0].offset + 1
               and cols[j + 1][0].name == f"{prefix}{cols[j + 1][0].offset}"):
            j += 1
        if prefix is not None and j - i + 1 >= RANGE_MIN and c0.offset == 0:
            if single:
                parts.append(single)
                single = []
            parts.append(f"ModelSpec.range({lit(prefix)}, {t0}, 0, {j - i + 1})")
            i = j + 1
            continue
        single.append(f"new ModelSpec.ColumnSpec({lit(c0.name)}, {t0}, {c0.offset}" + (f", {lv0}" if lv0 else "") + ")")
        i += 1
    if single:
        parts.append(single)

    def array(items):
        return ["        new ModelSpec.ColumnSpec[] {"] + [f"            {x}," for x in items] + ["        }"]

    if len(parts) == 1 and isinstance(parts[0], list):
        return [*array(parts[0])[:-1], "        },"]
    lines = ["        ModelSpec.concat("]
    for k, p in enumerate(parts):
        sep = "," if k < len(parts) - 1 else ""
        lines += ([f"            {p}{sep}"] if isinstance(p, str) else [*array(p)[:-1], f"        }}{sep}"])
    lines.append("        ),")
    return lines


def _tables(program: Program, cls: str) -> list:
    """The constant tables: declared here, read from the jar's resource at class init."""
    lines = [f"    private static final {JTYPE[b.dtype]}[] {b.name};" for b in program.tables]
    lines += ["", "    static {",
              f'        java.nio.ByteBuffer data = Kernel.resource({cls}.class, "{cls}.bin");']
    for b in program.tables:
        lines.append(f"        {b.name} = Kernel.{READER[b.dtype]}(data, {b.data.size});")
    lines += ["    }", ""]
    return lines


def _kernel(program: Program, r: JavaRenderer) -> list:
    """runRows' body and the per-op step methods."""
    lines = []
    for i, v in enumerate(program.inputs):
        lines.append(f"        final {JTYPE[v.dtype]}[] {v.buf.name} = ({JTYPE[v.dtype]}[]) inputs[{i}];")
    for i, v in enumerate(program.outputs):
        lines.append(f"        final {JTYPE[v.dtype]}[] {v.buf.name} = ({JTYPE[v.dtype]}[]) outputs[{i}];")
    lines.append(f"        final int cap = Math.min(n, {program.block});")
    work = [(v.buf, v.size) for v in program.temps] + list(program.scratch)
    # Working memory: a single row reuses its thread's (allocating ~one array per value
    # would cost more than the model); larger calls allocate theirs.
    if work:
        lines.append("        final Work w = cap == 1 ? ONE_ROW.get() : new Work(cap);")
    for buf, _ in work:
        lines.append(f"        final {JTYPE[buf.dtype]}[] {buf.name} = w.{buf.name};")
    # Each op is a method of its own: the JIT compiles methods below 8,000 bytes of
    # bytecode only, and Java caps a method at 64 KB.
    steps = []
    for j, step in enumerate(program.steps):
        bufs, names = walk.uses(step)
        params = [b for b in bufs.values() if b.kind != "const"]
        steps.append((f"step{j}", params, step))
    lines.append(f"        for (int b0 = 0; b0 < n; b0 += {program.block}) {{")
    lines.append(f"            final int nb = Math.min({program.block}, n - b0);")
    for fn, params, _ in steps:
        lines.append(f"            {fn}({', '.join([p.name for p in params] + ['b0', 'nb'])});")
    lines += ["        }", "    }", ""]
    for fn, params, step in steps:
        sig = ", ".join([f"final {JTYPE[p.dtype]}[] {p.name}" for p in params] + ["final int b0", "final int nb"])
        lines.append(f"    private static void {fn}({sig}) {{")
        lines += r.stmts(step, 2)
        lines += ["    }", ""]
    if work:
        lines += ["    /** runRows' working memory for `cap` rows (the kernel writes every value before it reads it). */",
                  "    private static final class Work {"]
        lines += [f"        final {JTYPE[b.dtype]}[] {b.name};" for b, _ in work]
        lines.append("        Work(int cap) {")
        lines += [f"            {b.name} = new {JTYPE[b.dtype]}[cap * {per_row}];" for b, per_row in work]
        lines += ["        }", "    }", "",
                  "    private static final ThreadLocal<Work> ONE_ROW = ThreadLocal.withInitial(() -> new Work(1));", ""]
    return lines


def _api(cls: str, program, schema: Schema, numeric: bool) -> list:
    """The public API after runRows: predict, columns, describe, main."""
    lines = []
    if numeric:
        lines += [
            "    /**",
            "     * Rows of doubles in input-column order to rows of doubles in output-column order:",
            "     * float64 tensors get and give their values exactly; values for float32 tensors are",
            "     * narrowed with (float) (round to nearest even, as numpy's float64 to float32).",
            "     */",
            *_rows(program, schema, "double"),
            "",
            "    /**",
            "     * Rows of floats in input-column order to rows of floats in output-column order. Every",
            "     * value passes as a float32: for a float64 model that loses exactness (use",
            "     * predict(double[][])).",
            "     */",
            *_rows(program, schema, "float"),
            "",
            "    /** One row of doubles. */",
            "    public static double[] predictRow(double[] row) {",
            "        return predict(new double[][] {row})[0];",
            "    }",
            "",
            "    /** One row of floats. */",
            "    public static float[] predictRow(float[] row) {",
            "        return predict(new float[][] {row})[0];",
            "    }",
            "",
        ]
    lines += [
        "    /** Column names in CSV order. */",
        "    public static String[] inputColumns() {",
        "        String[] out = new String[SPEC.inputColumns.length];",
        "        for (int i = 0; i < out.length; i++) out[i] = SPEC.inputColumns[i].name;",
        "        return out;",
        "    }",
        "",
        "    public static String[] outputColumns() {",
        "        String[] out = new String[SPEC.outputColumns.length];",
        "        for (int i = 0; i < out.length; i++) out[i] = SPEC.outputColumns[i].name;",
        "        return out;",
        "    }",
        "",
        "    public static String describe() {",
        "        return SPEC.description;",
        "    }",
        "",
        "    public static void main(String[] args) {",
        "        CsvProgram.main(SPEC, args);",
        "    }",
        "}",
    ]
    return lines


def toolchain() -> tuple:
    javac, jar = shutil.which("javac"), shutil.which("jar")
    if not javac or not jar:
        raise BuildError("no Java compiler found (javac and jar, JDK 11 or newer): install one, e.g. "
                         "`apt-get install default-jdk-headless`, or leave out the java target")
    return javac, jar


@functools.lru_cache(maxsize=None)
def _javac_version(javac: str) -> str:
    version = subprocess.run([javac, "-version"], capture_output=True, text=True)
    return (version.stdout or version.stderr).strip()


def _runtime_classes(javac: str, runtime: list, flags: list) -> Path:
    """The runtime's classes: the same for every model, so compiled once per JDK and source and
    kept in the user's cache (MODELPORT_CACHE, else ~/.cache/modelport), like the C++ runtime."""
    key = b"".join(p.name.encode() + b"\0" + p.read_bytes() for p in runtime)
    path, tmp = _cached("modelport_java_runtime", "", key + _javac_version(javac).encode() + " ".join(flags).encode())
    if tmp is None:
        return path
    tmp = Path(tempfile.mkdtemp(dir=tmp.parent, prefix=tmp.name))  # one per build, also within a process
    try:
        proc = subprocess.run([javac, *flags, "-d", str(tmp), *map(str, runtime)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"Java build of the runtime failed:\n{proc.stderr[-4000:]}")
        try:
            os.replace(tmp, path)
        except OSError:  # another build put it there first
            if not path.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def build(src: Path, name: str) -> dict:
    """Compile `src/` into <name>.jar (runnable: `java -jar <name>.jar`), in place."""
    javac, jar = toolchain()
    cls = class_name(name)
    runtime_dir = src / "src" / "modelport" / "runtime"
    runtime = sorted(runtime_dir.glob("*.java"))
    sources = sorted(str(p.relative_to(src)) for p in (src / "src").rglob("*.java") if p.parent != runtime_dir)
    flags = ["--release", "11", "-encoding", "UTF-8", "-nowarn"]
    rt_classes = _runtime_classes(javac, runtime, flags)
    with tempfile.TemporaryDirectory() as classes:
        proc = subprocess.run([javac, *flags, "-cp", str(rt_classes), "-d", classes, *sources], cwd=src,
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"Java build failed:\n{proc.stderr[-4000:]}")
        res = Path(classes) / PACKAGE.replace(".", "/")
        blob = src / "src" / PACKAGE.replace(".", "/") / f"{cls}.bin"
        if blob.exists():
            shutil.copy(blob, res / f"{cls}.bin")
        proc = subprocess.run([jar, "--create", "--file", str(src / f"{name}.jar"), "--main-class",
                               f"{PACKAGE}.{cls}", "--date", "2000-01-01T00:00:00Z", "-C", classes, ".",
                               "-C", str(rt_classes), "."],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"jar failed:\n{proc.stderr[-4000:]}")
    return {"compiler": _javac_version(javac), "flags": flags}


NEEDS_PROGRAM = True


def emit(directory: Path, program, schema, name, description, banner, **_) -> dict:
    directory.mkdir(parents=True)
    files = generate(program, schema, name, description, banner)
    for rel, content in files.items():
        p = directory / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content) if isinstance(content, bytes) else p.write_text(content)
    info = build(directory, name)
    info["files"] = sorted(files) + [f"{name}.jar"]
    info["class"] = f"{PACKAGE}.{class_name(name)}"
    return info
