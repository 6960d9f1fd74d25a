#!/usr/bin/env python3
"""`make gpu-check`: parity and latency of tvm-cuda artifacts on a machine with an NVIDIA GPU.

1. Builds (here, or wherever nvcc is) tvm-cuda and tvm-llvm artifacts of a few models into
   build/gpu-check/<model>/, each with its parity rows and the original model's answers
   stored (parity/inputs.csv, parity/reference.npz). `--build-only` stops there.
2. On a machine with a GPU and its driver: runs each artifact's own CSV program, from the
   artifact folder with its bundled TVM runtime and a bare environment, on the stored rows,
   and compares with the stored answers (`modelport check` rules); then times the tvm-cuda
   library against ONNX Runtime on the CPU (and PyTorch on the GPU when it has CUDA).
   Results go to build/gpu-check/results.md.

Without a GPU the check says so and exits 0 after building: the artifacts can be copied to a
GPU machine and checked there with `make gpu-check ARTIFACTS=build/gpu-check`.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "gpu-check"


def models():
    """(name, model, shape options) of the models checked: small, seeded, built in seconds."""
    import torch
    from sklearn.ensemble import RandomForestClassifier
    from torch import nn

    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
                        nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(16, 10)).eval()
    mlp = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8)).eval()
    rng = np.random.RandomState(0)
    X = rng.randn(500, 10).astype(np.float32)
    forest = RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    return [("cnn", cnn, {"example_inputs": (torch.randn(2, 3, 32, 32),)}),
            ("mlp", mlp, {"example_inputs": (torch.randn(2, 32),)}),
            ("forest", forest, {})]


def build(archs: str) -> list:
    import modelport
    dirs = []
    for name, model, options in models():
        out = OUT / name
        t0 = time.time()
        modelport.compile(model, targets=["tvm-cuda", "tvm-llvm"], out=out, name=name, rows=64,
                          cuda_arch=archs, **options)
        print(f"built {out} in {time.time() - t0:.0f} s", flush=True)
        dirs.append(out)
    return dirs


def check_program(folder: Path, target: str) -> dict:
    """The artifact's own program on the stored rows, against the stored answers."""
    from modelport.parity.compare import compare
    from modelport.parity.runners import csv_to_outputs
    from modelport.schema import Schema
    manifest = json.loads((folder / "manifest.json").read_text())
    schema = Schema.from_dict(manifest["schema"])
    exe = folder / target / "bin" / manifest["name"]
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    proc = subprocess.run([str(exe)], input=(folder / "parity" / "inputs.csv").read_text(), capture_output=True,
                          text=True, env=env, timeout=600)
    if proc.returncode != 0:
        return {"passed": False, "error": proc.stderr.strip()[-500:]}
    reference = np.load(folder / "parity" / "reference.npz")
    sizes, dtypes = {}, {}
    for c in schema.outputs:
        sizes[c.tensor] = max(sizes.get(c.tensor, 0), c.offset + 1)
        dtypes[c.tensor] = "str" if reference[c.tensor].dtype.kind in "US" else "f32"
    got = csv_to_outputs(proc.stdout, schema, sizes, dtypes)
    kinds = {c.tensor: c.kind for c in schema.outputs}
    results = {t: compare(kinds[t], got[t], reference[t].reshape(len(got[t]), -1)) for t in sizes}
    worst = max((r.get("max_abs_error", 0.0) for r in results.values()), default=0.0)
    return {"passed": all(r["passed"] for r in results.values()), "max_abs_error": worst}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifacts", type=Path, help="check artifacts built before (a folder of them)")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--cuda-arch", default="sm_80,sm_90")
    args = ap.parse_args(argv)
    from modelport.parity.gpu import cuda_available
    dirs = sorted(p for p in args.artifacts.iterdir() if (p / "manifest.json").exists()) if args.artifacts \
        else build(args.cuda_arch)
    ok, why = cuda_available()
    if args.build_only or not ok:
        print(f"gpu-check: {'built only' if args.build_only else 'not run: ' + why}. Artifacts: "
              f"{', '.join(str(d) for d in dirs)}; on a machine with an NVIDIA GPU run "
              f"`make gpu-check ARTIFACTS={OUT.relative_to(ROOT)}`.")
        return 0
    lines = ["| model | target | parity | max abs error |", "|---|---|---|---|"]
    failed = False
    for d in dirs:
        for target in ("tvm-cuda", "tvm-llvm"):
            r = check_program(d, target)
            failed |= not r["passed"]
            lines.append(f"| {d.name} | {target} | {'pass' if r['passed'] else 'FAIL'} | "
                         f"{r.get('max_abs_error', r.get('error', ''))} |")
    text = "\n".join(lines) + "\n"
    (OUT / "results.md").parent.mkdir(parents=True, exist_ok=True)
    (OUT / "results.md").write_text(text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
