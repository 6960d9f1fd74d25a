"""Whether this machine can run CUDA code: the NVIDIA driver's libcuda and at least one GPU."""
from __future__ import annotations

import ctypes
import functools


@functools.lru_cache(maxsize=1)
def cuda_available() -> tuple:
    """(True, "<n> GPU(s)") or (False, why not)."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False, "no NVIDIA driver on this machine (libcuda.so.1 not found)"
    if cuda.cuInit(0) != 0:
        return False, "the NVIDIA driver found no usable GPU (cuInit failed)"
    count = ctypes.c_int(0)
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return False, "no NVIDIA GPU on this machine"
    return True, f"{count.value} GPU(s)"
