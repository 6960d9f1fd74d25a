"""The `tvm-llvm` target: the model compiled by Apache TVM for the host CPU (LLVM), with a
C++ stub (the cpp target's API, C ABI and CSV program) and a Java stub over JNI."""
from __future__ import annotations

from .tvm_target import emit_tvm

NEEDS_PROGRAM = False


def emit(directory, **context) -> dict:
    return emit_tvm(directory, device="kCPU", **context)
