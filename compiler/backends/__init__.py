"""Targets: name -> module with `emit(directory, **context) -> info` (and NEEDS_PROGRAM when it
renders the lowered kernel Program)."""
import importlib

TARGETS = {
    "cpp": "cpp",
    "java": "java",
    "tvm-llvm": "tvm_llvm",
    "tvm-cuda": "tvm_cuda",
    "onnx": "onnx_model",
}


def target_module(target: str):
    return importlib.import_module(f".{TARGETS[target]}", __package__)
