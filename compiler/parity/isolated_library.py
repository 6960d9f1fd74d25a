"""Calls a stub library's C ABI (`<name>_predict`) in a child Python process.

The TVM stubs carry their own copy of the TVM runtime (lib/); loading it into a process
that has imported tvm would put two runtimes, with two global registries, in one process.
A child process keeps each artifact's runtime its own, as on a deployment machine.

Usage: python -m modelport.parity.isolated_library LIB NAME IN.npy OUT.npy
"""
from __future__ import annotations

import ctypes
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def call(lib: Path, name: str, x: np.ndarray, n_out: int) -> np.ndarray:
    """float32 rows in, float32 rows out, through `<name>_predict` of `lib` in a child process."""
    with tempfile.TemporaryDirectory() as tmp:
        xin, yout = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(xin, np.ascontiguousarray(x, dtype=np.float32))
        proc = subprocess.run([sys.executable, "-m", __name__, str(lib), name, str(xin), str(yout), str(n_out)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{lib.name}: {name}_predict failed: {proc.stderr.strip()[-2000:]}")
        return np.load(yout)


def main(argv):
    lib, name, xin, yout, n_out = argv
    dll = ctypes.CDLL(lib)
    fn = getattr(dll, f"{name}_predict")
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
    x = np.load(xin)
    y = np.zeros((len(x), int(n_out)), dtype=np.float32)
    rc = fn(x.ctypes.data, len(x), y.ctypes.data)
    if rc != 0:
        sys.exit(f"{name}_predict returned {rc}")
    np.save(yout, y)


if __name__ == "__main__":
    main(sys.argv[1:])
