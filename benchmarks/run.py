#!/usr/bin/env python3
"""`make bench`: how fast modelport's generated C++ and Java run, side by side with
scikit-learn and ONNX Runtime, on one core; writes docs/performance.md.

XGBoost and LightGBM models (benchmarks/boosting_models.py) are timed the same way, against
the library's own predict, ONNX Runtime on onnxmltools' conversion, treelite + tl2cgen and
lleaves.

Every runner is measured in the same run, in interleaved rounds (the order rotates each
round), on one pinned core with one thread: scikit-learn and ONNX Runtime in this process,
the C++ library and the Java jar in-process in small drivers (benchmarks/driver.cpp,
benchmarks/Driver.java) that this script builds and commands over a pipe. Ratios against
ONNX Runtime are medians of per-round ratios, so that the machine's load changes between
rounds cancel out. The outputs of every runner are checked against scikit-learn first.

The R part (benchmarks/r_models.py: models fitted in R, timed against R's own predict()) runs
after the scikit-learn models; `--only r` runs only it, `--skip-r` leaves it out. The TVM part
(benchmarks/tvm_models.py: PyTorch and Keras CNNs and a forest compiled for tvm-llvm, untuned
and tuned with MetaSchedule for `--tune` seconds per build, timed against the framework and
ONNX Runtime) runs last; `--only tvm` runs only it, `--skip-tvm` leaves it out.
"""
from __future__ import annotations

import os

# One thread everywhere, set before numpy, scikit-learn or ONNX Runtime load their pools.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

import boosting_models  # noqa: E402  (benchmarks/, this script's directory)
import r_models  # noqa: E402
import serve_bench  # noqa: E402
import tvm_models  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
WORK = BENCH / ".work"
DOC = ROOT / "docs" / "performance.md"

N_FEATURES = 20
N_TRAIN = 5_000
N_ROWS = 10_000          # the batch, and the pool single rows are taken from in turn
SINGLE_GROUP = 10        # single-row calls timed together; the per-call time is group / 10
CHECK_SINGLE = 1_000     # rows also checked one call at a time
VALUE_TOL = 1e-4         # max abs difference allowed against scikit-learn (float32 models)
DOUBLE_RTOL = 1e-9       # max relative difference (and absolute under 1) for double models
MISSING = 0.05           # the share of missing values in HistGradientBoosting's rows
TARGET_BATCH_RATIO = 1.5  # generated C++ forest batch throughput, x ONNX Runtime
TARGET_SINGLE_US = 2.0    # generated C++ single-row latency, in-process


# --------------------------------------------------------------------------- models


@dataclass
class Case:
    key: str
    title: str
    forest: bool
    classifier: bool
    make: object  # () -> unfitted estimator
    double: bool = False      # fitted on float64 rows: scikit-learn computes it in double
    missing: float = 0.0      # the share of values that are NaN
    est: object = None        # fitted
    built: object = None      # Built, once compiled
    built32: object = None    # double models: the same model compiled with --precision float32
    skipped: str | None = None
    n_features: int = N_FEATURES
    library: str = "scikit-learn"  # whose predict is the reference
    # (case, fitted estimator, rows, say, harness) -> [Runner]: other tools the generated code is
    # compared with (benchmarks/boosting_models.py)
    extras: object = None


def _cases():
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier, RandomForestRegressor
    from sklearn.linear_model import LogisticRegression
    return boosting_models.cases(Case) + [
        Case("forest_regressor", "RandomForestRegressor: 100 trees, max_depth 8, 20 features", True, False,
             lambda: RandomForestRegressor(n_estimators=100, max_depth=8, random_state=0, n_jobs=1)),
        Case("forest_classifier", "RandomForestClassifier: 100 trees, max_depth 8, 20 features, 2 classes",
             True, True,
             lambda: RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0, n_jobs=1)),
        Case("logistic_regression", "LogisticRegression: 20 features, 2 classes, in double", False, True,
             lambda: LogisticRegression(max_iter=1000, random_state=0), double=True),
        Case("hist_gradient_boosting", "HistGradientBoostingRegressor: 100 trees of 31 leaves, 20 features "
             f"({MISSING:.0%} missing), in double", True, False,
             lambda: HistGradientBoostingRegressor(max_iter=100, random_state=0), double=True, missing=MISSING),
    ]


def make_data(seed: int, n: int, classifier: bool, double: bool = False, missing: float = 0.0,
              n_features: int = N_FEATURES):
    """Standard normal features (float32 values, or float64 ones for models that compute in
    double, with a share `missing` of NaNs); a non-linear target (a noisy threshold of it for
    classifiers)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, n_features))
    if not double:
        X = X.astype(np.float32)
    x = X.astype(np.float64)
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    score = x[:, 0] + 2 * np.sin(x[:, 1]) + x[:, 2] * x[:, 3] + 0.5 * x[:, 4] ** 2 - 0.5 + 0.3 * x[:, 5:10].sum(1)
    score += 0.3 * rng.standard_normal(n)
    return X, ((score > 0).astype(np.int64) if classifier else score)


# --------------------------------------------------------------------------- runners


@dataclass
class Runner:
    """One way of running the model: batch(reps) -> [(wall ns, CPU ns)] per rep,
    single(budget_s, max_groups) -> [wall ns] per group of SINGLE_GROUP calls."""
    label: str
    key: str
    diagnostic: bool = False
    batch: object = None
    single: object = None
    outputs: np.ndarray | None = None  # [N_ROWS + CHECK_SINGLE, n_out]: batch rows, then single calls
    error: str | None = None
    batch_ns: list = field(default_factory=list)       # all reps, CPU time
    batch_wall_ns: list = field(default_factory=list)  # all reps, wall-clock time
    single_ns: list = field(default_factory=list)      # all groups, per call
    round_batch: list = field(default_factory=list)    # per round: median CPU ns per batch
    round_single: list = field(default_factory=list)   # per round: median ns per call


def timed_batch(fn, X):
    """batch(reps) -> [(wall ns, CPU ns)]: fn(X) timed `reps` times in this process."""
    def batch(reps):
        out = []
        for _ in range(reps):
            c0, t0 = time.process_time_ns(), time.perf_counter_ns()
            fn(X)
            t1, c1 = time.perf_counter_ns(), time.process_time_ns()
            out.append((t1 - t0, c1 - c0))
        return out
    return batch


def timed_single(fn, rows: list):
    """single(budget_s, max_groups) -> [wall ns per group of SINGLE_GROUP calls of fn(row)]."""
    state = {"row": 0}

    def single(budget_s, max_groups):
        out, end = [], time.perf_counter() + budget_s
        n = len(rows)
        while len(out) < max_groups and (len(out) < 3 or time.perf_counter() < end):
            r = state["row"]
            t0 = time.perf_counter_ns()
            for g in range(SINGLE_GROUP):
                fn(rows[(r + g) % n])
            out.append(time.perf_counter_ns() - t0)
            state["row"] = (r + SINGLE_GROUP) % n
        return out
    return single


def python_runner(label: str, key: str, call, X: np.ndarray, outputs=None) -> Runner:
    """A runner in this process: `call(rows)` is timed, `outputs(rows)` -> [n, n_out] float64 is
    checked (the batch, then CHECK_SINGLE rows one call at a time); by default what `call`
    returns, as [n, n_out] float64."""
    if outputs is None:
        def outputs(a):
            return np.asarray(call(a), np.float64).reshape(len(a), -1)
    rows = [X[i:i + 1] for i in range(len(X))]
    r = Runner(label, key, batch=timed_batch(call, X), single=timed_single(call, rows))
    r.outputs = np.vstack([outputs(X)] + [outputs(rows[i]) for i in range(CHECK_SINGLE)])
    return r


def python_runners(case: Case, est, sess, X: np.ndarray):
    """The original model (scikit-learn, XGBoost or LightGBM predict) and ONNX Runtime on the
    compiled model.onnx, in this process."""
    in_name = sess.get_inputs()[0].name
    out_names = [o.name for o in sess.get_outputs()]

    if case.classifier:
        def sk_out(a):
            return np.column_stack([est.predict(a).astype(np.float64), est.predict_proba(a)])
        sk_call, sk_label = est.predict_proba, f"{case.library} `predict_proba`"
    else:
        def sk_out(a):
            return est.predict(a).reshape(len(a), -1).astype(np.float64)
        sk_call, sk_label = est.predict, f"{case.library} `predict`"

    def ort_out(a):
        res = sess.run(out_names, {in_name: a})
        return np.column_stack([np.asarray(r, dtype=np.float64).reshape(len(a), -1) for r in res])

    def ort_call(a):
        return sess.run(out_names, {in_name: a})

    # The original is the reference: its single-row outputs are taken from its batch (calling it
    # row by row would take seconds per model).
    sk_batch = sk_out(X)
    rows = [X[i:i + 1] for i in range(len(X))]
    sk = Runner(sk_label, "sklearn", batch=timed_batch(sk_call, X), single=timed_single(sk_call, rows))
    sk.outputs = np.vstack([sk_batch, sk_batch[:CHECK_SINGLE]])
    ort = python_runner("ONNX Runtime (Python API)", "ort", ort_call, X, ort_out)
    return sk, ort


class DriverProcess:
    """A C++ or Java driver process, commanded one line at a time (see driver.cpp)."""

    def __init__(self, cmd: list, what: str, env: dict | None = None):
        self.what = what
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1, env=env)
        ready = self._read()
        parts = ready.split()
        if not parts or parts[0] != "ready":
            raise RuntimeError(f"{what} driver did not start: {ready!r}")
        self.n_out, self.has_run = int(parts[1]), parts[2] == "run"
        # the paths it has, in the order "check" writes them: the row entry points, then run
        self.paths = [q for q in parts[3:] if q != "-"] + (["run"] if self.has_run else [])

    def _read(self) -> str:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read()
            raise RuntimeError(f"{self.what} driver exited ({self.proc.wait()}): {err.strip()[-2000:]}")
        return line.strip()

    def ask(self, command: str) -> str:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def numbers(self, command: str) -> list:
        return [int(v) for v in self.ask(command).split()]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def driver_runners(drv: DriverProcess, labels: dict, check_file: Path):
    """Runners for the driver's paths: labels maps path -> (label, key, diagnostic); a path
    the driver does not have is an error."""
    missing = [p for p in labels if p not in drv.paths]
    if missing:
        raise RuntimeError(f"the {drv.what} driver has no {', '.join(missing)} path (it has {', '.join(drv.paths)})")
    drv.ask(f"check {check_file} {CHECK_SINGLE}")
    data = np.fromfile(check_file, dtype=np.float64)
    per_path = (N_ROWS + CHECK_SINGLE) * drv.n_out
    out = []
    for path, (label, key, diagnostic) in labels.items():
        i = drv.paths.index(path)

        def batch(reps, path=path):
            return [tuple(int(v) for v in rep.split(",")) for rep in drv.ask(f"batch {path} {reps}").split()]

        def single(budget_s, max_groups, path=path):
            return drv.numbers(f"single {path} {SINGLE_GROUP} {max_groups} {int(budget_s * 1000)}")

        r = Runner(label, key, diagnostic, batch=batch, single=single)
        r.outputs = data[i * per_path:(i + 1) * per_path].reshape(N_ROWS + CHECK_SINGLE, drv.n_out)
        out.append(r)
    return out


# --------------------------------------------------------------------------- building


def run_quiet(cmd, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, cmd))} failed:\n{proc.stderr[-3000:]}")
    return proc


def build_drivers() -> tuple:
    """g++ -O2 the C++ driver and javac the Java one, into benchmarks/.work/."""
    WORK.mkdir(parents=True, exist_ok=True)
    exe = WORK / "driver"
    run_quiet(["g++", "-O2", "-std=c++17", "-o", str(exe), str(BENCH / "driver.cpp"), "-ldl"])
    classes = WORK / "java-driver"
    shutil.rmtree(classes, ignore_errors=True)
    classes.mkdir()
    run_quiet(["javac", "--release", "11", "-nowarn", "-d", str(classes), str(BENCH / "Driver.java")])
    return exe, classes


CTYPES = {"float": "f32", "double": "f64", "int64_t": "i64"}


def output_spec(hpp: Path) -> str:
    """The model's output tensors as dtype:size, read from the generated header's Outputs struct
    (what Model::run and Java's run() take); "-" when a tensor type is not numeric."""
    text = hpp.read_text()
    body = text.split("struct Outputs {", 1)[1].split("};", 1)[0]
    spec = []
    for line in body.strip().splitlines():
        m = re.match(r"\s*([\w:]+)\* \w+;\s*//\s*(\d+) per row", line)
        if not m or m.group(1) not in CTYPES:
            return "-"
        spec.append(f"{CTYPES[m.group(1)]}:{m.group(2)}")
    return ",".join(spec) or "-"


@dataclass
class Built:
    directory: Path
    name: str
    manifest: dict
    compile_s: float
    sizes: dict


def compile_case(case: Case, est, precision: str | None = None) -> Built:
    """Compile for C++ and Java in the model's own precision (or `precision`: "float32")."""
    import modelport
    key = case.key + (f"_{precision}" if precision else "")
    out = WORK / key
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    manifest = modelport.compile(est, targets=["cpp", "java"], out=out, name=f"bench_{key}", precision=precision)
    compile_s = time.perf_counter() - t0
    name = manifest["name"]
    cls = manifest["targets"]["java"]["class"].rsplit(".", 1)[1]
    java_src = out / "java" / "src" / "modelport" / "models"
    sizes = {
        "cpp_source": sum((out / "cpp" / f).stat().st_size for f in (f"{name}.cpp", f"{name}.hpp")),
        "cpp_so": (out / "cpp" / f"lib{name}.so").stat().st_size,
        "java_source": (java_src / f"{cls}.java").stat().st_size,
        "java_resource": (java_src / f"{cls}.bin").stat().st_size,
        "jar": (out / "java" / f"{name}.jar").stat().st_size,
        "onnx": (out / "model.onnx").stat().st_size,
    }
    return Built(out, name, manifest, compile_s, sizes)


# --------------------------------------------------------------------------- measuring


def compare(ref: np.ndarray, got: np.ndarray, label_cols: list) -> tuple:
    """(max abs difference on value columns, max difference relative to max(1, |reference|),
    label mismatches that are not probability ties)."""
    if got.shape != ref.shape:
        return float("inf"), float("inf"), -1
    value_cols = [j for j in range(ref.shape[1]) if j not in label_cols]
    err = np.abs(ref[:, value_cols] - got[:, value_cols])
    diff = float(np.max(err)) if value_cols else 0.0
    rel = float(np.max(err / np.maximum(1.0, np.abs(ref[:, value_cols])))) if value_cols else 0.0
    if not np.all(np.isfinite(got)):
        diff = rel = float("inf")
    bad = 0
    for j in label_cols:
        wrong = ref[:, j] != got[:, j]
        if value_cols and wrong.any():
            probs = np.sort(ref[:, value_cols], axis=1)
            tie = probs[:, -1] - probs[:, -2] < 1e-5 if probs.shape[1] > 1 else np.zeros(len(ref), bool)
            wrong &= ~tie
        bad += int(wrong.sum())
    return diff, rel, bad


def measure(runners: list, rounds: int, batch_reps: int, single_budget_s: float, progress):
    """Interleaved rounds: every runner's batch reps, then every runner's single-row calls;
    the order rotates from round to round."""
    live = [r for r in runners if r.error is None]
    for k in range(rounds):
        order = live[k % len(live):] + live[:k % len(live)]
        for r in order:
            reps = r.batch(batch_reps)
            r.batch_wall_ns += [w for w, _ in reps]
            r.batch_ns += [c for _, c in reps]
            r.round_batch.append(statistics.median(c for _, c in reps))
        for r in order:
            # Slow runners (scikit-learn: milliseconds a row) get fewer groups, not more time.
            ns = [g / SINGLE_GROUP for g in r.single(single_budget_s, 400)]
            r.single_ns += ns
            r.round_single.append(statistics.median(ns))
        progress(f"    round {k + 1}/{rounds} done")


def ratio_stats(runner_rounds: list, base_rounds: list) -> tuple:
    """Per-round base_time / runner_time: (median, min, max)."""
    ratios = [b / r for r, b in zip(runner_rounds, base_rounds)]
    return statistics.median(ratios), min(ratios), max(ratios)


# --------------------------------------------------------------------------- reporting


def fmt_us(ns: float) -> str:
    us = ns / 1000
    return f"{us:,.0f}" if us >= 100 else f"{us:.1f}" if us >= 10 else f"{us:.2f}"


def fmt_rate(rows_per_s: float) -> str:
    return f"{rows_per_s / 1e6:.2f} M" if rows_per_s >= 1e6 else f"{rows_per_s / 1e3:,.0f} k"


def fmt_ratio(stats: tuple) -> str:
    def f(v):
        return f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"
    med, lo, hi = stats
    return f"**{f(med)}x** ({f(lo)}–{f(hi)})"


def fmt_bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB"


def model_table(result: dict) -> list:
    runners = result["runners"]
    ort = next(r for r in runners if r.key == "ort")
    lines = [
        "| Runner | single row, µs/call | vs ORT | batch of 10k, rows/s | ns/row | vs ORT | max abs diff vs the original |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in runners:
        if r.error:
            lines.append(f"| {r.label} | failed | | | | | {r.error} |")
            continue
        single = statistics.median(r.single_ns)
        batch = statistics.median(r.batch_ns)
        agree = result["agreement"][r.key]
        lines.append(
            f"| {r.label} | {fmt_us(single)} | {fmt_ratio(ratio_stats(r.round_single, ort.round_single))} "
            f"| {fmt_rate(N_ROWS / batch * 1e9)} | {batch / N_ROWS:,.0f} "
            f"| {fmt_ratio(ratio_stats(r.round_batch, ort.round_batch))} | {agree} |")
    return lines


def cost_of_double(results: list) -> list:
    """The section on what double costs: for each model that computes in double, its generated
    code against the same model compiled with --precision float32, timed in the same rounds."""
    rows = []
    for res in results:
        by_key = {r.key: r for r in res.get("runners", []) if not r.error and r.round_batch}
        for lang, key in (("C++", "cpp"), ("Java", "java")):
            d, f = by_key.get(key), by_key.get(key + "_float32")
            if not d or not f:
                continue
            agree = res["agreement"]
            rows.append(
                f"| {res['case'].key} | {lang} | {statistics.median(d.batch_ns) / N_ROWS:,.0f} "
                f"| {statistics.median(f.batch_ns) / N_ROWS:,.0f} | {fmt_ratio(ratio_stats(f.round_batch, d.round_batch))} "
                f"| {fmt_us(statistics.median(d.single_ns))} | {fmt_us(statistics.median(f.single_ns))} "
                f"| {fmt_ratio(ratio_stats(f.round_single, d.round_single))} "
                f"| {agree.get(key, '')} | {agree.get(key + '_float32', '').replace(' (rounds to float32)', '')} |")
    if not rows:
        return []
    return [
        "## The cost of double", "",
        "Models whose original computes in double compile to double code (the default); "
        "`--precision float32` trades that exactness for speed. Each row times the two builds of the same "
        "model side by side, in the same rounds, each through the entry point its users call "
        "(scikit-learn models: the C ABI `<name>_predict_f64` and Java `predict(double[][])` for the double "
        "build, `<name>_predict` and `predict(float[][])` for the float32 one; R models: `Model::run` and "
        "Java `run` with typed tensors for both): \"double / float32\" is the median "
        "over rounds of the double build's time divided by the float32 build's (above 1: double is slower). The "
        "last two columns are each build's largest difference from the original model on the same rows.", "",
        "| Model | Code | batch ns/row, double | float32 | double / float32 | single row µs, double | float32 "
        "| double / float32 | vs the original: double | float32 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|---|",
        *rows, ""]


def agreement_text(diff: float, rel: float, bad: int, classifier: bool, exact: bool = False,
                   by_choice: bool = False) -> str:
    """The agreement cell: the max abs difference (labels); WRONG outside the tolerance (double
    models: DOUBLE_RTOL relative; float32 ones: VALUE_TOL), except for runners that round to
    float32 by the user's choice, which show what that costs."""
    ok = (rel <= DOUBLE_RTOL if exact else diff <= VALUE_TOL) and bad == 0
    text = f"{diff:.1e}" if np.isfinite(diff) else "shape or NaN mismatch"
    if classifier:
        text += f", {bad} label{'s' if bad != 1 else ''} differ" if bad else ", labels equal"
    if by_choice:
        return f"{text} (rounds to float32)"
    return text if ok else f"**WRONG**: {text}"


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, AttributeError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem,
            "kernel": f"{platform.system()} {platform.release()}",
            "load": " ".join(f"{v:.2f}" for v in os.getloadavg())}


def versions() -> dict:
    import onnx
    import onnxruntime
    import skl2onnx
    import sklearn

    import modelport

    def first_line(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"
    commit = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return {
        "modelport": f"{modelport.__version__} (commit {commit}{', with uncommitted changes' if dirty else ''})",
        "Python": platform.python_version(), "numpy": np.__version__, "scikit-learn": sklearn.__version__,
        "ONNX Runtime": onnxruntime.__version__, "onnx": onnx.__version__, "skl2onnx": skl2onnx.__version__,
        "C++ compiler": first_line(["g++", "--version"]), "Java": first_line(["java", "-version"]),
    }


def write_doc(results: list, info: dict, vers: dict, args, started: str, elapsed: float, java_flags: list,
              r_results: list = (), t_results: list = (), extra: list = ()) -> str:
    ratios = [w / c for res in results for r in res.get("runners", []) for w, c in zip(r.batch_wall_ns, r.batch_ns)
              if c > 0]
    busy = statistics.median(ratios) if ratios else float("nan")
    out = [
        "# Performance",
        "",
        "Generated by `make bench` (`benchmarks/run.py`); do not edit: every run rewrites this file.",
        "",
        f"- Date: {started}",
        f"- Machine: {info['cpu']}, {info['cores']} cores, {info['memory']} memory, {info['kernel']}; "
        f"load average at the start {info['load']}",
        f"- Versions: " + "; ".join(f"{k} {v}" for k, v in vers.items()),
        f"- Command: `make bench`" + (f" (here: `{' '.join(['benchmarks/run.py'] + sys.argv[1:])}`)"
                                      if sys.argv[1:] else "") + f"; {elapsed:.0f} s in all",
        "",
        "## Targets",
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
    ]
    for res in results:
        for t in res.get("targets", []):
            out.append(f"| {t[0]} | {t[1]} | {t[2]} |")
    for t in tvm_models.targets(list(t_results)):
        out.append(f"| {t[0]} | {t[1]} | {t[2]} |")
    out += [""]
    for res in results:
        out += [f"## {res['case'].title}", ""]
        if res.get("skipped"):
            out += [res["skipped"], ""]
            continue
        out += model_table(res) + [""]
    out += r_models.sections(list(r_results), sys.modules[__name__])
    out += cost_of_double([*results, *r_results])
    out += tvm_models.sections(list(t_results), sys.modules[__name__], args)
    out += list(extra)  # the HTTP servers and Spark
    generated = [res for res in [*results, *r_results] if res.get("built")]
    if not generated:  # a run of the TVM models only: no C++ or Java was generated
        out += ["## Method", "",
                "- One core and one thread for every runner: the script pins itself and its drivers to CPU "
                f"{args.cpu} (`sched_setaffinity`, `taskset -c {args.cpu}`), sets OMP/MKL/OPENBLAS threads to 1, "
                "and ONNX Runtime to `intra_op_num_threads=1`, `inter_op_num_threads=1`, sequential execution, "
                "all graph optimizations.",
                *tvm_models.method(list(t_results), sys.modules[__name__], args), ""]
        return "\n".join(out)
    out += ["## Generated code and build time", "",
            "| Model | C++ source (.cpp + .hpp) | lib .so | C++ build | Java source | Java table resource "
            "| jar | Java build | `modelport.compile` in all |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for res in [*results, *r_results]:
        b = res.get("built")
        if not b:
            continue
        s, t = b.sizes, b.manifest["targets"]
        out.append(f"| {res['case'].key} | {fmt_bytes(s['cpp_source'])} | {fmt_bytes(s['cpp_so'])} "
                   f"| {t['cpp']['seconds']:.1f} s | {fmt_bytes(s['java_source'])} | {fmt_bytes(s['java_resource'])} "
                   f"| {fmt_bytes(s['jar'])} | {t['java']['seconds']:.1f} s | {b.compile_s:.1f} s |")
    out += [
        "",
        "The build times are modelport's generate-and-build step per target (from the artifact's "
        "`manifest.json`: C++ `" + " ".join(next((r['built'].manifest['targets']['cpp']['flags']
                                                  for r in [*results, *r_results] if r.get('built')), ["-"]))
        + "`, the model's own "
        "translation unit; the runtime's object file is compiled once and cached), on an unpinned machine; "
        "\"in all\" adds loading, ONNX conversion and the parity check. Source sizes leave out the runtime "
        "files, which are the same for every model.",
        "",
        "## Method",
        "",
        "- One core and one thread for every runner: the script pins itself and its drivers to CPU "
        f"{args.cpu} (`sched_setaffinity`, `taskset -c {args.cpu}`), sets OMP/MKL/OPENBLAS threads to 1, "
        "and ONNX Runtime to `intra_op_num_threads=1`, `inter_op_num_threads=1`, sequential execution, "
        "all graph optimizations.",
        "- Runners: scikit-learn in this process (`predict` for regressors, `predict_proba` for "
        "classifiers); ONNX Runtime's Python API on the artifact's `model.onnx`; the generated C++ "
        "library called in-process through its C ABI by `benchmarks/driver.cpp` "
        "(dlopen, built with `g++ -O2`); the generated Java class called in-process by "
        "`benchmarks/Driver.java` (method handles found by reflection, `java "
        + " ".join(java_flags) + " -cp <jar>:<driver dir>`). Models that compute in double "
        "(LogisticRegression and HistGradientBoosting fitted on float64 rows) are called through the "
        "double entry points, `<name>_predict_f64` and `predict(double[][])` / `predictRow(double[])`; "
        "the float32 forests through the float ones, `<name>_predict` and `predict(float[][])` / "
        "`predictRow(float[])`, and also through the double ones, which round each value to float32 "
        "as scikit-learn does (what a program reading doubles from a CSV file calls). Rows marked "
        "*diagnostic* call the type-erased kernel entry point directly (`Model::run` in C++, "
        "`run(Object[], Object[], int)` on flat arrays in Java), without the rows wrapper: the "
        "difference to the rows above is the cost of the public call path. Rows marked "
        "`--precision float32` run the same model compiled with that option, through its float "
        "entry points: what trading exactness for speed buys (see \"The cost of double\").",
        f"- Data: {N_ROWS:,} rows of 20 standard normal features (fixed seed): float32 values for the "
        "forests, float64 values for the models that compute in double (HistGradientBoosting's with "
        f"{MISSING:.0%} of them missing, NaN), the models trained on {N_TRAIN:,} other rows. Batch: all "
        f"{N_ROWS:,} rows in one call, timed by the CPU "
        "time of the process (in Java, of the calling thread), which leaves out the time the runner "
        "waited while other processes had the core" + (
            f": the machine is shared, and in this run the batches' wall-clock times were on median "
            f"{busy:.2f}x their CPU times (1.00 on an idle machine)" if busy == busy else "")
        + ". Single row: one row per call, on consecutive rows, timed by the monotonic clock "
        f"in groups of {SINGLE_GROUP} calls (reading the CPU clock is a system call, about a "
        "microsecond); the table gives the median per-call time over all groups, which leaves out "
        "the groups a preemption hit.",
        f"- Interleaving: after a warm-up (Java: {args.java_warm_s:.0f} s of both paths, for the JIT), "
        f"{args.rounds} rounds; in each, every runner does {args.batch_reps} batch calls and then "
        f"single-row calls for about {args.single_s:.2f} s, in an order that rotates from round to round. "
        "Throughput and latency are medians over all rounds; \"vs ORT\" is the median over rounds of "
        "ONNX Runtime's time divided by the runner's time in the same round (higher is faster; in "
        "brackets the lowest and highest round), so that load changes on a shared machine cancel out.",
        f"- Agreement: before timing, every runner predicts all {N_ROWS:,} rows in one batch and the "
        f"first {CHECK_SINGLE:,} rows one at a time; the largest absolute difference from scikit-learn "
        f"over those outputs (prediction, or class probabilities) must be at most {VALUE_TOL:g} for "
        f"float32 models and {DOUBLE_RTOL:g} relative (to max(1, |scikit-learn's value|)) for the "
        "generated code of double models, and labels must be equal except where scikit-learn's top two "
        "probabilities tie; otherwise the row says WRONG and `make bench` fails. The `--precision "
        "float32` builds show their difference and are not held to it (\"rounds to float32\").",
        *r_models.method(list(r_results), sys.modules[__name__], args),
        *tvm_models.method(list(t_results), sys.modules[__name__], args),
        "",
    ]
    return "\n".join(out)


def console_row(line: str) -> str:
    """A markdown table row as a console line (cells joined, no emphasis)."""
    return "  " + " | ".join(c.strip().replace("**", "") for c in line.strip("|").split("|"))


def console_section(results: list, table) -> list:
    """Each result's title and its markdown table (from `table(res)`) as console lines."""
    out = []
    for res in results:
        out.append(f"\n{res['case'].title}")
        if res.get("skipped"):
            out.append(f"  {res['skipped']}")
            continue
        out += [console_row(line) for line in table(res) if not line.startswith("|---")]
    return out


def console_table(results: list, r_results: list = (), t_results: list = ()) -> str:
    out = console_section(results, model_table)
    out += console_section(r_results, lambda res: r_models.table(res, sys.modules[__name__]))
    out += console_section(list(t_results), tvm_models.table)
    out += tvm_models.console_builds(list(t_results), console_row)
    out.append("\nTargets")
    for res in results:
        for t in res.get("targets", []):
            out.append(f"  {t[0]}: {t[1]} -> {t[2]}")
    for t in tvm_models.targets(list(t_results)):
        out.append(f"  {t[0]}: {t[1]} -> {t[2]}")
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def ort_session(path: Path):
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def typed_inputs(built: Built, X: np.ndarray) -> tuple:
    """(IN_SPEC, TENSORS file) of the drivers' run path: the rows in the model's input type."""
    spec = r_models.tensor_spec(built.directory / "cpp" / f"{built.name}.hpp", "Inputs")
    if len(spec) != 1 or spec[0][1] not in ("f32", "f64") or spec[0][2] != X.shape[1]:
        raise RuntimeError(f"unexpected inputs of {built.name}: {spec}")
    path = built.directory / "rows.tensors"
    X.astype(r_models.NP[spec[0][1]]).tofile(path)
    return r_models.spec_text(spec), path


def compiled_runners(built: Built, X: np.ndarray, args, drivers, java_flags, double: bool, tag: str = "",
                     key: str = "", diagnostics: bool = True) -> tuple:
    """The generated C++ and Java of `built` on rows X: (runners, driver processes). Models that
    compute in double are called through their double entry points (`_predict_f64`,
    `predict(double[][])`); float32 models through the float ones, and the double ones too."""
    name, d = built.name, built.directory
    data_file = d / "rows.f64"
    X.astype(np.float64).tofile(data_file)
    spec = output_spec(d / "cpp" / f"{name}.hpp")
    in_spec, tensors = typed_inputs(built, X)
    exe, classes = drivers
    runners, procs = [], []
    cpp_paths = {"abi64": (f"generated C++{tag}, C ABI `{name}_predict_f64`", "cpp" + key, False)} if double else {
        "abi": (f"generated C++{tag}, C ABI `{name}_predict`", "cpp" + key, False),
        "abi64": (f"generated C++{tag}, C ABI `{name}_predict_f64` (double rows, rounded)", "cpp_f64" + key, False)}
    if diagnostics:
        cpp_paths["run"] = (f"generated C++{tag}, `Model::run` (diagnostic)", "cpp_run" + key, True)
    java_paths = {"predict64": (f"generated Java{tag}, `predict(double[][])` / `predictRow(double[])`",
                                "java" + key, False)} if double else {
        "predict": (f"generated Java{tag}, `predict` / `predictRow` on floats", "java" + key, False),
        "predict64": (f"generated Java{tag}, `predict` / `predictRow` on doubles (rounded)", "java_f64" + key,
                      False)}
    if diagnostics:
        java_paths["run"] = (f"generated Java{tag}, `run` on flat arrays (diagnostic)", "java_run" + key, True)
    try:
        cpp = DriverProcess(["taskset", "-c", str(args.cpu), str(exe), str(d / "cpp" / f"lib{name}.so"), name,
                             str(data_file), str(N_ROWS), str(X.shape[1]), spec, in_spec, str(tensors)], "C++")
        procs.append(cpp)
        runners += driver_runners(cpp, cpp_paths, d / "cpp_out.f64")
    except Exception as exc:  # noqa: BLE001 - reported in the table, and the run fails at the end
        label, key_, _ = next(iter(cpp_paths.values()))
        runners.append(Runner(label, key_, error=str(exc)[:300]))
    try:
        cls = built.manifest["targets"]["java"]["class"]
        jar = d / "java" / f"{name}.jar"
        java = DriverProcess(["taskset", "-c", str(args.cpu), "java", *java_flags, f"-Dbench.class={cls}",
                              "-cp", f"{jar}{os.pathsep}{classes}", "Driver", str(data_file), str(N_ROWS),
                              str(X.shape[1]), spec, in_spec, str(tensors)], "Java")
        procs.append(java)
        runners += driver_runners(java, java_paths, d / "java_out.f64")
    except Exception as exc:  # noqa: BLE001
        label, key_, _ = next(iter(java_paths.values()))
        runners.append(Runner(label, key_, error=str(exc)[:300]))
    return runners, procs


FLOAT32_TAG = " (`--precision float32`)"


def bench_case(case: Case, args, drivers, java_flags, say) -> dict:
    res = {"case": case, "runners": [], "agreement": {}, "targets": []}
    X, _ = make_data(2, N_ROWS, case.classifier, case.double, case.missing, case.n_features)
    est = case.est
    built = res["built"] = case.built
    d = built.directory
    sess = ort_session(d / "model.onnx")

    say("  checking outputs")
    sk, ort_runner = python_runners(case, est, sess, X)
    runners = [sk, ort_runner]
    procs = []
    try:
        more, p = compiled_runners(built, X, args, drivers, java_flags, case.double)
        runners += more
        procs += p
        if case.built32 is not None:
            # The same model compiled with --precision float32: what double costs, and what it buys.
            more, p = compiled_runners(case.built32, X, args, drivers, java_flags, False, FLOAT32_TAG, "_float32",
                                       diagnostics=False)
            runners += [r for r in more if "_f64" not in r.key]
            procs += p
        others = case.extras(case, est, X, say, sys.modules[__name__]) if case.extras else []
        runners += others
        res["runners"] = runners
        res["others"] = {r.key for r in others}
        rounded = {r.key for r in runners if r.key.endswith("_float32")}
        res["by_choice"] = rounded
        label_cols = [j for j, c in enumerate(built.manifest["schema"]["outputs"]) if c.get("kind") == "label"
                      or c.get("name") == "label"]
        ok = True
        for r in runners:
            if r.error:
                ok = False
                continue
            diff, rel, bad = compare(sk.outputs, r.outputs, label_cols)
            exact = case.double and r.key not in rounded and r.key != "ort" and r.key not in res["others"]
            res["agreement"][r.key] = agreement_text(diff, rel, bad, case.classifier, exact,
                                                     by_choice=r.key in rounded)
            if r.key not in rounded and r.key not in res["others"]:
                ok &= (rel <= DOUBLE_RTOL if exact else diff <= VALUE_TOL) and bad == 0
        res["ok"] = ok

        say("  warming up")
        for r in (sk, ort_runner, *others):
            r.batch(2)
            r.single(0.2, 50)
        for q in procs:
            q.ask(f"warm {int((args.java_warm_s if q.what == 'Java' else 0.5) * 1000)}")
        say(f"  measuring ({args.rounds} rounds)")
        measure([r for r in runners if not r.error], args.rounds, args.batch_reps, args.single_s, say)
    finally:
        for q in procs:
            q.close()

    by_key = {r.key: r for r in runners}
    cpp = by_key.get("cpp")
    if cpp and not cpp.error and cpp.round_batch:
        ortr = by_key["ort"]
        single_us = statistics.median(cpp.single_ns) / 1000
        if case.extras:
            res["targets"] += boosting_models.targets(case, [by_key[k] for k in ("sklearn", *res["others"])
                                                             if not by_key[k].error], cpp, ratio_stats)
        elif case.forest:
            med = ratio_stats(cpp.round_batch, ortr.round_batch)[0]
            res["targets"].append((f"{case.key}: generated C++ batch throughput ≥ {TARGET_BATCH_RATIO}x ONNX Runtime",
                                   f"{med:.2f}x", "yes" if med >= TARGET_BATCH_RATIO else "**no**"))
        if not case.extras:  # the latency target is for the 100-tree scikit-learn models
            res["targets"].append((f"{case.key}: generated C++ single-row latency < {TARGET_SINGLE_US:g} µs "
                                   "in-process", f"{single_us:.2f} µs", "yes" if single_us < TARGET_SINGLE_US else "**no**"))
    elif case.forest:
        res["targets"].append((f"{case.key}: generated C++ targets", "not measured", "**no**"))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7, help="interleaved measurement rounds (default 7)")
    ap.add_argument("--batch-reps", type=int, default=3, help="batch calls per runner per round (default 3)")
    ap.add_argument("--single-s", type=float, default=0.3,
                    help="seconds of single-row calls per runner per round (default 0.3)")
    ap.add_argument("--java-warm-s", type=float, default=5.0, help="Java warm-up seconds (default 5)")
    ap.add_argument("--cpu", type=int, default=int(os.environ.get("BENCH_CPU", "0")),
                    help="the core everything is pinned to (default 0, or $BENCH_CPU)")
    ap.add_argument("--only", default="",
                    help="comma-separated model keys (default: all): " + ", ".join(c.key for c in _cases())
                    + ", or r (all R models) or " + ", ".join(c.key for c in r_models.cases())
                    + ", or tvm (all TVM models) or " + ", ".join(c.key for c in tvm_models.cases())
                    + ", or serve (the HTTP servers), or spark (Spark scoring)")
    ap.add_argument("--skip-r", action="store_true", help="leave out the R models (benchmarks/r_models.py)")
    ap.add_argument("--skip-tvm", action="store_true", help="leave out the TVM models (benchmarks/tvm_models.py)")
    ap.add_argument("--skip-serve", action="store_true", help="leave out the HTTP servers (benchmarks/serve_bench.py)")
    ap.add_argument("--skip-spark", action="store_true", help="leave out Spark (benchmarks/spark_bench.py)")
    serve_bench.add_arguments(ap, prefix="serve-")
    ap.add_argument("--tune", type=float, default=tvm_models.DEFAULT_TUNE_S,
                    help="seconds of MetaSchedule tuning per tuned TVM build, one per model and batch (default "
                    f"{tvm_models.DEFAULT_TUNE_S:g}; records are cached and reused; 0: no tuned builds)")
    ap.add_argument("--mobilenet-size", type=int, default=tvm_models.MOBILENET_SIZE,
                    help=f"MobileNetV2's input height and width (default {tvm_models.MOBILENET_SIZE})")
    ap.add_argument("--doc", default=str(DOC), help="where to write the report (default docs/performance.md)")
    args = ap.parse_args(argv)

    t_start = time.time()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    def say(msg):
        print(f"[{time.time() - t_start:6.1f}s] {msg}", flush=True)

    for tool in ("g++", "javac", "java", "taskset"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found (run `make setup`, and install util-linux for taskset)", file=sys.stderr)
            return 2
    info = machine_info()
    java_flags = ["-XX:+UseSerialGC", "-Xms1g", "-Xmx1g"]
    say("building the drivers")
    drivers = build_drivers()

    cases = _cases()
    r_keys = [c.key for c in r_models.cases()]
    t_keys = [c.key for c in tvm_models.cases()]
    run_serve, run_spark = not args.skip_serve, not args.skip_spark
    if args.only:
        keep = set(args.only.split(","))
        run_serve, run_spark = run_serve and "serve" in keep, run_spark and "spark" in keep
        unknown = keep - {c.key for c in cases} - set(r_keys) - {"r"} - set(t_keys) - {"tvm", "serve", "spark"}
        if unknown:
            print(f"bench: unknown model keys: {', '.join(sorted(unknown))}", file=sys.stderr)
            return 2
        cases = [c for c in cases if c.key in keep]
        r_keys = [k for k in r_keys if "r" in keep or k in keep]
        t_keys = [k for k in t_keys if "tvm" in keep or k in keep]
    if args.skip_r:
        r_keys = []
    if args.skip_tvm:
        t_keys = []
    # Compile everything first, on every core, then pin for the measurements.
    for case in cases:
        say(f"compiling {case.key}")
        X_train, y_train = make_data(1, N_TRAIN, case.classifier, case.double, case.missing, case.n_features)
        case.est = case.make().fit(X_train, y_train)
        try:
            case.built = compile_case(case, case.est)
            if case.double:
                say(f"compiling {case.key} with --precision float32")
                case.built32 = compile_case(case, case.est, "float32")
        except Exception as exc:  # noqa: BLE001 - a model the compiler cannot take yet is reported, not fatal
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            case.skipped = f"not supported yet: `modelport.compile` failed ({type(exc).__name__}: {first})"
            say(f"  {case.skipped}")
    r_cases = r_models.prepare(r_keys, sys.modules[__name__], say)

    all_cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {args.cpu})
    results = []
    for case in cases:
        if case.built is None:
            targets = [(f"{case.key}: generated C++ batch throughput ≥ {TARGET_BATCH_RATIO}x ONNX Runtime",
                        "not measured: not supported yet", "**no**")] if case.forest else []
            results.append({"case": case, "skipped": case.skipped, "targets": targets})
            continue
        say(f"benchmarking {case.key}")
        try:
            results.append(bench_case(case, args, drivers, java_flags, say))
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            results.append({"case": case, "skipped": f"benchmark failed: {type(exc).__name__}: {exc}"[:400],
                            "ok": False, "built": case.built})
    r_results = r_models.bench(r_cases, args, sys.modules[__name__], drivers, java_flags, say)
    # The TVM part imports PyTorch, TensorFlow and TVM, and tunes on every core: after the
    # measurements above, unpinned, then pinned again for its own.
    os.sched_setaffinity(0, all_cpus)
    t_cases = tvm_models.prepare(t_keys, args, sys.modules[__name__], say)
    os.sched_setaffinity(0, {args.cpu})
    t_results = tvm_models.bench(t_cases, args, sys.modules[__name__], drivers, say)
    # The servers and wrk pin themselves to halves of the cores; Spark uses them all.
    os.sched_setaffinity(0, all_cpus)
    extra, s_results, spark_failed = [], None, False
    if run_serve:
        say("benchmarking the HTTP servers")
        try:
            s_results = serve_bench.bench(args, sys.modules[__name__], say)
            extra += serve_bench.section(s_results)
        except serve_bench.BenchError as exc:
            print(f"bench: HTTP servers: {exc}", file=sys.stderr)
            extra += ["## HTTP servers", "", f"Not measured: {exc}", ""]
    if run_spark:
        say("benchmarking Spark")
        cmd = [sys.executable, str(Path(__file__).parent / "spark_bench.py")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        spark_failed = proc.returncode != 0
        extra += ["## Spark", "",
                  "Batch scoring of a DataFrame on Spark in local mode: the compiled Java model as a JVM "
                  "function (`modelport.spark.register`) against a pandas UDF running the original "
                  "scikit-learn model on the same DataFrame (docs/spark.md). Command: "
                  f"`{os.path.relpath(cmd[1], ROOT)}` (run by `make bench`).", "",
                  *(proc.stdout.strip().splitlines() if not spark_failed else
                    [f"Not measured: spark_bench.py failed: {proc.stderr.strip()[-500:]}"]), ""]

    vers = versions()
    if any(r.get("built") for r in r_results):
        vers.update(r_models.versions())
    vers.update(tvm_models.versions(t_results))
    elapsed = time.time() - t_start
    text = write_doc(results, info, vers, args, started, elapsed, java_flags, r_results, t_results, extra)
    Path(args.doc).parent.mkdir(parents=True, exist_ok=True)
    Path(args.doc).write_text(text)
    (WORK / "results.json").write_text(json.dumps(
        [{"model": r["case"].key, "skipped": r.get("skipped"),
          "runners": [{"key": x.key, "label": x.label, "error": x.error, "batch_ns": x.batch_ns,
                       "single_ns_per_call": x.single_ns, "round_batch_ns": x.round_batch,
                       "round_single_ns": x.round_single, "agreement": r.get("agreement", {}).get(x.key)}
                      for x in r.get("runners", [])],
          "targets": r.get("targets", [])} for r in results] + r_models.json_results(r_results)
        + tvm_models.json_results(t_results) + (serve_bench.json_results(s_results) if s_results else []),
        indent=1))
    print(console_table(results, r_results, t_results))
    if s_results:
        print(serve_bench.console(s_results))
    print(f"\nwrote {os.path.relpath(args.doc, ROOT)} ({elapsed:.0f} s)")
    failed = [r["case"].key for r in [*results, *r_results, *t_results] if r.get("ok") is False]
    failed += serve_bench.failed(s_results) if s_results else []
    failed += ["spark"] if spark_failed else []
    if failed:
        print(f"bench: outputs disagree or a runner failed for: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
