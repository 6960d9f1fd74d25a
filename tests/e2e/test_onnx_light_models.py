"""The model files the onnx wheel ships (onnx/backend/test/data/light/*.onnx: AlexNet, VGG,
ResNet-50, DenseNet, Inception, ShuffleNet, SqueezeNet, ZFNet at 224x224 with computed
weights), through tvm-llvm and onnx, against the outputs stored beside them.

Their input is the one onnx's backend test feeds them (0, 1/n, 2/n, ... over the image);
their inputs fix the batch size at 1 (the programs run them a row at a time).
"""
import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from helpers import compile_and_check

LIGHT = Path(onnx.__file__).parent / "backend" / "test" / "data" / "light"
# The TVM build of the big ones (VGG-19, ResNet-50, DenseNet-121) takes minutes each: the
# default run checks the quick ones, `make light-models` (MODELPORT_ALL_LIGHT_MODELS=1) all.
ALL = sorted(p.stem for p in LIGHT.glob("light_*.onnx"))
IN_SUITE = ALL if os.environ.get("MODELPORT_ALL_LIGHT_MODELS") else [
    "light_squeezenet", "light_shufflenet", "light_zfnet512"]


def stored_case(name: str):
    """(model path, input [1, ...], expected output) as onnx's backend test defines them."""
    path = LIGHT / f"{name}.onnx"
    model = onnx.load(path)
    inits = {i.name for i in model.graph.initializer}
    (inp,) = [i for i in model.graph.input if i.name not in inits]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    n = int(np.prod(shape))
    x = (np.arange(n).reshape(shape) / n).astype(np.float32)
    expected = numpy_helper.to_array(onnx.load_tensor(str(LIGHT / f"{name}_output_0.pb")))
    return path, x, expected


def check_light_model(name: str, tmp_path: Path):
    path, x, expected = stored_case(name)
    np.save(tmp_path / "input.npy", x.reshape(1, -1).astype(np.float64))
    manifest = compile_and_check(path, tmp_path, targets=("tvm-llvm", "onnx"), data=tmp_path / "input.npy")
    assert manifest["fixed_batch"] == 1
    # The artifact's own program, on the input onnx's test uses, against the stored output.
    header = ",".join(c["name"] for c in manifest["schema"]["inputs"])
    row = ",".join(repr(float(v)) for v in x.reshape(-1))
    exe = tmp_path / "out" / "tvm-llvm" / "bin" / manifest["name"]
    proc = subprocess.run([str(exe)], input=f"{header}\n{row}\n", capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    got = np.array([float(v) for v in proc.stdout.splitlines()[1].split(",")], dtype=np.float32)
    # onnx's own tolerances for these models.
    np.testing.assert_allclose(got, expected.reshape(-1), rtol=1e-3, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("name", IN_SUITE)
def test_light_model_matches_its_stored_outputs(name, tmp_path):
    check_light_model(name, tmp_path)
