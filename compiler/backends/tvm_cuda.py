"""The `tvm-cuda` target: the model compiled by Apache TVM for NVIDIA GPUs. The kernels are
compiled to a fatbin at build time (nvcc, for --cuda-arch, default sm_80 and sm_90), so the
artifact runs on a machine with the NVIDIA driver and no compiler."""
from __future__ import annotations

from .tvm_target import emit_tvm

NEEDS_PROGRAM = False


def emit(directory, **context) -> dict:
    return emit_tvm(directory, device="kCUDA", **context)
