"""Double precision through the built artifacts.

A model whose tensors are float64 answers exactly (bit for bit what numpy computes in float64)
through the CSV programs (C++, Java), the double C ABI `<name>_predict_f64`, C++
`Model::predict_row(std::vector<double>)` and Java `predict(double[][])` / `predictRow(double[])`;
the float ABI `<name>_predict` rounds to float32. Every text-to-number path parses to double and
narrows where a tensor is float32, as numpy's `np.float32(np.float64(s))` (what scikit-learn
does): decimal strings next to a float32 midpoint decide a split the same way.
"""
import ctypes
import math
import subprocess
from decimal import Decimal
from fractions import Fraction

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import compile_and_check
from modelport.parity.runners import run_library
from modelport.schema import Schema

# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def _model(nodes, inputs, outputs, inits=(), ml=False) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(*i) for i in inputs],
                              [helper.make_tensor_value_info(*o) for o in outputs], list(inits))
    opsets = [helper.make_opsetid("", 18)] + ([helper.make_opsetid("ai.onnx.ml", 3)] if ml else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def affine_double() -> onnx.ModelProto:
    """x float64 [N,2] -> y = x * 3 + 0.1, float64 [N,2]: one input and output in column order
    (the double API passes it straight through)."""
    return _model([helper.make_node("Mul", ["x", "three"], ["t"]), helper.make_node("Add", ["t", "c"], ["y"])],
                  [("x", TensorProto.DOUBLE, ["N", 2])], [("y", TensorProto.DOUBLE, ["N", 2])],
                  [numpy_helper.from_array(np.array([3.0]), "three"), numpy_helper.from_array(np.array([0.1]), "c")])


def affine_expected(x):
    return x * 3.0 + 0.1


def mixed_double() -> onnx.ModelProto:
    """a float64 [N,1], b float32 [N,1] -> s = a * 3 + b (float64), f = float32(a) * b (float32):
    columns gathered into typed blocks, narrowed or widened per tensor."""
    nodes = [helper.make_node("Cast", ["b"], ["b64"], to=TensorProto.DOUBLE),
             helper.make_node("Mul", ["a", "three"], ["a3"]),
             helper.make_node("Add", ["a3", "b64"], ["s"]),
             helper.make_node("Cast", ["a"], ["a32"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["a32", "b"], ["f"])]
    return _model(nodes, [("a", TensorProto.DOUBLE, ["N", 1]), ("b", TensorProto.FLOAT, ["N", 1])],
                  [("s", TensorProto.DOUBLE, ["N", 1]), ("f", TensorProto.FLOAT, ["N", 1])],
                  [numpy_helper.from_array(np.array([3.0]), "three")])


def mixed_expected(x):
    """x: [n, 2] float64 values of the columns (a, b), b narrowed to float32 by the artifact."""
    a, b = x[:, 0], x[:, 1].astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.stack([a * 3.0 + b.astype(np.float64), (a.astype(np.float32) * b).astype(np.float64)], axis=1)


def split_model(thresholds) -> onnx.ModelProto:
    """X float32 [N,K] -> Y float32 [N,K]: target k is 0 when X[:, k] <= thresholds[k], else 1
    (one tree per target, as scikit-learn's trees are converted)."""
    k = len(thresholds)
    attrs = dict(
        n_targets=k,
        nodes_treeids=[t for t in range(k) for _ in range(3)],
        nodes_nodeids=[0, 1, 2] * k,
        nodes_featureids=[f for t in range(k) for f in (t, 0, 0)],
        nodes_modes=["BRANCH_LEQ", "LEAF", "LEAF"] * k,
        nodes_values=[v for t in thresholds for v in (float(t), 0.0, 0.0)],
        nodes_truenodeids=[1, 0, 0] * k,
        nodes_falsenodeids=[2, 0, 0] * k,
        nodes_missing_value_tracks_true=[0] * (3 * k),
        nodes_hitrates=[1.0] * (3 * k),
        target_treeids=[t for t in range(k) for _ in range(2)],
        target_nodeids=[1, 2] * k,
        target_ids=[t for t in range(k) for _ in range(2)],
        target_weights=[0.0, 1.0] * k,
    )
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", **attrs)
    return _model([node], [("X", TensorProto.FLOAT, ["N", k])], [("Y", TensorProto.FLOAT, ["N", k])], ml=True)


# ---------------------------------------------------------------------------------------------
# Decimal strings next to float32 midpoints
# ---------------------------------------------------------------------------------------------

BRIEF_CASE = "1.8685027956962585"  # strtof: 1.86850274, numpy: 1.86850286


def _thresholds() -> np.ndarray:
    """float32 values a: each has a split at a, and strings near the midpoint of a and the next
    float32 decide the branch. The first one brackets BRIEF_CASE; the others span magnitudes,
    signs, subnormals and both parities of a's last mantissa bit."""
    rng = np.random.default_rng(20)
    d = float(BRIEF_CASE)
    first = np.float32(d) if np.float32(d) <= d else np.nextafter(np.float32(d), np.float32(-np.inf))
    rest = (rng.standard_normal(22) * 10.0 ** rng.integers(-30, 30, 22)).astype(np.float32)
    special = np.array([1.0, -1.0, 3.0e38, 1.5e-45, 1.0e-40, 16777216.0], dtype=np.float32)
    return np.concatenate([[first], rest, special]).astype(np.float32)


def _strings(a: np.float32) -> list:
    """Decimal strings near m = (a + next float32)/2: repr(m), the exact value of m plus and
    minus a millionth of m's double ulp (still m as a double), and repr of a and of the next."""
    b = np.nextafter(a, np.float32(np.inf))
    m = (float(a) + float(b)) / 2  # exact in double
    step = Decimal(math.ulp(m)) / Decimal(10 ** 6)
    exact = Decimal(m)
    return [repr(m), str(exact + step), str(exact - step), repr(float(a)), repr(float(b))]


def _numpy32(s: str) -> np.float32:
    """What scikit-learn's float32 input is for the text `s`: np.float32(np.float64(s))."""
    return np.float32(np.float64(s))


def _direct32(s: str) -> np.float32:
    """What strtof / Float.parseFloat give: the float32 nearest to the decimal's exact value."""
    v = Fraction(Decimal(s))
    f = np.float32(float(v))  # one candidate; the nearest is it or a neighbour
    cands = [np.nextafter(f, np.float32(-np.inf)), f, np.nextafter(f, np.float32(np.inf))]
    best = min(abs(Fraction(float(c)) - v) for c in cands)
    tied = [c for c in cands if abs(Fraction(float(c)) - v) == best]
    return tied[0] if len(tied) == 1 else next(c for c in tied if int(c.view(np.uint32)) % 2 == 0)


def _split_rows():
    """(thresholds, [[text for each feature] per row], expected [rows, K] of 0/1)."""
    a = _thresholds()
    per_feature = [_strings(v) for v in a]
    rows = [[per_feature[k][r] for k in range(len(a))] for r in range(len(per_feature[0]))]
    expected = np.array([[0.0 if _numpy32(s) <= a[k] else 1.0 for k, s in enumerate(row)] for row in rows])
    return a, rows, expected


def test_the_strings_tell_double_first_from_direct_parsing():
    """The test's power: on every threshold at least one string is decided differently by
    direct float32 parsing (strtof) than by numpy, so a program that parses directly fails."""
    a, rows, expected = _split_rows()
    assert _direct32(BRIEF_CASE) != _numpy32(BRIEF_CASE)
    for k, t in enumerate(a):
        direct = [0.0 if _direct32(row[k]) <= t else 1.0 for row in rows]
        assert direct != list(expected[:, k]), (k, t)
        assert set(expected[:, k]) == {0.0, 1.0}, (k, t)  # the split is between the strings


# ---------------------------------------------------------------------------------------------
# Helpers: CSV programs, Java and C++ programs that call the APIs
# ---------------------------------------------------------------------------------------------


def _csv(header, rows) -> str:
    return ",".join(header) + "\n" + "".join(",".join(r) + "\n" for r in rows)


def _read(text: str) -> np.ndarray:
    lines = text.splitlines()[1:]
    return np.array([[float(v) for v in line.split(",")] for line in lines], dtype=np.float64)


def _programs(out, name):
    return {"cpp": [str(out / "cpp" / "bin" / name)], "java": ["java", "-jar", str(out / "java" / f"{name}.jar")]}


def _run(cmd, text) -> np.ndarray:
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return _read(proc.stdout)


def _same(got, want):
    """Bit for bit (NaN equal to NaN, -0 distinct from 0)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    bad = got.view(np.int64) != want.view(np.int64)
    bad &= ~(np.isnan(got) & np.isnan(want))
    assert not bad.any(), f"{bad.sum()} values differ, e.g. got {got[bad][:4]} want {want[bad][:4]}"


def _double_values(rng, n, cols) -> np.ndarray:
    x = rng.standard_normal((n, cols)) * 10.0 ** rng.integers(-20, 20, (n, cols))
    special = [0.1, -0.0, 1.8685027956962585, 5e-324, 2.2250738585072014e-308, 1e300, -1e300, 2.0 ** 60 + 1,
               np.nan, np.inf, -np.inf, 1 / 3]
    x[:len(special), 0] = special
    return x


def _field(v: float) -> str:
    return "NaN" if np.isnan(v) else ("inf" if v == np.inf else "-inf" if v == -np.inf else repr(float(v)))


def _ctypes_f64(out, name, x: np.ndarray, n_out: int) -> np.ndarray:
    fn = getattr(ctypes.CDLL(str(out / "cpp" / f"lib{name}.so")), f"{name}_predict_f64")
    fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
    x = np.ascontiguousarray(x, dtype=np.float64)
    y = np.full((len(x), n_out), -123.0)
    assert fn(x.ctypes.data, len(x), y.ctypes.data) == 0
    return y


def _java_double(jar, cls, x: np.ndarray, tmp_path, classpath_extra=()) -> tuple:
    """Java predict(double[][]) and predictRow(double[]) on x, from a program compiled against
    the jar; both results as float64 arrays (Double.toString reads back exactly)."""
    src = tmp_path / "UseDouble.java"
    literal = ", ".join("{" + ", ".join(_java_double_literal(v) for v in row) + "}" for row in x.tolist())
    src.write_text(f"""public class UseDouble {{
  static String line(double[] v) {{
    StringBuilder b = new StringBuilder();
    for (int j = 0; j < v.length; j++) b.append(j > 0 ? "," : "").append(v[j]);
    return b.toString();
  }}
  public static void main(String[] a) {{
    double[][] x = {{{literal}}};
    double[][] y = modelport.models.{cls}.predict(x);
    System.out.println("batch");
    for (double[] r : y) System.out.println(line(r));
    System.out.println("rows");
    for (double[] r : x) System.out.println(line(modelport.models.{cls}.predictRow(r)));
  }}
}}
""")
    subprocess.run(["javac", "-cp", str(jar), "-d", str(tmp_path), str(src)], check=True, timeout=300)
    proc = subprocess.run(["java", "-cp", f"{jar}:{tmp_path}", "UseDouble"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.replace("Infinity", "inf")
    batch, rows = text.split("rows\n")
    return _read(batch), _read("rows\n" + rows)


def _java_double_literal(v: float) -> str:
    if np.isnan(v):
        return "Double.NaN"
    if np.isinf(v):
        return "Double.POSITIVE_INFINITY" if v > 0 else "Double.NEGATIVE_INFINITY"
    return repr(float(v))


# ---------------------------------------------------------------------------------------------
# (a) float64 models answer exactly
# ---------------------------------------------------------------------------------------------

# name: (model, expected values, output columns of float32 tensors)
DOUBLE_MODELS = {"affine": (affine_double, affine_expected, []), "mixed": (mixed_double, mixed_expected, [1])}


@pytest.fixture(scope="module", params=sorted(DOUBLE_MODELS))
def double_model(request, tmp_path_factory):
    build, expected, f32_columns = DOUBLE_MODELS[request.param]
    tmp = tmp_path_factory.mktemp(request.param)
    manifest = compile_and_check(build(), tmp, targets=("cpp", "java"), name="d", rows=64)
    return tmp / "out", Schema.from_dict(manifest["schema"]), expected, f32_columns


def test_csv_programs_answer_in_double(double_model):
    out, schema, expected, f32_columns = double_model
    x = _double_values(np.random.default_rng(1), 400, len(schema.inputs))
    text = _csv([c.name for c in schema.inputs], [[_field(v) for v in row] for row in x])
    for cmd in _programs(out, "d").values():
        got = _run(cmd, text)
        # float32 outputs are printed as the shortest text of the float32 (%.9g in C++).
        got[:, f32_columns] = got[:, f32_columns].astype(np.float32)
        _same(got, expected(x))


def test_double_c_abi_is_exact_and_the_float_abi_rounds(double_model):
    out, schema, expected, _ = double_model
    x = _double_values(np.random.default_rng(2), 3000, len(schema.inputs))  # several blocks
    _same(_ctypes_f64(out, "d", x, len(schema.outputs)), expected(x))
    # The parity runner calls the same functions: float64 by default, float32 when asked.
    table = {c.name: x[:, j] for j, c in enumerate(schema.inputs)}
    sizes = {}
    for c in schema.outputs:
        sizes[c.tensor] = max(sizes.get(c.tensor, 0), c.offset + 1)

    def columns(outs):
        return np.stack([outs[c.tensor][:, c.offset] for c in schema.outputs], axis=1)
    lib = out / "cpp" / "libd.so"
    _same(columns(run_library(lib, "d", table, schema, sizes)), expected(x))
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32).astype(np.float64)
        rounded = expected(x32).astype(np.float32).astype(np.float64)
    got32 = columns(run_library(lib, "d", table, schema, sizes, abi="f32"))
    _same(got32, rounded)
    exact = expected(x)[:, 0]  # a float64 output in both models
    finite = np.isfinite(exact)
    assert (got32[finite, 0] != exact[finite]).mean() > 0.5  # the float ABI loses exactness


def test_c_abi_says_what_went_wrong_per_thread(double_model):
    # A refused call returns its code and <name>_last_error says why, for the calling thread
    # only; a successful call leaves "".
    import threading
    out, schema, _, _ = double_model
    lib = ctypes.CDLL(str(out / "cpp" / "libd.so"))
    predict, last_error = lib.d_predict_f64, lib.d_last_error
    predict.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
    last_error.restype = ctypes.c_char_p
    x, y = np.zeros(len(schema.inputs)), np.zeros(len(schema.outputs))
    assert predict(x.ctypes.data, -1, y.ctypes.data) == 1
    assert b"n_rows is negative" in last_error()
    other = []
    thread = threading.Thread(target=lambda: other.append((predict(x.ctypes.data, 1, y.ctypes.data), last_error())))
    thread.start()
    thread.join()
    assert other == [(0, b"")]
    assert b"n_rows is negative" in last_error()  # this thread's message is its own
    assert predict(x.ctypes.data, 1, y.ctypes.data) == 0 and last_error() == b""


def test_cpp_double_api_from_a_user_program(double_model, tmp_path):
    out, schema, expected, _ = double_model
    n_in, n_out = len(schema.inputs), len(schema.outputs)
    x = _double_values(np.random.default_rng(3), 16, n_in)
    x = x[np.isfinite(x).all(axis=1)]
    flat = ", ".join(repr(float(v)) for v in x.reshape(-1))
    floats = ", ".join(f"{0.5 * (i + 1)!r}f" for i in range(n_in))
    src = tmp_path / "use.cpp"
    src.write_text(f"""#include <cstdio>
#include <vector>
#include "d.hpp"
int main() {{
  const double x[] = {{{flat}}};
  const int64_t n = {len(x)};
  std::vector<double> y(static_cast<size_t>(n * {n_out}));
  if (d_predict_f64(x, n, y.data()) != 0) return 1;
  std::vector<double> z(y.size());
  if (d::Model::predict(x, n, z.data()) != 0 || z != y) return 2;
  for (int64_t r = 0; r < n; ++r) {{
    const std::vector<double> one = d::Model::predict_row(std::vector<double>(x + r * {n_in}, x + (r + 1) * {n_in}));
    for (int64_t j = 0; j < {n_out}; ++j) {{
      if (one[static_cast<size_t>(j)] != y[static_cast<size_t>(r * {n_out} + j)]) return 3;
      std::printf("%.17g%s", one[static_cast<size_t>(j)], j + 1 < {n_out} ? "," : "\\n");
    }}
  }}
  // A braced list still takes the float overload, as before the double API existed.
  const std::vector<float> f = d::Model::predict_row({{{floats}}});
  if (f.size() != {n_out}) return 4;
  if (d::Model::predict_row(std::vector<double>({n_in} + 1, 0.0)).size() != 0) return 5;
  if (d_predict_f64(nullptr, 1, y.data()) != 1 || d_predict_f64(x, -1, y.data()) != 1) return 6;
  return 0;
}}
""")
    exe = tmp_path / "use"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", f"-I{out / 'cpp'}", str(src), str(out / "cpp" / "libd.a"),
                    "-o", str(exe)], check=True, timeout=300)
    proc = subprocess.run([str(exe)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.returncode
    _same(_read("header\n" + proc.stdout), expected(x))


def test_java_double_api_from_a_user_program(double_model, tmp_path):
    out, schema, expected, _ = double_model
    x = _double_values(np.random.default_rng(4), 40, len(schema.inputs))
    batch, rows = _java_double(out / "java" / "d.jar", "D", x, tmp_path)
    _same(batch, expected(x))
    _same(rows, expected(x))


# ---------------------------------------------------------------------------------------------
# (b), (c) a float32 model: text and doubles narrowed as numpy does
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def split_artifact(tmp_path_factory):
    a, rows, expected = _split_rows()
    tmp = tmp_path_factory.mktemp("split")
    manifest = compile_and_check(split_model(a), tmp, targets=("cpp", "java"), name="s", rows=64)
    return tmp / "out", Schema.from_dict(manifest["schema"]), rows, expected


def test_programs_narrow_text_as_numpy_does(split_artifact):
    out, schema, rows, expected = split_artifact
    text = _csv([c.name for c in schema.inputs], rows)
    for target, cmd in _programs(out, "s").items():
        _same(_run(cmd, text), expected)


def test_double_apis_narrow_as_numpy_does(split_artifact, tmp_path):
    out, schema, rows, expected = split_artifact
    x = np.array([[float(s) for s in row] for row in rows])
    _same(_ctypes_f64(out, "s", x, len(schema.outputs)), expected)
    batch, one = _java_double(out / "java" / "s.jar", "S", x, tmp_path)
    _same(batch, expected)
    _same(one, expected)


# ---------------------------------------------------------------------------------------------
# The TVM stub (tvm-llvm): the same C ABI, CSV program and Java API, over the TVM library
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", params=[("affine", 0), ("mixed", 4)], ids=["affine", "mixed-batch4"])
def tvm_double_model(request, tmp_path_factory):
    """The models through tvm-llvm; the mixed one compiled for a fixed batch of 4 rows a call."""
    model, batch = request.param
    build, expected, f32_columns = DOUBLE_MODELS[model]
    tmp = tmp_path_factory.mktemp(f"tvm-{model}")
    options = {"batch": batch} if batch else {}
    manifest = compile_and_check(build(), tmp, targets=("tvm-llvm",), name="d", rows=21, **options)
    return tmp / "out" / "tvm-llvm", Schema.from_dict(manifest["schema"]), expected, f32_columns, batch


def test_tvm_stub_answers_in_double(tvm_double_model, tmp_path):
    from modelport.parity.isolated_library import call
    folder, schema, expected, f32_columns, batch = tvm_double_model
    x = _double_values(np.random.default_rng(5), 301, len(schema.inputs))
    # The C ABI, in a child process (the stub carries its own TVM runtime).
    _same(call(folder / "libd.so", "d", x, len(schema.outputs)), expected(x))
    with np.errstate(over="ignore"):
        x32 = x.astype(np.float32)
        rounded = expected(x32.astype(np.float64)).astype(np.float32)
    _same(call(folder / "libd.so", "d", x32, len(schema.outputs)), rounded)
    # The CSV program.
    got = _run([str(folder / "bin" / "d")], _csv([c.name for c in schema.inputs],
                                                 [[_field(v) for v in row] for row in x]))
    got[:, f32_columns] = got[:, f32_columns].astype(np.float32)
    _same(got, expected(x))
    # Java through JNI.
    batch_out, rows = _java_double(folder / "java" / "d.jar", "D", x[:41], tmp_path)
    _same(batch_out, expected(x[:41]))
    _same(rows, expected(x[:41]))
    if batch:
        # A fixed batch: the double rows are gathered in blocks of whole batches, as the float ones.
        source = (folder / "d.cpp").read_text()
        predict = source[source.index("int Model::predict(const double* x"):]
        predict = predict[:predict.index("\n}\n")]
        block = int(predict.split("constexpr int64_t kBlock = ")[1].split(";")[0])
        assert block >= batch and block % batch == 0, predict
