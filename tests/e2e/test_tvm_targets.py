"""The tvm-llvm and tvm-cuda targets: real TVM builds, the real C++ stub, CSV program and JNI
jar, run from a copy of the artifact folder with a bare environment (no Python, no TVM)."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from helpers import compile_and_check

MODELPORT = [sys.executable, "-m", "modelport.cli"]
RNG = np.random.RandomState(0)


def _init(name, *shape, scale=0.3):
    # Seeded by the name: every call builds the same model.
    rng = np.random.RandomState(sum(map(ord, name)))
    return numpy_helper.from_array((rng.randn(*shape) * scale).astype(np.float32), name)


def residual_cnn() -> onnx.ModelProto:
    """conv-bn-relu, a residual conv block, global average pool, a dense layer: [N,3,8,8] -> [N,5]."""
    inits = [_init("w1", 4, 3, 3, 3), _init("b1", 4), _init("w2", 4, 4, 3, 3), _init("b2", 4),
             numpy_helper.from_array(np.float32(np.linspace(0.6, 1.4, 4)), "scale"),
             _init("bias", 4), _init("mean", 4),
             numpy_helper.from_array(np.float32(np.linspace(0.5, 2.0, 4)), "var"),
             _init("fc_w", 5, 4), _init("fc_b", 5)]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("BatchNormalization", ["c1", "scale", "bias", "mean", "var"], ["n1"]),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["s"]),
        helper.make_node("Relu", ["s"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("Gemm", ["f", "fc_w", "fc_b"], ["logits"], transB=1),
    ]
    graph = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 8, 8])],
                              [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 5])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def two_in_two_out() -> onnx.ModelProto:
    """a [N,3] and b [N,2] -> sum [N,4] (tanh of a dense layer) and prob [N,2] (softmax)."""
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["ab"], axis=1),
        helper.make_node("MatMul", ["ab", "w"], ["h"]),
        helper.make_node("Tanh", ["h"], ["sum"]),
        helper.make_node("MatMul", ["sum", "w2"], ["z"]),
        helper.make_node("Softmax", ["z"], ["prob"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "two", [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N", 3]),
                       helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["N", 4]),
         helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["N", 2])],
        [_init("w", 5, 4), _init("w2", 4, 2)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


@pytest.fixture(scope="module")
def cnn_artifact(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cnn")
    manifest = compile_and_check(residual_cnn(), tmp, targets=("tvm-llvm", "onnx"), name="cnn", rows=64)
    return tmp / "out", manifest


def test_cnn_parity_on_every_runner(cnn_artifact):
    out, manifest = cnn_artifact
    report = json.loads((out / "parity.json").read_text())
    runners = {(c["target"], c["runner"]) for c in report["checks"]}
    assert {("tvm-llvm", r) for r in ("prepared-onnx", "program", "library", "jar")} <= runners
    info = manifest["targets"]["tvm-llvm"]
    assert "llvm" in info["target"] and "mcpu" in info["target"]
    for rel in ("cnn_module.so", "libcnn.so", "bin/cnn", "lib/libtvm_runtime.so", "lib/libtvm_ffi.so",
                "java/cnn.jar", "cnn.hpp", "CMakeLists.txt"):
        assert (out / "tvm-llvm" / rel).exists(), rel


def _bare_env():
    """What a deployment machine without Python or TVM gives a program."""
    return {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}


def _rows_and_expected(n=20):
    """A CSV of n random images and ONNX Runtime's logits for them."""
    import onnxruntime as ort
    x = RNG.randn(n, 3, 8, 8).astype(np.float32)
    header = ",".join(f"x_{i}" for i in range(3 * 8 * 8))
    rows = header + "\n" + "\n".join(",".join(repr(float(v)) for v in r) for r in x.reshape(n, -1)) + "\n"
    expected = ort.InferenceSession(residual_cnn().SerializeToString()).run(None, {"x": x})[0]
    return rows, expected


def test_moved_artifact_runs_without_python(cnn_artifact, tmp_path):
    out, _ = cnn_artifact
    moved = tmp_path / "deploy" / "model"
    shutil.copytree(out / "tvm-llvm", moved)
    rows, expected = _rows_and_expected()
    for cmd in ([str(moved / "bin" / "cnn")], ["java", "-jar", str(moved / "java" / "cnn.jar")]):
        proc = subprocess.run(cmd, input=rows, capture_output=True, text=True, env=_bare_env(), cwd=tmp_path,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        got = np.array([[float(v) for v in line.split(",")] for line in proc.stdout.splitlines()[1:]])
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_missing_module_is_a_clear_error(cnn_artifact, tmp_path):
    out, _ = cnn_artifact
    moved = tmp_path / "partial"
    shutil.copytree(out / "tvm-llvm", moved)
    (moved / "cnn_module.so").unlink()
    proc = subprocess.run([str(moved / "bin" / "cnn")], input=_rows_and_expected(2)[0],
                          capture_output=True, text=True, env=_bare_env(), timeout=60)
    assert proc.returncode == 1
    assert "cannot find the compiled model cnn_module.so" in proc.stderr
    assert "MODELPORT_TVM_MODULE" in proc.stderr


def test_staged_path_runs_on_the_cpu(cnn_artifact, tmp_path):
    # The GPU's path (device tensors allocated by the runtime, copies in and out, one stream
    # synchronisation with the integer stream 0) taken on the CPU: each of its runtime calls is
    # type-checked here as on a GPU (a None stream was refused there: every call failed).
    out, _ = cnn_artifact
    rows, expected = _rows_and_expected()
    proc = subprocess.run([str(out / "tvm-llvm" / "bin" / "cnn")], input=rows, capture_output=True, text=True,
                          env={**_bare_env(), "MODELPORT_TVM_STAGED": "1"}, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = np.array([[float(v) for v in line.split(",")] for line in proc.stdout.splitlines()[1:]])
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


CALL_LIBRARY = """
import ctypes, sys, numpy as np
libs = [ctypes.CDLL(p) for p in sys.argv[1::2]]
for lib, name in zip(libs, sys.argv[2::2]):
    predict = getattr(lib, name + "_predict")
    predict.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
    err = getattr(lib, name + "_last_error")
    err.restype = ctypes.c_char_p
    nf, no = getattr(lib, name + "_num_features")(), getattr(lib, name + "_num_outputs")()
    x = np.linspace(-1, 1, 3 * nf, dtype=np.float32)
    y = np.zeros(3 * no, dtype=np.float32)
    rc = predict(x.ctypes.data, 3, y.ctypes.data)
    print(name, rc, err().decode(), " ".join(repr(float(v)) for v in y))
"""


def test_a_failing_call_returns_a_code_and_its_message(cnn_artifact, tmp_path):
    # The C ABI never throws: the model cannot be loaded, <name>_predict returns 4 and
    # <name>_last_error says why; the process goes on.
    out, _ = cnn_artifact
    proc = subprocess.run([sys.executable, "-c", CALL_LIBRARY, str(out / "tvm-llvm" / "libcnn.so"), "cnn"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MODELPORT_TVM_MODULE": str(tmp_path / "gone.so")})
    assert proc.returncode == 0, proc.stderr
    name, rc, message = proc.stdout.split(" ", 2)
    assert rc == "4" and "MODELPORT_TVM_MODULE=" in message and "is not a file" in message, proc.stdout


def test_two_tvm_models_in_one_process(cnn_artifact, tmp_path):
    out, _ = cnn_artifact
    compile_and_check(two_in_two_out(), tmp_path, targets=("tvm-llvm",), name="two", rows=16)
    proc = subprocess.run([sys.executable, "-c", CALL_LIBRARY, str(out / "tvm-llvm" / "libcnn.so"), "cnn",
                           str(tmp_path / "out" / "tvm-llvm" / "libtwo.so"), "two"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert [line.split(" ", 2)[:2] for line in lines] == [["cnn", "0"], ["two", "0"]], proc.stdout
    import onnxruntime as ort
    for line, model, nf in zip(lines, (residual_cnn(), two_in_two_out()), (3 * 8 * 8, 5)):
        x = np.linspace(-1, 1, 3 * nf, dtype=np.float32).reshape(3, nf)
        sess = ort.InferenceSession(model.SerializeToString())
        feeds, col = {}, 0
        for i in sess.get_inputs():
            width = int(np.prod(i.shape[1:]))
            feeds[i.name] = x[:, col:col + width].reshape([3, *i.shape[1:]])
            col += width
        want = np.concatenate([o.reshape(3, -1) for o in sess.run(None, feeds)], axis=1)
        got = np.array([float(v) for v in line.split(" ", 3)[3].split()]).reshape(3, -1)
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_gpu_check_script_checks_and_times_artifacts(tmp_path):
    """`make gpu-check`'s script on a tvm-llvm artifact (the same code runs tvm-cuda on a GPU)."""
    from sklearn.ensemble import RandomForestClassifier
    X = RNG.randn(200, 4).astype(np.float32)
    forest = RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    compile_and_check(forest, tmp_path / "artifacts" / "forest", targets=("tvm-llvm",), name="forest", rows=32)
    results = tmp_path / "results.md"
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "gpu_check.py")
    proc = subprocess.run([sys.executable, script, "--artifacts", str(tmp_path / "artifacts" / "forest"), "--targets",
                           "tvm-llvm", "--seconds", "0.2", "--results", str(results)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = results.read_text()
    for runner in ("program", "library", "jar", "all libraries in one process"):
        assert f"| forest | tvm-llvm | {runner} | pass |" in text, text
    timed = [line.split(" | ") for line in text.splitlines() if line.startswith(("| forest | 1 |", "| forest | 64 |"))]
    assert len(timed) == 2, text
    for cells in timed:
        assert cells[2].endswith(" µs") and cells[3].endswith(" µs"), cells  # tvm-llvm, ONNX Runtime
        assert float(cells[2].split()[0]) > 0 and float(cells[3].split()[0]) > 0
        assert "not run: the original model is not at hand" in cells[4]
    # Artifacts without stored rows (compiled from a bare ONNX graph) are refused with the reason.
    compile_and_check(two_in_two_out(), tmp_path / "bare", targets=("tvm-llvm",), name="two")
    proc = subprocess.run([sys.executable, script, "--artifacts", str(tmp_path / "bare"), "--targets", "tvm-llvm"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "no stored parity rows" in proc.stderr, proc.stderr


@pytest.mark.parametrize("model, direct", [(residual_cnn, True), (two_in_two_out, False)])
def test_fixed_batch_c_abi_runs_whole_batches(model, direct, tmp_path):
    """`<name>_predict` hands a fixed-batch library whole batches: one image input passes all rows
    straight through; other layouts gather rows in blocks that are a multiple of the batch (a
    block of one row would pad each row to a full batch)."""
    manifest = compile_and_check(model(), tmp_path, targets=("tvm-llvm",), name="m", rows=21, batch=4)
    source = (tmp_path / "out" / "tvm-llvm" / f"{manifest['name']}.cpp").read_text()
    predict = source[source.index("int Model::predict(const float* x"):]
    predict = predict[:predict.index("\n}\n")]
    if direct:
        assert "run(inputs, outputs, n_rows);" in predict and "kBlock" not in predict, predict
    else:
        block = int(predict.split("constexpr int64_t kBlock = ")[1].split(";")[0])
        assert block >= 4 and block % 4 == 0, predict


def test_two_inputs_two_outputs_keep_their_names(tmp_path):
    manifest = compile_and_check(two_in_two_out(), tmp_path, targets=("tvm-llvm",), name="two", rows=32)
    cols = manifest["schema"]
    assert [c["name"] for c in cols["inputs"]] == ["a_0", "a_1", "a_2", "b_0", "b_1"]
    assert [c["name"] for c in cols["outputs"]] == ["sum_0", "sum_1", "sum_2", "sum_3", "prob_0", "prob_1"]
    header = (tmp_path / "out" / "tvm-llvm" / "two.hpp").read_text()
    assert "const float* a;" in header and "const float* b;" in header and "float* prob;" in header


def test_default_targets_for_a_convolution_model(tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx.save(residual_cnn(), path)
    proc = subprocess.run([*MODELPORT, "compile", str(path), "-o", str(tmp_path / "out"), "--rows", "16"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "targets: tvm-llvm, onnx" in proc.stderr
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["targets"].keys() == {"tvm-llvm", "onnx"}


def test_string_inputs_are_refused_with_a_reason(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Identity", ["s"], ["y"])], "strings",
        [helper.make_tensor_value_info("s", TensorProto.STRING, ["N", 1])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, ["N", 1])])
    path = tmp_path / "strings.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    proc = subprocess.run([*MODELPORT, "compile", str(path), "-t", "tvm-llvm", "-o", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2
    assert "holds strings" in proc.stderr and "cpp or java" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def _has_nvcc():
    return shutil.which("nvcc") is not None


@pytest.fixture(scope="module")
def cuda_artifact(tmp_path_factory):
    if not _has_nvcc():
        pytest.skip("tvm-cuda builds need nvcc (the CUDA toolkit), which this machine lacks")
    tmp = tmp_path_factory.mktemp("cuda")
    manifest = modelport_compile(residual_cnn(), tmp / "out", ("tvm-cuda",))
    return tmp / "out", manifest


def modelport_compile(model, out, targets):
    import modelport
    return modelport.compile(model, targets=targets, out=out, name="cnn", rows=32, cuda_arch="sm_80,sm_90")


def test_cuda_build_holds_compiled_kernels(cuda_artifact):
    out, manifest = cuda_artifact
    folder = out / "tvm-cuda"
    module = (folder / "cnn_module.so").read_bytes()
    # Kernels are a fatbin (SASS per architecture), not CUDA source compiled when loaded.
    assert b"__global__" not in module
    assert b"sm_80" in module or b"sm_90" in module
    for lib in ("libtvm_runtime.so", "libtvm_ffi.so", "libtvm_runtime_cuda.so", "libcudart.so.13"):
        assert (folder / "lib" / lib).exists(), lib
    assert manifest["targets"]["tvm-cuda"]["cuda_archs"] == ["sm_80", "sm_90"]


def test_cuda_parity_without_a_gpu_says_not_run(cuda_artifact):
    from modelport.parity.gpu import cuda_available
    out, manifest = cuda_artifact
    ok, why = cuda_available()
    report = json.loads((out / "parity.json").read_text())
    if ok:
        pytest.skip(f"this machine has {why}: the GPU test below runs the artifact")
    assert {s["runner"] for s in report["skipped"]} == {"program", "library", "jar"}
    assert all(s["reason"] == why for s in report["skipped"])
    assert "not run: " + why in (out / "parity.md").read_text()
    # The graph prepared for TVM was still checked against ONNX Runtime.
    assert any(c["target"] == "tvm-cuda" and c["runner"] == "prepared-onnx" and c["passed"]
               for c in report["checks"])


@pytest.mark.gpu
def test_cuda_artifact_on_the_gpu(cuda_artifact):
    from modelport.parity.gpu import cuda_available
    ok, why = cuda_available()
    if not ok:
        pytest.skip(f"GPU test: {why}")
    out, manifest = cuda_artifact
    report = json.loads((out / "parity.json").read_text())
    assert manifest["parity"]["passed"], (out / "parity.md").read_text()
    assert {("tvm-cuda", "program"), ("tvm-cuda", "library")} <= {(c["target"], c["runner"]) for c in report["checks"]}


def test_out_of_range_gather_index_reads_an_edge_row_instead_of_crashing(tmp_path):
    """An embedding lookup with an id outside the table: TVM's Gather would read out of bounds;
    the artifact clips the index (ONNX Runtime refuses such a row)."""
    table = np.arange(10, dtype=np.float32).reshape(5, 2)
    graph = helper.make_graph([helper.make_node("Gather", ["w", "ids"], ["y"], axis=0)], "lookup",
                              [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3, 2])],
                              [numpy_helper.from_array(table, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    valid = np.random.RandomState(0).randint(-5, 5, size=(16, 3)).astype(np.float64)
    np.save(tmp_path / "rows.npy", valid)
    manifest = compile_and_check(model, tmp_path, targets=("tvm-llvm",), name="lookup", data=tmp_path / "rows.npy")
    exe = tmp_path / "out" / "tvm-llvm" / "bin" / manifest["name"]
    proc = subprocess.run([str(exe)], input="ids_0,ids_1,ids_2\n0,99,-1000000\n", capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert [float(v) for v in proc.stdout.splitlines()[1].split(",")] == [0, 1, 8, 9, 0, 1]
