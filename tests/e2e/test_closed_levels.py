"""Closed string columns (a factor's levels, as R models have them): the C++ program, the jar
and the typed APIs reject a value that is not one of the column's levels, as R's predict()
does ("factor x has new level z"), with one message in both languages. Known levels and the
empty string (a missing value) pass. Levels are data: hostile ones compile and match exactly.

The model is a hand-made ONNX OneHotEncoder (ai.onnx.ml) over one string input, compiled
through modelport.compile from a SourceModel whose schema column is closed."""
from __future__ import annotations

import csv
import io
import re
import subprocess

import numpy as np
import pytest

import modelport
from helpers import TensorProto, compile_and_check, single_op_model
from modelport.frontends import onnx_file
from modelport.schema import Column, Schema
from modelport.source_model import SourceModel

SPECIES = ["setosa", "versicolor", "virginica"]
JAVA = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]


def source(levels, cats=None, closed=True, name="species") -> SourceModel:
    """OneHotEncoder over the string column "Species" (categories `cats`, default `levels`);
    the column is closed over `levels` (no hints: compile keeps the column's own levels)."""
    cats = list(levels if cats is None else cats)
    model = single_op_model("OneHotEncoder", [("X", TensorProto.STRING, ["N", 1])],
                            [("Y", TensorProto.FLOAT, ["N", 1, len(cats)])],
                            attrs={"cats_strings": cats, "zeros": 1}, domain="ai.onnx.ml")
    src = onnx_file.to_source(model, name)
    src.schema = Schema([Column("Species", "X", 0, "string", list(levels), closed=closed)],
                        src.schema.outputs, src.schema.task)
    return src


def write_csv(values) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["Species"])
    w.writerows([v] for v in values)
    return buf.getvalue()


def programs(out, name="species"):
    return {"cpp": [str(out / "cpp" / "bin" / name)], "java": [*JAVA, "-jar", str(out / "java" / f"{name}.jar")]}


def run(cmd, stdin: str):
    r = subprocess.run(cmd, input=stdin.encode(), capture_output=True, timeout=120)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def one_hot(out_text: str) -> np.ndarray:
    rows = list(csv.reader(io.StringIO(out_text, newline="")))
    return np.array([[float(v) for v in r] for r in rows[1:]])


def known(levels, most=20) -> str:
    text = ", ".join(f'"{v}"' for v in levels[:most])
    return text + (f", ... ({len(levels)} levels)" if len(levels) > most else "")


@pytest.fixture(scope="module")
def species(tmp_path_factory):
    d = tmp_path_factory.mktemp("closed")
    manifest = compile_and_check(source(SPECIES), d, targets=("cpp", "java"))
    return d / "out", manifest


def test_schema_records_the_closed_column(species):
    out, manifest = species
    assert manifest["schema"]["inputs"] == [{"name": "Species", "tensor": "X", "offset": 0, "kind": "string",
                                             "levels": SPECIES, "closed": True}]
    line = "  Species: string (levels: setosa, versicolor, virginica; other values are rejected)\n"
    for target, cmd in programs(out).items():
        rc, text, err = run([*cmd, "--schema"], "")
        assert rc == 0 and line in text, (target, err)
    # `modelport check` reads the manifest back (closed included) and parity still holds.
    assert modelport.check(out).passed


def test_programs_accept_levels_and_missing(species):
    out, _ = species
    values = ["setosa", "", "virginica", "versicolor", "setosa"]
    expected = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=float)
    for target, cmd in programs(out).items():
        rc, text, err = run(cmd, write_csv(values))
        assert rc == 0, (target, err)
        np.testing.assert_array_equal(one_hot(text), expected, err_msg=target)


@pytest.mark.parametrize("bad", ["foo", "Setosa", "setosa ", " setosa", "virginica\n"])
def test_programs_reject_unknown_level(species, bad):
    out, _ = species
    for target, cmd in programs(out).items():
        rc, text, err = run(cmd, write_csv(["setosa", "versicolor", bad, "setosa"]))
        assert rc == 2, target
        assert err == (f'error: row 3 (line 4), column "Species": unknown level "{bad}" '
                       f'(known levels: {known(SPECIES)})\n'), target
        assert text == "Y_0,Y_1,Y_2\n", target  # no row of the failed block


def test_typed_apis_reject_unknown_level(species, tmp_path):
    """C++ Model::predict(Inputs, n, Outputs) and Java run(Object[], Object[], n)."""
    out, _ = species
    message = f'column "Species": unknown level "foo" (known levels: {known(SPECIES)})'
    src = tmp_path / "use.cpp"
    src.write_text("""#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>
#include "species.hpp"
int main(int argc, char** argv) {
  std::vector<std::string> x(argv + 1, argv + argc);
  std::vector<float> y(x.size() * 3);
  species::Inputs in{x.data()};
  species::Outputs out{y.data()};
  try {
    species::Model::predict(in, static_cast<int64_t>(x.size()), out);
  } catch (const std::invalid_argument& e) {
    std::printf("invalid_argument: %s\\n", e.what());
    return 4;
  }
  for (float v : y) std::printf("%g ", v);
  std::printf("\\n");
  return 0;
}
""")
    exe = tmp_path / "use"
    subprocess.run(["g++", "-std=c++17", f"-I{out / 'cpp'}", str(src), str(out / "cpp" / "libspecies.a"), "-o", str(exe)],
                   check=True)
    r = subprocess.run([str(exe), "virginica", "", "setosa"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "0 0 1 0 0 0 1 0 0 \n")
    r = subprocess.run([str(exe), "setosa", "foo"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (4, f"invalid_argument: {message}\n")

    (tmp_path / "Use.java").write_text("""public class Use {
  public static void main(String[] x) {
    float[] y = new float[x.length * 3];
    try {
      modelport.models.Species.run(new Object[] {x}, new Object[] {y}, x.length);
    } catch (IllegalArgumentException e) {
      System.out.println("IllegalArgumentException: " + e.getMessage());
      System.exit(4);
    }
    StringBuilder b = new StringBuilder();
    for (float v : y) b.append(v).append(' ');
    System.out.println(b);
  }
}
""")
    jar = str(out / "java" / "species.jar")
    subprocess.run(["javac", "-cp", jar, "-d", str(tmp_path), str(tmp_path / "Use.java")], check=True)
    java = [*JAVA, "-cp", f"{jar}:{tmp_path}", "Use"]
    r = subprocess.run([*java, "virginica", "", "setosa"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "0.0 0.0 1.0 0.0 0.0 0.0 1.0 0.0 0.0 \n")
    r = subprocess.run([*java, "setosa", "foo"], capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (4, f"IllegalArgumentException: {message}\n")


def test_open_column_accepts_anything(tmp_path):
    compile_and_check(source(SPECIES, closed=False), tmp_path, targets=("cpp", "java"))
    for target, cmd in programs(tmp_path / "out").items():
        rc, text, err = run(cmd, write_csv(["foo", "setosa"]))
        assert rc == 0, (target, err)
        np.testing.assert_array_equal(one_hot(text), [[0, 0, 0], [1, 0, 0]], err_msg=target)


# Levels that would break out of a C++ or Java string literal or comment if written unescaped.
HOSTILE = ['say "hi"', "back\\slash", "end */ /* x", "\\u0022", '\\u0022); System.exit(1); //',
           '"; std::abort(); "', "two\nlines", "cr\r\nlf", "tab\there", '", "', "ü ✓", " lead",
           "trail ", "??/", "\\", "%s%n", "\x7f"]
# Values near a hostile level that must not match it.
NEAR = ['"', "backslash", "back\\\\slash", "two\\nlines", "two\nlines\n", "lead", "ü", "u\u0308 ✓",
        '\\u0022); System.exit(1);']


def test_hostile_levels_compile_and_match_exactly(tmp_path):
    compile_and_check(source(HOSTILE, name="evil"), tmp_path, targets=("cpp", "java"))
    out = tmp_path / "out"
    for f in [out / "cpp" / "evil.cpp", out / "java" / "src" / "modelport" / "models" / "Evil.java"]:
        code = re.sub(r'"(?:\\.|[^"\\\n])*"', '""', f.read_text())  # the source outside string literals
        assert "ColumnSpec" in code and "abort" not in code and "System.exit" not in code and "lead" not in code
    for target, cmd in programs(out, "evil").items():
        rc, text, err = run(cmd, write_csv(HOSTILE + [""]))
        assert rc == 0, (target, err)
        np.testing.assert_array_equal(one_hot(text), np.vstack([np.eye(len(HOSTILE)), np.zeros(len(HOSTILE))]),
                                      err_msg=target)
        for bad in NEAR:
            rc, text, err = run(cmd, write_csv([HOSTILE[0], bad]))
            assert rc == 2, (target, bad)
            assert err.startswith(f'error: row 2 (line 3), column "Species": unknown level "{bad}" '
                                  f'(known levels: "say "hi"", "back\\slash", '), (target, err)


def test_many_levels(tmp_path):
    """5,002 levels (Java packs them into a few literals; one level is longer than a literal
    chunk), of which the model encodes the first three."""
    levels = [f"L{i}" for i in range(5000)] + ["x" * 9000 + "\u00fc" * 5000, "y\\u0022" + HOSTILE[4]]
    compile_and_check(source(levels, cats=levels[:3], name="many"), tmp_path, targets=("cpp", "java"))
    out = tmp_path / "out"
    assert "ModelSpec.unpackLevels(5002, " in (out / "java" / "src" / "modelport" / "models" / "Many.java").read_text()
    values = ["L1", "L4999", levels[-2], levels[-1], "", "L0"]
    for target, cmd in programs(out, "many").items():
        rc, text, err = run(cmd, write_csv(values))
        assert rc == 0, (target, err)
        np.testing.assert_array_equal(one_hot(text), [[0, 1, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0],
                                                      [1, 0, 0]], err_msg=target)
        for bad in ["L5000", levels[-2][:-1], "x" * 9000]:
            rc, text, err = run(cmd, write_csv(["L2", bad]))
            assert rc == 2, target
            shown = bad if len(bad) <= 100 else bad[:100] + "..."
            assert err == (f'error: row 2 (line 3), column "Species": unknown level "{shown}" '
                           f'(known levels: {known(levels)})\n'), target
