"""Calls a stub library's C ABI (`<name>_predict_f64` on float64 rows, `<name>_predict` on float32
rows) in a child Python process.

The TVM stubs carry their own copy of the TVM runtime (lib/); loading it into a process
that has imported tvm would put two runtimes, with two global registries, in one process.
A child process keeps each artifact's runtime its own, as on a deployment machine.

Usage: python -m modelport.parity.isolated_library LIB NAME IN.npy OUT.npy N_OUT [BATCH SECONDS]
(with BATCH and SECONDS it times calls of BATCH rows for about SECONDS instead, and writes the
per-call times in nanoseconds to OUT.npy).
"""
from __future__ import annotations

import ctypes
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def call(lib: Path, name: str, x: np.ndarray, n_out: int) -> np.ndarray:
    """Rows in, rows of the same type out, through `lib`'s C ABI in a child process: float64
    rows (x.dtype) through `<name>_predict_f64`, anything else as float32 through `<name>_predict`."""
    suffix, dtype = _function(x.dtype)
    with tempfile.TemporaryDirectory() as tmp:
        xin, yout = Path(tmp) / "x.npy", Path(tmp) / "y.npy"
        np.save(xin, np.ascontiguousarray(x, dtype=dtype))
        proc = subprocess.run([sys.executable, "-m", __name__, str(lib), name, str(xin), str(yout), str(n_out)],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            raise RuntimeError(f"{lib.name}: {name}{suffix} failed: {proc.stderr.strip()[-2000:]}")
        return np.load(yout)


def _function(dtype) -> tuple:
    """(suffix of the C function, the element type it takes) for rows of `dtype`."""
    return ("_predict_f64", np.float64) if np.dtype(dtype) == np.float64 else ("_predict", np.float32)


def time_calls(lib: Path, name: str, x: np.ndarray, n_out: int, batch: int, seconds: float = 1.0) -> np.ndarray:
    """Wall-clock nanoseconds of calls of `batch` rows (cycling through `x`) for about `seconds`,
    after one warm-up call, in a child process; through `<name>_predict` (float32 rows)."""
    with tempfile.TemporaryDirectory() as tmp:
        xin, yout = Path(tmp) / "x.npy", Path(tmp) / "t.npy"
        np.save(xin, np.ascontiguousarray(x, dtype=np.float32))
        proc = subprocess.run([sys.executable, "-m", __name__, str(lib), name, str(xin), str(yout), str(n_out),
                               str(batch), str(seconds)], capture_output=True, text=True, timeout=600 + seconds)
        if proc.returncode != 0:
            raise RuntimeError(f"{lib.name}: {name}_predict failed: {proc.stderr.strip()[-2000:]}")
        return np.load(yout)


def timed(call, seconds: float) -> np.ndarray:
    """Nanoseconds of each `call()` for about `seconds` (at least 3 calls), after one warm-up
    call (a GPU's first call loads its kernels)."""
    import time
    call()
    times, end = [], time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 3:
        t0 = time.perf_counter_ns()
        call()
        times.append(time.perf_counter_ns() - t0)
    return np.array(times, dtype=np.int64)


def _timed(fn, x: np.ndarray, n_out: int, batch: int, seconds: float) -> np.ndarray:
    """The C function `fn` on `batch` rows at a time, cycling through the batches of `x`."""
    batches = [np.ascontiguousarray(x[r0:r0 + batch]) for r0 in range(0, max(1, len(x) - batch + 1), batch)]
    y = np.zeros((batch, n_out), dtype=x.dtype)
    state = {"i": 0}

    def call():
        xb = batches[state["i"] % len(batches)]
        state["i"] += 1
        rc = fn(xb.ctypes.data, batch, y.ctypes.data)
        if rc != 0:
            sys.exit(f"predict returned {rc}")
    return timed(call, seconds)


def main(argv):
    lib, name, xin, yout, n_out = argv[:5]
    x = np.load(xin)
    suffix, dtype = _function(x.dtype)
    dll = ctypes.CDLL(lib)
    fn = getattr(dll, f"{name}{suffix}")
    fn.restype = ctypes.c_int
    fn.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
    x = np.ascontiguousarray(x, dtype=dtype)
    if len(argv) > 5:
        batch = int(argv[5])
        if len(x) < batch:
            x = np.resize(x, (batch, x.shape[1]))
        np.save(yout, _timed(fn, np.ascontiguousarray(x), int(n_out), batch, float(argv[6])))
        return
    y = np.zeros((len(x), int(n_out)), dtype=dtype)
    rc = fn(x.ctypes.data, len(x), y.ctypes.data)
    if rc != 0:
        sys.exit(f"{name}{suffix} returned {rc}")
    np.save(yout, y)


if __name__ == "__main__":
    main(sys.argv[1:])
