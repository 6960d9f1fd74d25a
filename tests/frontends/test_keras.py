"""TensorFlow/Keras frontend: Keras models, .keras files and SavedModel directories, converted
with tf2onnx, made batch-first and checked against the original model in Keras/TensorFlow."""
from __future__ import annotations

import os
import subprocess
import sys
import warnings
import zipfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from modelport.errors import UnsupportedError, UsageError  # noqa: E402
from modelport.frontends import load_source, tf_keras  # noqa: E402
from tests.helpers import compile_and_check  # noqa: E402

MODELPORT = [sys.executable, "-m", "modelport.cli"]
layers = keras.layers


def seeded(build):
    """The model `build` makes, with seeded weights and non-zero biases (which an untrained
    model lacks, and tf2onnx drops when they are zero)."""
    keras.utils.set_random_seed(0)
    model = build()
    rng = np.random.RandomState(0)
    for v in model.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0, 0.3, v.shape).astype(v.dtype))
    return model


def compile_onnx(model, tmp_path, targets=("onnx",), **options) -> dict:
    return compile_and_check(model, tmp_path, targets=targets, rows=64, **options)


TVM = ("tvm-llvm", "onnx")


def ops_of(manifest) -> set:
    return set(manifest["onnx"]["ops"])


def mlp():
    return keras.Sequential([keras.Input((8,), name="x"), layers.Dense(16, activation="relu"),
                             layers.Dense(3, activation="softmax", name="probs")])


def test_sequential_mlp(tmp_path):
    manifest = compile_onnx(seeded(mlp), tmp_path, ("cpp", "java", *TVM))
    schema = manifest["schema"]
    assert [c["name"] for c in schema["inputs"]] == [f"x_{i}" for i in range(8)]
    assert [c["name"] for c in schema["outputs"]] == ["probs_0", "probs_1", "probs_2"]
    assert {c["kind"] for c in schema["outputs"]} == {"value"} and schema["task"] == "tensor"
    source = manifest["source"]
    assert source["framework"] == "keras" and source["converter"].startswith("tf2onnx ")
    assert ops_of(manifest) == {"MatMul", "Add", "Relu", "Softmax"}


def test_exact_gelu_and_layer_normalization(tmp_path):
    model = seeded(lambda: keras.Sequential([
        keras.Input((8,), name="x"), layers.LayerNormalization(), layers.Dense(8, activation="gelu"),
        layers.Dense(1, name="y")]))
    manifest = compile_onnx(model, tmp_path)
    assert "Erf" in ops_of(manifest)  # TensorFlow's Erfc, which tf2onnx lacks, as 1 - Erf
    assert [c["name"] for c in manifest["schema"]["outputs"]] == ["y"]


def test_small_cnn(tmp_path):
    model = seeded(lambda: keras.Sequential([
        keras.Input((16, 16, 3), name="image"), layers.Conv2D(4, 3, activation="relu"), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(5)]))
    manifest = compile_onnx(model, tmp_path, TVM)
    # Flatten's target shape, computed from the batch size by tf2onnx, is a constant now.
    assert "Shape" not in ops_of(manifest) and {"Conv", "MaxPool", "Reshape"} <= ops_of(manifest)
    assert len(manifest["schema"]["inputs"]) == 16 * 16 * 3


def test_lstm_is_unrolled_batch_first(tmp_path):
    model = seeded(lambda: keras.Sequential([keras.Input((10, 4), name="seq"), layers.LSTM(6), layers.Dense(2)]))
    manifest = compile_onnx(model, tmp_path, TVM)
    ops = ops_of(manifest)
    assert not ops & {"LSTM", "Loop", "Shape", "Transpose"}, ops
    assert {"MatMul", "Sigmoid", "Tanh", "Mul", "Gather", "Slice"} <= ops


def test_bidirectional_backwards_lstm_and_dense_on_sequences(tmp_path):
    model = seeded(lambda: keras.Sequential([
        keras.Input((10, 4), name="seq"), layers.Bidirectional(layers.LSTM(5, return_sequences=True)),
        layers.LSTM(4, return_sequences=True, go_backwards=True), layers.Dense(3), layers.Flatten(),
        layers.Dense(2)]))
    ops = ops_of(compile_onnx(model, tmp_path))
    assert not ops & {"LSTM", "ReverseSequence", "Shape"}, ops


def test_lstm_with_other_activations_compiles_for_the_kernels(tmp_path):
    model = seeded(lambda: keras.Sequential([keras.Input((5, 3), name="seq"), layers.LSTM(4, activation="relu"),
                                             layers.Dense(2)]))
    manifest = compile_onnx(model, tmp_path, ("cpp", "java", "onnx"))
    assert "Relu" in ops_of(manifest) and not ops_of(manifest) & {"LSTM", "Shape"}


def test_gru_is_kept_as_tf2onnx_writes_it(tmp_path):
    """tf2onnx writes a GRU as a time-major Loop, which the rewrite does not make batch-first:
    the graph is kept as it is (the onnx target compiles it), and the manifest says why."""
    model = seeded(lambda: keras.Sequential([keras.Input((6, 3), name="seq"), layers.GRU(4), layers.Dense(2)]))
    manifest = compile_onnx(model, tmp_path)
    assert "Loop" in ops_of(manifest)
    assert "Loop node" in manifest["source"]["note"] and "gru" in manifest["source"]["note"]


def test_functional_model_with_two_inputs(tmp_path):
    def build():
        vec, seq = keras.Input((5,), name="vec"), keras.Input((7, 3), name="seq")
        joined = layers.Concatenate()([vec, layers.Flatten()(seq)])
        return keras.Model([vec, seq], layers.Dense(2, name="score")(layers.Dense(8, activation="tanh")(joined)))
    model = seeded(build)
    source = load_source(model)
    assert [i.name for i in source.onnx.graph.input] == ["vec", "seq"]
    assert [o.name for o in source.onnx.graph.output] == ["score"]
    names = [c.name for c in source.schema.inputs]
    assert names[:5] == [f"vec_{i}" for i in range(5)] and names[5:] == [f"seq_{i}" for i in range(21)]
    compile_onnx(model, tmp_path, ("cpp", "java", *TVM))


def test_mobilenet_v2(tmp_path):
    model = seeded(lambda: keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35,
                                                         classes=10))
    rng = np.random.RandomState(0)
    for layer in model.layers:  # batch statistics as a trained network would have them
        if isinstance(layer, layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                               rng.normal(0, 0.5, mean.shape), rng.uniform(0.5, 2.0, var.shape)])
    manifest = compile_onnx(model, tmp_path, TVM)
    assert {"Conv", "Clip", "GlobalAveragePool", "Softmax"} <= ops_of(manifest)
    assert [c["name"] for c in manifest["schema"]["outputs"]] == [f"predictions_{i}" for i in range(10)]


def test_embedding_text_model_gets_valid_token_ids(tmp_path):
    def build():
        tokens = keras.Input((12,), dtype="int32", name="tokens")
        h = layers.Embedding(50, 8)(tokens)
        h = layers.GlobalMaxPooling1D()(layers.Conv1D(6, 3, activation="relu")(h))
        return keras.Model(tokens, layers.Dense(1, activation="sigmoid", name="positive")(h))
    model = seeded(build)
    source = load_source(model)
    assert source.hints["samples"]["tokens_0"] == {"values": list(range(50)), "exact": True}
    compile_onnx(model, tmp_path)


def save(model, path):
    with warnings.catch_warnings():  # Keras' own use of numpy's copy keyword
        warnings.simplefilter("ignore", DeprecationWarning)
        model.save(path)


def test_keras_file_round_trip(tmp_path):
    path = tmp_path / "mlp.keras"
    save(seeded(mlp), path)
    manifest = compile_onnx(path, tmp_path)
    assert manifest["name"] == "mlp"
    source = manifest["source"]
    assert source["source_file"] == str(path) and len(source["source_sha256"]) == 64
    assert source["estimator"].startswith("Sequential")


def test_saved_model_directory_round_trip(tmp_path):
    directory = tmp_path / "exported"
    seeded(mlp).export(str(directory), verbose=False)
    manifest = compile_onnx(directory, tmp_path)
    source = manifest["source"]
    assert source["framework"] == "tensorflow" and "serving_default" in source["estimator"]
    assert [c["name"] for c in manifest["schema"]["inputs"]][:2] == ["x_0", "x_1"]
    assert [c["name"] for c in manifest["schema"]["outputs"]] == ["output_0_0", "output_0_1", "output_0_2"]
    # A loaded SavedModel is a model object too.
    compile_onnx(tf.saved_model.load(str(directory)), tmp_path / "loaded")


def test_unknown_row_shape_needs_input_shapes(tmp_path):
    model = seeded(lambda: keras.Sequential([keras.Input((None, 4), name="seq"), layers.LSTM(3)]))
    with pytest.raises(UsageError, match=r"--input-shape seq=D1,D2"):
        load_source(model)
    compile_onnx(model, tmp_path, input_shapes={"seq": (5, 4)})


def test_unconvertible_op_is_named():
    class Igamma(layers.Layer):
        def call(self, x):
            return tf.math.igamma(tf.abs(x) + 1.0, tf.abs(x) + 1.0)
    model = keras.Sequential([keras.Input((4,), name="x"), Igamma(name="incomplete_gamma"), layers.Dense(2)])
    with pytest.raises(UnsupportedError, match=r"tf2onnx .* cannot convert the TensorFlow op\(s\) Igamma .*"
                                               r"incomplete_gamma"):
        load_source(model)


def test_is_model_needs_no_framework_import():
    from sklearn.linear_model import LinearRegression
    assert tf_keras.is_model(seeded(mlp))
    assert tf_keras.is_model(tf.Module())
    assert not tf_keras.is_model(LinearRegression())
    assert not tf_keras.is_model(np.zeros(3))


def run_cli(*args):
    return subprocess.run([*MODELPORT, *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("what", ["corrupt .keras", "directory that is not a SavedModel"])
def test_bad_model_files_on_the_command_line(tmp_path, what):
    if what == "corrupt .keras":
        good = tmp_path / "good.keras"
        save(seeded(mlp), good)
        model = tmp_path / "bad.keras"
        model.write_bytes(good.read_bytes()[: good.stat().st_size // 2])  # a truncated download
        assert not zipfile.is_zipfile(model)
        expected = "cannot read"
    else:
        model = tmp_path / "not_a_model"
        model.mkdir()
        (model / "notes.txt").write_text("hello")
        expected = "not a TensorFlow SavedModel"
    out = tmp_path / "out"
    proc = run_cli("compile", model, "-t", "onnx", "-o", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert not out.exists()
