"""Builds the tvm-cuda library in a child process, with every CUDA kernel compiled by nvcc to
a fatbin inside the library (SASS for each --cuda-arch, plus PTX of the newest for later
GPUs), so that the artifact needs the NVIDIA driver and no compiler where it runs.

TVM compiles CUDA kernels through its CUDA runtime plugin (libtvm_runtime_cuda.so), which
needs the driver library libcuda.so.1 to load. A build machine without a GPU has none: the
child process then loads a stand-in built here whose functions all fail. Nothing calls
them while building; the stand-in never leaves the child process or the build folder.

Usage: python -m modelport.backends.tvm_cuda_build PREPARED.onnx OUT.so ARCHS TUNE_SECONDS BATCH
"""
from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import BuildError

# The driver functions libtvm_runtime_cuda.so imports (the rest comes from libcudart).
DRIVER_STANDIN = r"""
#define FAIL(name) int name(void) { return 34; /* CUDA_ERROR_STUB_LIBRARY */ }
FAIL(cuDeviceGetName) FAIL(cuFuncSetAttribute) FAIL(cuLaunchKernelEx) FAIL(cuModuleGetFunction)
FAIL(cuModuleLoadData) FAIL(cuModuleUnload) FAIL(cuTensorMapEncodeTiled)
int cuGetErrorName(int e, const char** s) { (void)e; *s = "CUDA_ERROR_STUB_LIBRARY"; return 0; }
int cuGetErrorString(int e, const char** s) { (void)e; *s = "no NVIDIA driver (build-time stand-in)"; return 0; }
"""


def build(prepared: Path, out: Path, archs: str, tune_seconds: float = 0, batch=None, progress=None) -> dict:
    """Run the build in a child process; returns its info dict."""
    if not shutil.which("nvcc"):
        raise BuildError("the tvm-cuda target needs nvcc (the CUDA toolkit, 12 or newer) on the build machine "
                         "to compile the GPU kernels; install it, or leave out tvm-cuda")
    if progress:
        progress(f"compiling CUDA kernels with nvcc for {archs}")
    proc = subprocess.run([sys.executable, "-m", __name__, str(prepared), str(out), archs, str(tune_seconds),
                           str(batch or 0)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-15:]
        raise BuildError("the tvm-cuda build failed:\n" + "\n".join(tail))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _load_cuda_plugin(tmp: Path):
    """Load TVM's CUDA runtime plugin, with the driver library or its stand-in."""
    import tvm
    plugin = Path(tvm.__file__).parent / "lib" / "libtvm_runtime_cuda.so"
    try:
        ctypes.CDLL("libcuda.so.1", mode=ctypes.RTLD_GLOBAL)
    except OSError:
        src, lib = tmp / "driver_standin.c", tmp / "libcuda.so.1"
        src.write_text(DRIVER_STANDIN)
        cc = shutil.which("gcc") or shutil.which("cc") or "g++"
        subprocess.run([cc, "-shared", "-fPIC", "-Wl,-soname,libcuda.so.1", "-o", str(lib), str(src)], check=True)
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
    ctypes.CDLL(str(plugin), mode=ctypes.RTLD_GLOBAL)


def _register_nvcc(target, archs: list):
    import tvm_ffi
    from tvm.support import nvcc
    flags = []
    for a in archs:
        flags += ["-gencode", f"arch=compute_{a[3:]},code=sm_{a[3:]}"]
    newest = max(archs, key=lambda a: int(a[3:]))[3:]
    flags += ["-gencode", f"arch=compute_{newest},code=compute_{newest}"]

    @tvm_ffi.register_global_func("tvm_callback_cuda_compile", override=True)
    def _compile(code, *_):
        with target:
            return nvcc.compile_cuda(code, target_format="fatbin", arch=flags, compiler="nvcc")


def main(argv):
    import onnx

    from . import tvm_build
    prepared, out, archs, tune, batch = argv[0], argv[1], argv[2].split(","), float(argv[3]), int(argv[4])
    with tempfile.TemporaryDirectory() as tmp:
        _load_cuda_plugin(Path(tmp))
        target = tvm_build.cuda_target(archs[0])
        _register_nvcc(target, archs)
        mod = tvm_build.to_relax(onnx.load(prepared), batch or None)
        executable, info = tvm_build.compile_module(mod, target, tune_seconds=tune)
        tvm_build.export(executable, Path(out), target)
    info["cuda_archs"] = archs
    print(json.dumps(info))


if __name__ == "__main__":
    os.environ.setdefault("TVM_CUDA_COMPILE_MODE", "nvcc")
    try:
        main(sys.argv[1:])
    except Exception as exc:  # reported by the parent as a BuildError
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
