"""Renderers: golden sources for one kernel, literal escaping proven by real compilers."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

from modelport.kernel import ast as k
from modelport.render.cpp import CppRenderer
from modelport.render.java import JavaRenderer

GOLDEN = Path(__file__).parent / "golden"
EVIL = ['plain', 'quote " here', "back\\slash", "\\u0022 not an escape", "*/ /* comment", "new\nline",
        "tab\tand\rcr", "unicode é ✓ 😀", "nul\x00byte", "trailing \\", "??=trigraph", "'single'"]


def sample_kernel():
    x = k.Buf("x", "f32", "in")
    y = k.Buf("y", "f32", "out")
    t = k.Buf("T1_w", "f32", "const", np.array([0.5, -1.0], np.float32))
    acc = k.Var("acc", "f64")
    i = k.Var("i", "idx")
    body = [
        k.Let(acc, k.Const(0.0, "f64")),
        k.For(i, k.Const(0, "idx"), k.Const(2, "idx"), [
            k.Assign(acc, acc + k.Cast(x[i], "f64") * k.Cast(t[i], "f64")),
        ]),
        k.If(k.call("isnan", k.Cast(acc, "f32")), [k.Store(y, k.Const(0, "idx"), k.Const(float("nan"), "f32"))],
             [k.Store(y, k.Const(0, "idx"), k.minimum(k.call("exp", k.Cast(acc, "f32")), k.Const(3.5, "f32")))]),
    ]
    return body


@pytest.mark.parametrize("renderer,suffix", [(CppRenderer(), "cpp"), (JavaRenderer(), "java")])
def test_golden_source(renderer, suffix):
    text = "\n".join(renderer.stmts(sample_kernel(), 0)) + "\n"
    golden = GOLDEN / f"kernel.{suffix}.txt"
    assert text == golden.read_text(), f"renderer output changed:\n{text}"


def test_float_literals_round_trip():
    r = CppRenderer()
    for v in [0.1, 1e-45, 3.4028235e38, -0.0, 1.0, 123456789.0, 2.0 ** -126]:
        lit = r.literal(v, "f32")
        assert np.float32(float(lit.rstrip("f"))) == np.float32(v), lit
    assert r.literal(float("inf"), "f32").startswith("std::numeric_limits<float>::infinity")
    assert JavaRenderer().literal(float("-inf"), "f64") == "Double.NEGATIVE_INFINITY"


def test_cpp_string_literals_compile_and_read_back(tmp_path):
    r = CppRenderer()
    items = ",\n".join(f"std::string({r.string_literal(s)}, {len(s.encode())})" for s in EVIL)
    src = tmp_path / "t.cpp"
    src.write_text('#include <cstdio>\n#include <string>\nint main() {\n'
                   f'  const std::string v[] = {{{items}}};\n'
                   '  for (const auto& s : v) { for (unsigned char c : s) std::printf("%02x", c); std::printf("\\n"); }\n}\n')
    exe = tmp_path / "t"
    subprocess.run(["g++", "-std=c++17", str(src), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()
    assert out == [s.encode().hex() for s in EVIL]


def test_java_string_literals_compile_and_read_back(tmp_path):
    r = JavaRenderer()
    items = ",\n".join(r.string_literal(s) for s in EVIL)
    src = tmp_path / "T.java"
    src.write_text("public class T {\n  // a comment: " + r.string_literal("*/ \\u000a") + "\n"
                   f"  static final String[] V = {{{items}}};\n"
                   "  public static void main(String[] a) throws Exception {\n"
                   "    for (String s : V) { StringBuilder b = new StringBuilder();\n"
                   "      for (byte c : s.getBytes(\"UTF-8\")) b.append(String.format(\"%02x\", c));\n"
                   "      System.out.println(b); } } }\n")
    subprocess.run(["javac", "-encoding", "UTF-8", "-d", str(tmp_path), str(src)], check=True)
    out = subprocess.run(["java", "-cp", str(tmp_path), "T"], capture_output=True, text=True, check=True).stdout.split()
    assert out == [s.encode().hex() for s in EVIL]
