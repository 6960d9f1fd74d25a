#!/usr/bin/env python3
"""`make gpu-check`: parity and latency of tvm-cuda artifacts on a machine with an NVIDIA GPU.

1. Builds (here, or wherever nvcc is) tvm-cuda and tvm-llvm artifacts of a few models into
   build/gpu-check/<model>/, each with its parity rows and the original model's answers
   stored (parity/inputs.csv, parity/reference.npz). `--build-only` stops there.
2. On a machine with a GPU and its driver: runs every runner of each artifact on the stored
   rows and compares with the stored answers (`modelport check` rules): its own CSV program
   (from the artifact folder, with its bundled TVM runtime and a bare environment), its
   library through the C ABI, its jar (where `java` is on the PATH), and all the libraries of
   all the artifacts and targets loaded together in one process (a service with several
   models, a CPU and a GPU build of one model). Then times the tvm-cuda library against ONNX
   Runtime on the CPU (and PyTorch on the GPU when it has CUDA). Results go to
   build/gpu-check/results.md.

Without a GPU the check says so and exits 0 after building: the artifacts can be copied to a
GPU machine and checked there with `make gpu-check ARTIFACTS=build/gpu-check`.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
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


def build(archs: str) -> tuple:
    """Builds the artifacts; returns their folders and {folder name: original model}."""
    import modelport
    dirs, originals = [], {}
    for name, model, options in models():
        out = OUT / name
        t0 = time.time()
        modelport.compile(model, targets=["tvm-cuda", "tvm-llvm"], out=out, name=name, rows=64,
                          cuda_arch=archs, **options)
        print(f"built {out} in {time.time() - t0:.0f} s", flush=True)
        dirs.append(out)
        originals[name] = model
    return dirs, originals


RUNNERS = ("program", "library", "jar")


def _stored(folder: Path) -> tuple:
    """(manifest, schema, stored answers, {tensor: width}) of an artifact folder."""
    from modelport.schema import Schema
    manifest = json.loads((folder / "manifest.json").read_text())
    schema = Schema.from_dict(manifest["schema"])
    reference = np.load(folder / "parity" / "reference.npz")
    sizes = {}
    for c in schema.outputs:
        sizes[c.tensor] = max(sizes.get(c.tensor, 0), c.offset + 1)
    return manifest, schema, reference, sizes


def _verdict(schema, reference, got: dict) -> dict:
    from modelport.parity.compare import compare
    kinds = {c.tensor: c.kind for c in schema.outputs}
    results = {t: compare(kinds[t], got[t], reference[t].reshape(len(got[t]), -1)) for t in got}
    worst = max((r.get("max_abs_error", 0.0) for r in results.values()), default=0.0)
    return {"passed": all(r["passed"] for r in results.values()), "max_abs_error": worst}


def check_runner(folder: Path, target: str, runner: str) -> dict:
    """One runner of the artifact on the stored rows, against the stored answers: its CSV
    program or its jar (a bare environment), or its library (the C ABI, in this process)."""
    from modelport.parity.inputs import read_data
    from modelport.parity.runners import csv_to_outputs, run_library
    manifest, schema, reference, sizes = _stored(folder)
    name, rows = manifest["name"], folder / "parity" / "inputs.csv"
    if runner == "library":
        try:
            got = run_library(folder / target / f"lib{name}.so", name, read_data(rows, schema), schema, sizes)
        except Exception as exc:  # noqa: BLE001 - reported in the table
            return {"passed": False, "error": str(exc)[-500:]}
        return _verdict(schema, reference, got)
    if runner == "jar":
        java = shutil.which("java")
        if java is None:
            return {"passed": None, "error": "not run: no java on the PATH"}
        cmd = [java, "-jar", str(folder / target / "java" / f"{name}.jar")]
    else:
        cmd = [str(folder / target / "bin" / name)]
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    proc = subprocess.run(cmd, input=rows.read_text(), capture_output=True, text=True, env=env, timeout=600)
    if proc.returncode != 0:
        return {"passed": False, "error": proc.stderr.strip()[-500:]}
    dtypes = {t: "str" if reference[t].dtype.kind in "US" else "f32" for t in sizes}
    return _verdict(schema, reference, csv_to_outputs(proc.stdout, schema, sizes, dtypes))


def check_together(pairs: list) -> list:
    """Every (folder, target)'s library loaded into one child process, each checked there."""
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--together",
                           *[f"{folder}:{target}" for folder, target in pairs]],
                          capture_output=True, text=True, timeout=1200)
    if proc.returncode != 0:
        why = (proc.stderr.strip() or f"exit code {proc.returncode}")[-500:]
        return [{"passed": False, "error": f"the process died: {why}"} for _ in pairs]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def time_artifact(folder: Path, targets: list, batches, seconds: float, originals: dict) -> list:
    """Latency per call of each target's library (C ABI, in a child process), ONNX Runtime on the
    CPU, and PyTorch on the GPU where the original model is at hand and torch has CUDA."""
    import onnx
    import onnxruntime as ort
    from modelport.parity.inputs import read_data, to_feed
    from modelport.parity.isolated_library import time_calls
    from modelport.schema import Schema
    manifest = json.loads((folder / "manifest.json").read_text())
    name, schema = manifest["name"], Schema.from_dict(manifest["schema"])
    proto = onnx.load(str(folder / "model.onnx"))
    table = read_data(folder / "parity" / "inputs.csv", schema)
    x = np.column_stack([np.asarray(table[c.name], dtype=np.float32) for c in schema.inputs])
    x = np.nan_to_num(x)  # latency only: missing values take other paths in trees
    feed = to_feed({c.name: x[:, i] for i, c in enumerate(schema.inputs)}, schema, proto)
    sess = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    rows = []
    for batch in batches:
        row = {"model": name, "batch": batch}
        for target in targets:
            lib = folder / target / f"lib{name}.so"
            try:
                t = time_calls(lib, name, x, len(schema.outputs), batch, seconds)
                row[target] = float(np.median(t))
            except Exception as exc:  # noqa: BLE001 - reported in the table
                row[target] = f"failed: {str(exc)[-200:]}"
        big = {k: np.resize(v, (max(batch, len(v)),) + v.shape[1:])[:batch] for k, v in feed.items()}
        row["onnxruntime-cpu"] = _median_ns(lambda: sess.run(None, big), seconds)
        row["pytorch-gpu"] = _torch_gpu(originals.get(folder.name), big, seconds)
        rows.append(row)
    return rows


def _median_ns(fn, seconds: float) -> float:
    from modelport.parity.isolated_library import timed
    return float(np.median(timed(fn, seconds)))


def _torch_gpu(model, feed: dict, seconds: float):
    if model is None:
        return "not run: the original model is not at hand (artifacts built elsewhere)"
    try:
        import torch
    except ImportError:
        return "not run: torch is not installed"
    if not isinstance(model, torch.nn.Module):
        return "not run: not a PyTorch model"
    if not torch.cuda.is_available():
        return f"not run: this torch ({torch.__version__}) has no CUDA"
    gpu = model.to("cuda")
    args = [torch.from_numpy(v).to("cuda") for v in feed.values()]

    def call():
        with torch.no_grad():
            gpu(*args)
        torch.cuda.synchronize()
    return _median_ns(call, seconds)


def _cell(v) -> str:
    return f"{v / 1e3:.1f} µs" if isinstance(v, float) else str(v)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifacts", type=Path, help="check artifacts built before (a folder of them)")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--cuda-arch", default="sm_80,sm_90")
    ap.add_argument("--targets", default="tvm-cuda,tvm-llvm",
                    help="targets to check and time (default tvm-cuda,tvm-llvm; tvm-llvm alone needs no GPU)")
    ap.add_argument("--seconds", type=float, default=1.0, help="timing per runner and batch (default 1)")
    ap.add_argument("--results", type=Path, default=OUT / "results.md", help="where the tables go "
                    f"(default {(OUT / 'results.md').relative_to(ROOT)})")
    ap.add_argument("--together", nargs="+", metavar="FOLDER:TARGET", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.together:  # the child of check_together: all the libraries in this one process
        pairs = [spec.rsplit(":", 1) for spec in args.together]
        print(json.dumps([check_runner(Path(folder), target, "library") for folder, target in pairs]))
        return 0
    from modelport.parity.gpu import cuda_available
    targets = [t for t in args.targets.split(",") if t]
    originals = {}
    if args.artifacts:
        dirs = sorted(p for p in args.artifacts.iterdir() if (p / "manifest.json").exists())
    else:
        dirs, originals = build(args.cuda_arch)
    lacking = [d for d in dirs if not (d / "parity" / "inputs.csv").exists()]
    if lacking:
        print("gpu-check: no stored parity rows (parity/inputs.csv, written when modelport.compile ran the "
              f"original model) in: {', '.join(str(d) for d in lacking)}", file=sys.stderr)
        return 2
    ok, why = cuda_available()
    if args.build_only or (not ok and "tvm-cuda" in targets):
        print(f"gpu-check: {'built only' if args.build_only else 'not run: ' + why}. Artifacts: "
              f"{', '.join(str(d) for d in dirs)}; on a machine with an NVIDIA GPU run "
              f"`make gpu-check ARTIFACTS={OUT.relative_to(ROOT)}`.")
        return 0
    lines = ["| model | target | runner | parity | max abs error |", "|---|---|---|---|---|"]
    failed = False
    pairs = [(d, t) for d in dirs for t in targets]
    checks = [(d, t, runner, check_runner(d, t, runner)) for d, t in pairs for runner in RUNNERS]
    checks += [(d, t, "all libraries in one process", r) for (d, t), r in zip(pairs, check_together(pairs))]
    for d, target, runner, r in checks:
        name = json.loads((d / "manifest.json").read_text())["name"]
        failed |= r["passed"] is False
        verdict = {True: "pass", False: "FAIL", None: "not run"}[r["passed"]]
        lines.append(f"| {name} | {target} | {runner} | {verdict} | {r.get('max_abs_error', r.get('error', ''))} |")
    cols = [*targets, "onnxruntime-cpu", "pytorch-gpu"]
    lines += ["", f"Latency per call (median; {'GPU: ' + why if ok else 'no GPU'}; ONNX Runtime with its "
              "default threads):", "", "| model | batch | " + " | ".join(cols) + " |",
              "|---|---:|" + "---:|" * len(cols)]
    for d in dirs:
        for row in time_artifact(d, targets, (1, 64), args.seconds, originals):
            lines.append(f"| {row['model']} | {row['batch']} | " + " | ".join(_cell(row[c]) for c in cols) + " |")
    text = "\n".join(lines) + "\n"
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(text)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
