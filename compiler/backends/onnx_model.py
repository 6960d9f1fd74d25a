"""The `onnx` target: the checked ONNX model, for ONNX Runtime users."""
from pathlib import Path

import onnx

from ..errors import UnsupportedError
from ..ort_session import has_own_ops, own_ops


def check(proto) -> None:
    """Refuse a graph ONNX Runtime cannot run on its own: one with modelport's own ops."""
    if has_own_ops(proto):
        raise UnsupportedError(
            f"the onnx target needs ONNX Runtime to run every node, and this model has {', '.join(own_ops(proto))} "
            "(modelport's own op: ONNX Runtime's text ops do not tokenize as scikit-learn does); "
            "use the cpp or java targets")


def emit(directory: Path, proto, name, **_) -> dict:
    check(proto)
    directory.mkdir(parents=True)
    onnx.save(proto, directory / f"{name}.onnx")
    import onnxruntime
    return {"files": [f"{name}.onnx"], "runtime": f"onnxruntime {onnxruntime.__version__}"}
