"""The `onnx` target: the checked ONNX model, for ONNX Runtime users."""
from pathlib import Path

import onnx


def emit(directory: Path, proto, name, **_) -> dict:
    directory.mkdir(parents=True)
    onnx.save(proto, directory / f"{name}.onnx")
    import onnxruntime
    return {"files": [f"{name}.onnx"], "runtime": f"onnxruntime {onnxruntime.__version__}"}
