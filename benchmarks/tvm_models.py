"""The TVM part of `make bench` (called by benchmarks/run.py): a ResNet-style CNN (PyTorch),
Keras' MobileNetV2 and scikit-learn's forest compiled by modelport for tvm-llvm at a fixed
batch, untuned and tuned with MetaSchedule, timed side by side with the original framework
and ONNX Runtime, on one pinned core and one thread.

Builds go through the public API: `modelport.compile(model, targets=["tvm-llvm"], batch=B,
tune=SECONDS)` (tune=0 for the untuned build). Tuning records are cached by modelport
($MODELPORT_CACHE or ~/.cache/modelport) and reused by later runs; the report gives the
manifest's account of the tuning and what the records folder holds (how many trials were
built and measured). The TVM stubs carry their own copy of the TVM runtime, so they are
timed in child processes (benchmarks/driver.cpp, its `calls` command, with TVM_NUM_THREADS=1),
never in this process, which imported tvm to build them.

Interface for run.py: cases(), prepare() builds (with the process unpinned), bench() checks
the outputs and measures, sections(), method(), targets(), console(), json_results().
"""
from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TARGET_RATIO = 1.2      # tvm-llvm tuned latency, x ONNX Runtime's (the project's target)
DEFAULT_TUNE_S = 360.0  # MetaSchedule seconds per tuned build (one per model and batch)
MOBILENET_SIZE = 224    # MobileNetV2's standard input: 224 x 224 x 3
REP_S = 0.1             # a timed rep repeats calls until it lasts about this long
SLOW_S = 1.0            # runners slower than this per call do one rep per round
CNN_ROWS = 8            # parity rows of modelport.compile for the CNNs (the untuned TVM code is slow)


@dataclass
class TCase:
    key: str
    title: str
    framework: str      # what the reference runner is called in the tables
    batches: tuple
    pool: int           # distinct batches of inputs the calls cycle through
    tol: float          # max abs difference allowed against the framework (relative: x its largest |output|)
    name: str           # the artifact's name (lib<name>.so, <name>_predict)
    diag_prepared: bool = False  # also time ONNX Runtime on the graph prepared for TVM
    relative: bool = False       # tol is relative to the largest |output| of the framework
    model: object = None
    predict: object = None       # framework call: one batch (its own input type) -> np.ndarray [B, k]
    to_native: object = None     # np.ndarray batch -> the framework's input type
    make_inputs: object = None   # (n rows) -> float32 np.ndarray in the model's input layout
    compile_kw: dict = field(default_factory=dict)
    call_label: str = ""
    shape: str = ""
    builds: dict = field(default_factory=dict)  # (batch, tuned) -> TBuild
    skipped: str | None = None


@dataclass
class TBuild:
    directory: Path
    name: str = ""
    manifest: dict | None = None
    seconds: float = 0.0         # modelport.compile, in all
    error: str | None = None
    records: dict | None = None  # what the tuning records folder holds (tuned builds)


def cases() -> list:
    return [
        TCase("tvm_resnet", "ResNet-style CNN (PyTorch), 3x32x32", "PyTorch", (1, 8), 4, 1e-4, "resnet",
              relative=True),
        TCase("tvm_mobilenet_v2", "MobileNetV2 (Keras, weights=None)", "Keras", (1, 8), 2, 1e-4, "mobilenet_v2",
              relative=True),
        TCase("tvm_forest", "RandomForestRegressor (scikit-learn): 100 trees, max_depth 8, 20 features, "
              "lowered to tensor ops for TVM", "scikit-learn", (1, 1000), 0, 1e-4, "forest", diag_prepared=True),
    ]


# --------------------------------------------------------------------------- models


def _resnet(case: TCase, h):
    """conv-bn-relu stem, three residual blocks (the last two downsample, with a 1x1 conv-bn
    shortcut), global average pool, a dense layer: [N, 3, 32, 32] -> [N, 10]."""
    import torch
    from torch import nn
    try:
        torch.set_num_threads(1)
        torch.set_num_interop_threads(1)
    except RuntimeError:  # the inter-op pool already started: one thread is set above anyway
        pass

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout)
            self.c2, self.b2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)
            self.short = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                          if stride != 1 or cin != cout else None)

        def forward(self, x):
            y = self.b2(self.c2(torch.relu(self.b1(self.c1(x)))))
            return torch.relu(y + (x if self.short is None else self.short(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
            self.blocks = nn.Sequential(Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2))
            self.fc = nn.Linear(64, 10)

        def forward(self, x):
            x = self.blocks(self.stem(x))
            return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))

    torch.manual_seed(0)
    model = ResNet()
    # Trained-looking BatchNorm statistics and affine parameters (fresh ones are the identity).
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(m.num_features, generator=g) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    model.eval()

    def predict(x):
        with torch.no_grad():
            return model(x).numpy()

    case.model, case.predict = model, predict
    case.to_native = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    case.make_inputs = lambda n, seed=5: np.random.default_rng(seed).standard_normal((n, 3, 32, 32)).astype(np.float32)
    case.compile_kw = {"example_inputs": (torch.from_numpy(case.make_inputs(2)),), "rows": CNN_ROWS}
    case.call_label = "PyTorch `model(x)` (eval, `no_grad`)"
    params = sum(p.numel() for p in model.parameters())
    case.shape = (f"conv 3x3 (16) + BatchNorm + ReLU stem, residual blocks of 16, 32 (stride 2) and 64 (stride 2) "
                  f"channels (two conv 3x3 + BatchNorm each, 1x1 conv + BatchNorm shortcuts where the shape "
                  f"changes), global average pool, dense 64 -> 10; {params:,} parameters, random weights (seeded) "
                  "and random BatchNorm statistics, eval mode; input [N, 3, 32, 32], standard normal")


def _mobilenet(case: TCase, h, size: int):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf
    try:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # TensorFlow was initialized before: the process is pinned to one core anyway
        pass
    import keras
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3))
    # Fresh BatchNormalization statistics (mean 0, variance 1) let the random network's
    # activations fade to nothing: every output is then exactly 1/1000, which checks nothing.
    # One training-mode pass with momentum 0 sets each layer's statistics to those of its
    # inputs, as training would.
    bns = [layer for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    momenta = [layer.momentum for layer in bns]
    for layer in bns:
        layer.momentum = 0.0
    model(np.random.default_rng(11).uniform(-1, 1, (16, size, size, 3)).astype(np.float32), training=True)
    for layer, m in zip(bns, momenta):
        layer.momentum = m

    def predict(x):
        return np.asarray(model.predict_on_batch(x))

    case.model, case.predict = model, predict
    case.to_native = lambda a: np.ascontiguousarray(a)
    case.make_inputs = lambda n, seed=5: np.random.default_rng(seed).uniform(-1, 1, (n, size, size, 3)).astype(np.float32)
    case.call_label = "Keras `predict_on_batch`"
    case.compile_kw = {"rows": CNN_ROWS}
    if size != MOBILENET_SIZE:
        case.title = f"MobileNetV2 (Keras, weights=None), {size}x{size}x3 (not the standard 224)"
    else:
        case.title = f"MobileNetV2 (Keras, weights=None), {size}x{size}x3"
    case.shape = (f"`keras.applications.MobileNetV2(weights=None, input_shape=({size}, {size}, 3))`: alpha 1.0, "
                  f"1000 classes with softmax, {model.count_params():,} parameters, random weights "
                  "(`keras.utils.set_random_seed(0)`) and BatchNormalization statistics set by one training-mode "
                  "pass over 16 other random images (with fresh statistics every output is 1/1000); input [N, "
                  f"{size}, {size}, 3], uniform in [-1, 1]")


def _forest(case: TCase, h):
    from sklearn.ensemble import RandomForestRegressor
    X, y = h.make_data(1, h.N_TRAIN, False)
    est = RandomForestRegressor(n_estimators=100, max_depth=8, random_state=0, n_jobs=1).fit(X, y)

    def predict(x):
        return est.predict(x).reshape(len(x), -1)

    case.model, case.predict = est, predict
    case.to_native = lambda a: np.ascontiguousarray(a)
    case.make_inputs = lambda n, seed=2: h.make_data(seed, n, False)[0]
    case.call_label = "scikit-learn `predict`"
    case.shape = (f"as the scikit-learn section above: trained on {h.N_TRAIN:,} rows; tvm-llvm compiles the graph "
                  "whose TreeEnsembleRegressor modelport lowered to standard tensor ops (`prepared.onnx`)")


def _pool_batches(case: TCase, batch: int) -> int:
    if case.pool:
        return case.pool
    return 1_000 if batch == 1 else 10  # the forest: 1,000 single rows, or 10 batches (10,000 rows)


# --------------------------------------------------------------------------- building


def _unavailable(case: TCase) -> str | None:
    import importlib.util
    need = {"tvm_resnet": ["torch"], "tvm_mobilenet_v2": ["tensorflow", "keras"], "tvm_forest": []}[case.key]
    for mod in ["tvm", "onnxruntime", *need]:
        if importlib.util.find_spec(mod) is None:
            return f"skipped: the Python package {mod} is not installed (`make setup` installs it)"
    return None


def _records(folder) -> dict | None:
    """What a tuning records folder holds: trials (MetaSchedule's tuning records), those built
    and measured (finite run times), and from modelport's ledger the tasks, those with a
    measured trial, and their share of the model's FLOPs."""
    if not folder:
        return None
    folder = Path(folder)
    rec, ledger = folder / "database_tuning_record.json", folder / "modelport-tuning.json"
    out = {"folder": str(folder), "trials": 0, "measured": 0, "tasks": 0, "tasks_measured": 0,
           "measured_tasks": [], "flop_share": None, "errors": {}}
    if rec.exists():
        for line in rec.read_text().splitlines():
            if not line.strip():
                continue
            _, (_, run_secs, *_) = json.loads(line)
            out["trials"] += 1
            out["measured"] += bool(run_secs and all(float(s) < 1e9 for s in run_secs))
    if ledger.exists():
        tasks = json.loads(ledger.read_text())["tasks"]
        timed = sorted((t for t in tasks if t["best_s"] is not None), key=lambda t: -t["flop_share"])
        out.update(tasks=len(tasks), tasks_measured=len(timed), measured_tasks=[t["name"] for t in timed],
                   flop_share=sum(t["flop_share"] for t in timed))
    # Why trials failed, from MetaSchedule's logs (the first line of each message, counted).
    logs = folder / "logs"
    if out["measured"] < out["trials"] and logs.is_dir():
        for log in logs.glob("*.log"):
            lines = log.read_text(errors="replace").splitlines()
            for i, line in enumerate(lines):
                if "Error in building" in line or "Error in running" in line:
                    msg = next((m.strip() for m in lines[i + 1:i + 4] if m.strip()), line.strip())
                    out["errors"][msg[:200]] = out["errors"].get(msg[:200], 0) + 1
    return out


def _compile(case: TCase, batch: int, tune: float, h, say) -> TBuild:
    import modelport
    out = h.WORK / "tvm" / f"{case.key}_b{batch}_{'tuned' if tune else 'untuned'}"
    shutil.rmtree(out, ignore_errors=True)
    b = TBuild(out)
    t0 = time.perf_counter()

    def progress(msg):
        if "tuning" in msg or "records" in msg or "kernels" in msg:
            say(f"    {msg}")
    try:
        b.manifest = modelport.compile(case.model, targets=["tvm-llvm"], out=out, name=case.name, batch=batch,
                                       tune=tune, progress=progress, **case.compile_kw)
        b.name = b.manifest["name"]
    except Exception as exc:  # noqa: BLE001 - reported in the table, and the run fails at the end
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        b.error = f"`modelport.compile` failed ({type(exc).__name__}: {first})"
        say(f"    {b.error}")
    b.seconds = time.perf_counter() - t0
    if b.manifest and tune:
        b.records = _records(b.manifest["targets"]["tvm-llvm"].get("records"))
    return b


def prepare(selected: list, args, h, say) -> list:
    """Make every selected model and build its TVM artifacts (untuned, then tuned, per batch)."""
    chosen = [c for c in cases() if c.key in selected]
    if not chosen:
        return []
    # MetaSchedule measures its candidates on one thread, as they are benchmarked (its runner
    # and builder processes inherit this); the stubs' children get it too.
    os.environ["TVM_NUM_THREADS"] = "1"
    for c in chosen:
        c.skipped = _unavailable(c)
        if c.skipped:
            say(f"  {c.key} {c.skipped}")
            continue
        say(f"making {c.key}")
        try:
            if c.key == "tvm_resnet":
                _resnet(c, h)
            elif c.key == "tvm_mobilenet_v2":
                _mobilenet(c, h, args.mobilenet_size)
            else:
                _forest(c, h)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            c.skipped = f"skipped: making the model failed ({type(exc).__name__}: {str(exc)[:300]})"
            continue
        for batch in c.batches:
            say(f"compiling {c.key} for tvm-llvm, batch {batch}, untuned")
            c.builds[(batch, False)] = _compile(c, batch, 0, h, say)
    for c in chosen:
        if c.skipped or args.tune <= 0:
            continue
        for batch in c.batches:
            say(f"compiling {c.key} for tvm-llvm, batch {batch}, tuned ({args.tune:g} s of MetaSchedule)")
            b = c.builds[(batch, True)] = _compile(c, batch, args.tune, h, say)
            r = b.records
            if r is not None:
                say(f"    {r['measured']} of {r['trials']} trials built and measured, on {r['tasks_measured']} of "
                    f"{r['tasks']} tasks; modelport.compile {b.seconds:.0f} s")
                if r["measured"] == 0:
                    say("    WARNING: no tuning trial was built and measured: the tuned build runs untuned code"
                        + (f" ({next(iter(r['errors']))})" if r["errors"] else ""))
    return chosen


# --------------------------------------------------------------------------- runners


@dataclass
class TRunner:
    """One way of running one batch: calls(k, reps) -> [(wall ns, CPU ns)] per rep of k calls."""
    label: str
    key: str
    diagnostic: bool = False
    calls: object = None
    error: str | None = None
    outputs: np.ndarray | None = None
    k: int = 1
    reps: int = 1
    call_ns: list = field(default_factory=list)   # all reps: CPU ns per call
    wall_ns: list = field(default_factory=list)   # all reps: wall-clock ns per call
    round_ns: list = field(default_factory=list)  # per round: median CPU ns per call


def inproc_runner(label: str, key: str, fn, batches: list, diagnostic=False) -> TRunner:
    state = {"i": 0}

    def calls(k, reps):
        out, n = [], len(batches)
        for _ in range(reps):
            i = state["i"]
            c0, t0 = time.process_time_ns(), time.perf_counter_ns()
            for j in range(k):
                fn(batches[(i + j) % n])
            t1, c1 = time.perf_counter_ns(), time.process_time_ns()
            state["i"] = (i + k) % n
            out.append((t1 - t0, c1 - c0))
        return out
    r = TRunner(label, key, diagnostic, calls=calls)
    r.outputs = np.vstack([np.asarray(fn(b), dtype=np.float64).reshape(_rows(b), -1) for b in batches])
    return r


def _rows(b) -> int:
    return int(b.shape[0]) if hasattr(b, "shape") else len(b)


def ort_session(path: Path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def ort_runner(label: str, key: str, path: Path, batches: list, diagnostic=False) -> TRunner:
    sess = ort_session(path)
    ins = sess.get_inputs()
    if len(ins) != 1:
        raise RuntimeError(f"{path.name} has {len(ins)} inputs; this benchmark feeds one")
    name = ins[0].name
    out_names = [o.name for o in sess.get_outputs()][:1]

    def fn(x):
        return sess.run(out_names, {name: x})[0]
    return inproc_runner(label, key, fn, batches, diagnostic)


def tvm_runner(label: str, key: str, build: TBuild, h, args, data_file: Path, n_rows: int, n_feat: int,
               batch: int, exe, procs: list) -> TRunner:
    if build is None:
        return TRunner(label, key, error="not built")
    if build.error:
        return TRunner(label, key, error=build.error)
    lib = build.directory / "tvm-llvm" / f"lib{build.name}.so"
    env = dict(os.environ, TVM_NUM_THREADS="1")
    try:
        drv = h.DriverProcess(["taskset", "-c", str(args.cpu), str(exe), str(lib), build.name, str(data_file),
                               str(n_rows), str(n_feat), "-"], f"TVM ({key})", env=env)
    except Exception as exc:  # noqa: BLE001
        return TRunner(label, key, error=str(exc)[:300])
    procs.append(drv)

    def calls(k, reps):
        return [tuple(int(v) for v in rep.split(",")) for rep in drv.ask(f"calls abi {batch} {k} {reps}").split()]
    r = TRunner(label, key, calls=calls)
    out_file = build.directory / "tvm_out.f64"
    drv.ask(f"check {out_file} 0")
    # The float C ABI's outputs come first (then those of the double one, when the stub has it).
    r.outputs = np.fromfile(out_file, dtype=np.float64)[:n_rows * drv.n_out].reshape(n_rows, drv.n_out)
    return r


# --------------------------------------------------------------------------- measuring


def measure(runners: list, rounds: int, reps: int, progress):
    """Interleaved rounds of timed reps (k calls of one batch each, CPU time); the order of
    the runners rotates from round to round."""
    live = [r for r in runners if r.error is None]
    for r in live:
        # Calibration (and more warm-up): the best of two single calls (one for slow runners).
        t = max(1, r.calls(1, 1)[0][1])
        if t < SLOW_S * 1e9:
            t = max(1, min(t, r.calls(1, 1)[0][1]))
        r.k = max(1, math.ceil(REP_S * 1e9 / t))
        r.reps = reps if t < SLOW_S * 1e9 else 1
    for k in range(rounds):
        order = live[k % len(live):] + live[:k % len(live)]
        for r in order:
            res = r.calls(r.k, r.reps)
            per = [c / r.k for _, c in res]
            r.call_ns += per
            r.wall_ns += [w / r.k for w, _ in res]
            r.round_ns.append(statistics.median(per))
        progress(f"      round {k + 1}/{rounds} done")


def ratio_stats(runner_rounds: list, base_rounds: list) -> tuple:
    """Per-round runner_time / base_time (a latency ratio: lower is faster): (median, min, max)."""
    ratios = [r / b for r, b in zip(runner_rounds, base_rounds)]
    return statistics.median(ratios), min(ratios), max(ratios)


def bench_config(case: TCase, batch: int, args, h, exe, say) -> dict:
    n_batches = _pool_batches(case, batch)
    n_rows = n_batches * batch
    X = case.make_inputs(n_rows)
    flat = X.reshape(n_rows, -1)
    batches = [X[i * batch:(i + 1) * batch] for i in range(n_batches)]
    res = {"batch": batch, "pool": n_batches, "runners": [], "agreement": {}, "ok": True}
    say(f"  batch {batch}: checking outputs")
    fw = inproc_runner(case.call_label, "framework", case.predict, [case.to_native(b) for b in batches])
    ref = fw.outputs
    res["ref_scale"] = float(np.max(np.abs(ref)))
    runners = [fw]
    untuned, tuned = case.builds.get((batch, False)), case.builds.get((batch, True))
    onnx_dir = next((b.directory for b in (untuned, tuned) if b and not b.error), None)
    if onnx_dir is None:
        runners.append(TRunner("ONNX Runtime (Python API) on `model.onnx`", "ort", error="no artifact was built"))
    else:
        runners.append(ort_runner("ONNX Runtime (Python API) on `model.onnx`", "ort", onnx_dir / "model.onnx",
                                  batches))
        if case.diag_prepared:
            runners.append(ort_runner("ONNX Runtime on `tvm-llvm/prepared.onnx`, the graph TVM compiles "
                                      "(diagnostic)", "ort_prepared", onnx_dir / "tvm-llvm" / "prepared.onnx",
                                      batches, diagnostic=True))
    data_file = h.WORK / "tvm" / f"{case.key}_b{batch}_rows.f64"
    data_file.parent.mkdir(parents=True, exist_ok=True)
    flat.astype(np.float32).astype(np.float64).tofile(data_file)  # float32 values: the drivers read float64
    procs = []
    try:
        runners.append(tvm_runner("tvm-llvm untuned, C ABI `<name>_predict`", "tvm_untuned", untuned, h, args,
                                  data_file, n_rows, flat.shape[1], batch, exe, procs))
        if args.tune > 0:
            runners.append(tvm_runner("tvm-llvm tuned (MetaSchedule), C ABI `<name>_predict`", "tvm_tuned", tuned,
                                      h, args, data_file, n_rows, flat.shape[1], batch, exe, procs))
        for r in runners:
            if r.error:
                res["ok"] = False
                continue
            if r.outputs.shape != ref.shape:
                diff = float("inf")
            else:
                diff = float(np.max(np.abs(r.outputs - ref))) if np.all(np.isfinite(r.outputs)) else float("inf")
            tol = case.tol * (res["ref_scale"] if case.relative else 1.0)
            ok = diff <= tol
            res["agreement"][r.key] = (f"{diff:.1e}" if np.isfinite(diff) else "shape or NaN mismatch") + (
                "" if ok else f" **WRONG** (more than {tol:.1e})")
            res["ok"] &= ok
            say(f"    {r.label}: max abs diff {res['agreement'][r.key]}")
        say(f"  batch {batch}: measuring ({args.rounds} rounds)")
        measure([r for r in runners if not r.error], args.rounds, args.batch_reps, say)
    finally:
        for p in procs:
            p.close()
    res["runners"] = runners
    return res


def bench(chosen: list, args, h, drivers, say) -> list:
    exe = drivers[0]
    results = []
    for case in chosen:
        if case.skipped:
            results.append({"case": case, "skipped": case.skipped, "configs": []})
            continue
        say(f"benchmarking {case.key}")
        res = {"case": case, "configs": [], "ok": True}
        for batch in case.batches:
            try:
                cfg = bench_config(case, batch, args, h, exe, say)
            except Exception as exc:  # noqa: BLE001
                traceback.print_exc()
                cfg = {"batch": batch, "failed": f"benchmark failed: {type(exc).__name__}: {exc}"[:400], "ok": False}
            res["configs"].append(cfg)
            res["ok"] &= cfg["ok"]
        results.append(res)
    return results


# --------------------------------------------------------------------------- reporting


def fmt_ns(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.3g} ms" if ns < 1e8 else f"{ns / 1e6:,.0f} ms"
    return f"{ns / 1e3:.3g} µs" if ns < 1e5 else f"{ns / 1e3:,.0f} µs"


def _num(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"


def fmt_ratio(stats: tuple) -> str:
    med, lo, hi = stats
    return f"**{_num(med)}x** ({_num(lo)}–{_num(hi)})"


def _by_key(cfg: dict) -> dict:
    return {r.key: r for r in cfg.get("runners", [])}


def table(res: dict) -> list:
    case = res["case"]
    lines = [f"| Batch | Runner | latency per call | per row | latency ÷ ONNX Runtime's | latency ÷ {case.framework}'s "
             f"| max abs diff vs {case.framework} |",
             "|---:|---|---:|---:|---:|---:|---|"]
    for cfg in res["configs"]:
        if cfg.get("failed"):
            lines.append(f"| {cfg['batch']:,} | {cfg['failed']} | | | | | |")
            continue
        keys = _by_key(cfg)
        ort, fw = keys.get("ort"), keys["framework"]
        for r in cfg["runners"]:
            if r.error:
                lines.append(f"| {cfg['batch']:,} | {r.label} | failed | | | | {r.error} |")
                continue
            lat = statistics.median(r.call_ns)
            vs_ort = fmt_ratio(ratio_stats(r.round_ns, ort.round_ns)) if ort and not ort.error else "-"
            lines.append(f"| {cfg['batch']:,} | {r.label} | {fmt_ns(lat)} | {fmt_ns(lat / cfg['batch'])} | {vs_ort} "
                         f"| {fmt_ratio(ratio_stats(r.round_ns, fw.round_ns))} | {cfg['agreement'].get(r.key, '')} |")
    return lines


def builds_table(results: list) -> list:
    out = ["| Model | batch | untuned: TVM build / `modelport.compile` | tuned: MetaSchedule per the manifest "
           "| trials built and measured (records folder) | tasks with a measured trial (their share of the "
           "FLOPs) | tuned: TVM build / "
           "`modelport.compile` | module .so |",
           "|---|---:|---:|---|---:|---:|---:|---:|"]
    for res in results:
        case = res["case"]
        for batch in case.batches:
            u, t = case.builds.get((batch, False)), case.builds.get((batch, True))
            if u is None and t is None:
                continue

            def times(b):
                if b is None:
                    return "-"
                if b.error:
                    return b.error
                info = b.manifest["targets"]["tvm-llvm"]
                return f"{info.get('tvm_seconds', 0):.1f} s / {b.seconds:.0f} s"
            tune_txt, measured, tasks, so = "-", "-", "-", "-"
            if t is not None and t.manifest:
                info = t.manifest["targets"]["tvm-llvm"]
                tune_txt = (f"{info.get('trials', 0)} trials, {info.get('tuning_seconds', 0):.0f} s"
                            if info.get("tuned") else "not tuned")
                r = t.records or {}
                if r:
                    measured = f"{r['measured']} of {r['trials']}" + (" **(none)**" if not r["measured"] else "")
                    tasks = f"{r['tasks_measured']} of {r['tasks']}" + (
                        f" ({_pct(r['flop_share'])})" if r.get("flop_share") is not None else "")
            b = t if t is not None and t.manifest else u
            if b is not None and b.manifest:
                p = b.directory / "tvm-llvm" / f"{b.name}_module.so"
                so = f"{p.stat().st_size / 1e6:.2f} MB" if p.exists() else "-"
            out.append(f"| {case.key} | {batch:,} | {times(u)} | {tune_txt} | {measured} | {tasks} | {times(t)} | {so} |")
    return out


def _pct(x: float) -> str:
    return f"{x * 100:.2g}%" if x < 0.1 else f"{x * 100:.0f}%"


def sections(results: list, h, args) -> list:
    if not results:
        return []
    out = ["## TVM (tvm-llvm): untuned and tuned, against the framework and ONNX Runtime", "",
           f"Every model at a fixed batch (the TVM libraries are built for it: `batch=B`); latencies are per call of "
           f"one batch, on one core and one thread. \"latency ÷ ...\" is the runner's latency divided by the other's, "
           f"per round (lower is faster; the project's target for tvm-llvm after tuning is at most "
           f"{TARGET_RATIO:g}x ONNX Runtime's). Tuning budget: `--tune {args.tune:g}` seconds of MetaSchedule per "
           "tuned build.", ""]
    for res in results:
        case = res["case"]
        out += [f"### {case.title}", ""]
        if res.get("skipped"):
            out += [res["skipped"], ""]
            continue
        out += table(res) + [""]
        notes = [f"Model: {case.shape}."]
        for cfg in res["configs"]:
            if cfg.get("pool"):
                notes.append(f"Batch {cfg['batch']:,}: calls cycle through {cfg['pool']:,} distinct batches; the "
                             f"reference outputs' largest magnitude is {cfg['ref_scale']:.3g}.")
        out += [" ".join(notes), ""]
    out += ["### TVM builds and tuning", ""] + builds_table(results) + [""]
    tgt = next((b.manifest["targets"]["tvm-llvm"].get("target") for res in results
                for b in res["case"].builds.values() if b.manifest), None)
    failed = [(res["case"].key, batch, b.records) for res in results for (batch, tuned), b in res["case"].builds.items()
              if tuned and b.records is not None and b.records["measured"] == 0]
    text = ("\"TVM build\" is the manifest's `tvm_seconds` (import into Relax, tuning, build and export); "
            "`modelport.compile` adds the frontend's conversion, the stubs and the parity check. MetaSchedule's "
            "records are cached by modelport and reused: a build whose budget was already spent on the same "
            "model, target and batch reuses them, and the manifest then reports the earlier tuning. "
            + (f"Target: `{tgt}`." if tgt else ""))
    out += [text, ""]
    partial = [(res["case"].key, batch, b.records) for res in results for (batch, tuned), b in res["case"].builds.items()
               if tuned and b.records and b.records["measured"] and (b.records.get("flop_share") or 0) < 0.5]
    if partial:
        out += ["Tuning reached only part of some models: " + "; ".join(
            f"{k} batch {b:,}: trials measured on {', '.join(f'`{n}`' for n in r['measured_tasks'][:4])}"
            f"{' and others' if len(r['measured_tasks']) > 4 else ''} ({_pct(r['flop_share'])} of the FLOPs)"
            for k, b, r in partial) + "; the other tasks run TVM's default code.", ""]
    rejected = [(res["case"].key, batch, b.manifest["targets"]["tvm-llvm"].get("kernels_rejected"))
                for res in results for (batch, tuned), b in res["case"].builds.items() if tuned and b.manifest]
    rejected = [(k, b, names) for k, b, names in rejected if names]
    if rejected:
        out += ["Tuned kernels checked against TVM's default ones (modelport does this for every tuned build; "
                "MetaSchedule times candidates but does not check them) that disagreed, so that a slower record "
                "or the default schedule was used instead: " + "; ".join(
                    f"{k} batch {b:,}: " + ", ".join(_kernel(n) for n in names) for k, b, names in rejected) + ".", ""]
    if failed:
        errs = {}
        for _, _, r in failed:
            for m, n in r["errors"].items():
                errs[m] = errs.get(m, 0) + n
        top = ", ".join(f"\"{m}\" ({n})" for m, n in sorted(errs.items(), key=lambda kv: -kv[1])[:3])
        out += ["**No tuning trial was built and measured** for " + ", ".join(f"{k} batch {b:,}" for k, b, _ in failed)
                + ": the manifest says tuned, but MetaSchedule's records hold only failed trials, so those \"tuned\" "
                "libraries run TVM's default (untuned) code. Errors in MetaSchedule's logs: " + (top or "none logged")
                + f". Records and logs: `{failed[0][2]['folder']}` (and the other builds' folders).", ""]
    return out + gpu_section(h.ROOT)


def _kernel(entry: str) -> str:
    """`name` (what was used instead) from a manifest's kernels_rejected entry."""
    name, _, rest = entry.partition(" (")
    return f"`{name}`" + (f" ({rest}" if rest else " (the default schedule)")


def gpu_section(root: Path) -> list:
    """What `make gpu-check` found (build/gpu-check/results.md), or why there is nothing: this
    benchmark times the CPU only."""
    from modelport.parity.gpu import cuda_available
    results = root / "build" / "gpu-check" / "results.md"
    out = ["### GPU (tvm-cuda)", ""]
    if results.exists():
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(results.stat().st_mtime))
        return out + [f"From `make gpu-check` (`{results.relative_to(root)}`, written {when}):", "",
                      *results.read_text().strip().splitlines(), ""]
    ok, why = cuda_available()
    state = f"this machine has {why}" if ok else why
    return out + ["Not measured. `make bench` times the CPU; the GPU check is `make gpu-check` (parity of "
                  "tvm-cuda artifacts from their own folders, and their latency against ONNX Runtime on the "
                  "CPU and PyTorch on the GPU), which writes `build/gpu-check/results.md`, shown here when "
                  f"present. It has not run where this file was written: {state}.", ""]


def method(results: list, h, args) -> list:
    if not results:
        return []
    return [
        "- TVM models, builds: `modelport.compile(model, targets=[\"tvm-llvm\"], batch=B, tune=S)` for each model "
        f"and batch: untuned (S = 0: TVM's default lowering) and tuned (S = `--tune`, {args.tune:g} s here, of "
        "MetaSchedule, one task at a time, the heaviest first, in rounds of 16 candidates that are not cut "
        "short); compiled after the other sections' measurements, with the process unpinned (every core), and "
        "with TVM_NUM_THREADS=1 so that MetaSchedule measures its candidates on one thread, as they are timed "
        "here.",
        "- TVM models, runners: the framework in this process (PyTorch: `torch.set_num_threads(1)`, eval mode, "
        "`torch.no_grad()`; Keras: `predict_on_batch`, TensorFlow with one intra-op and one inter-op thread; "
        "scikit-learn: `predict`, `n_jobs=1`); ONNX Runtime's Python API on the artifact's `model.onnx` (the "
        "frontend's graph after modelport's passes; the forest also on `tvm-llvm/prepared.onnx`, the graph with "
        "the tree ensemble lowered to tensor ops, which TVM compiles: a diagnostic row); the tvm-llvm stub "
        "`lib<name>.so` called through its C ABI `<name>_predict(x, B, y)` in a child process "
        "(`benchmarks/driver.cpp`, its `calls` command; dlopen, `taskset -c` to the same core, "
        "TVM_NUM_THREADS=1), since the stub carries its own TVM runtime and must not share a process with the "
        "`tvm` package that built it.",
        "- TVM models, timing: each call takes the next batch of a pool of distinct batches (inputs of the "
        "model's own layout: NCHW for PyTorch, NHWC for Keras). A rep repeats calls until it lasts about "
        f"{REP_S:g} s (the number of calls fixed per runner by a calibration call) and is timed by the CPU time "
        f"of the process; each round, every runner does {args.batch_reps} reps (runners slower than {SLOW_S:g} s "
        f"a call: one), in an order that rotates; {args.rounds} rounds. Latency: the median over all reps of CPU "
        "time per call; ratios: the median over rounds of the ratio in the same round (lowest and highest round "
        "in brackets).",
        "- TVM models, agreement: before timing, every runner predicts every batch of the pool; the largest "
        "absolute difference from the framework's outputs must be at most 1e-4 times the largest output "
        "magnitude for the CNNs (the ResNet's logits, MobileNetV2's softmax probabilities), 1e-4 for the "
        "forest's predictions, or the row says WRONG and `make bench` fails.",
    ]


def targets(results: list) -> list:
    out = []
    for res in results:
        case = res["case"]
        for cfg in res.get("configs", []):
            what = (f"{case.key} batch {cfg['batch']:,}: tvm-llvm tuned latency within {TARGET_RATIO:g}x "
                    "ONNX Runtime's")
            keys = _by_key(cfg)
            t, u, ort = keys.get("tvm_tuned"), keys.get("tvm_untuned"), keys.get("ort")
            if not t or t.error or not ort or ort.error:
                out.append((what, "not measured" + (f": {t.error[:120]}" if t and t.error else ""), "**no**"))
                continue
            med = ratio_stats(t.round_ns, ort.round_ns)[0]
            note = ""
            if u and not u.error:
                note = f" (untuned {_num(ratio_stats(u.round_ns, ort.round_ns)[0])}x)"
            r = case.builds[(cfg["batch"], True)].records
            if r is not None and r["measured"] == 0:
                note += "; no tuning trial was built and measured"
            out.append((what, f"{_num(med)}x ORT's{note}", "yes" if med <= TARGET_RATIO else "**no**"))
    return out


def console_builds(results: list, row) -> list:
    """The builds table as console lines (`row` formats one markdown row)."""
    if not results:
        return []
    return ["\nTVM builds"] + [row(line) for line in builds_table(results)[2:]]


def versions(results: list) -> dict:
    out = {}
    keys = {r["case"].key for r in results if not r.get("skipped")}
    if not keys:
        return out
    import tvm
    out["Apache TVM"] = tvm.__version__
    if "tvm_resnet" in keys:
        import torch
        out["PyTorch"] = torch.__version__
    if "tvm_mobilenet_v2" in keys:
        import keras
        import tensorflow as tf
        out["TensorFlow"] = tf.__version__
        out["Keras"] = keras.__version__
    return out


def json_results(results: list) -> list:
    """For results.json (manifest parts hold nothing that JSON cannot, but be safe)."""
    return json.loads(json.dumps(_json_results(results), default=str))


def _json_results(results: list) -> list:
    out = []
    for res in results:
        case = res["case"]
        out.append({
            "model": case.key, "skipped": res.get("skipped"),
            "builds": [{"batch": b, "tuned": t, "error": x.error, "seconds": x.seconds, "records": x.records,
                        "tvm": (x.manifest or {}).get("targets", {}).get("tvm-llvm")}
                       for (b, t), x in case.builds.items()],
            "configs": [{"batch": cfg["batch"], "failed": cfg.get("failed"),
                         "runners": [{"key": r.key, "label": r.label, "error": r.error, "calls_per_rep": r.k,
                                      "cpu_ns_per_call": r.call_ns, "wall_ns_per_call": r.wall_ns,
                                      "round_cpu_ns": r.round_ns, "agreement": cfg.get("agreement", {}).get(r.key)}
                                     for r in cfg.get("runners", [])]} for cfg in res.get("configs", [])],
        })
    return out
