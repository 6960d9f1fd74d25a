#!/usr/bin/env python3
"""The server benchmark of `make bench`: requests per second and p50/p99 latency of the
generated servers (`java -jar <name>.jar serve`, `cpp/bin/<name> serve`) against the server a
Python user writes (FastAPI run by uvicorn, benchmarks/serve_fastapi_app.py, with ONNX Runtime
on the artifact's model.onnx, and with the original scikit-learn model), on the 100-tree
forest of benchmarks/run.py, at 1, 8 and 32 concurrent clients, with single-row and 100-row
JSON requests.

The servers run on their own cores (`taskset`: the first half of the machine's, wrk on the
others), with as many threads or uvicorn workers as cores. Each is waited for until it listens,
then checked: its answers to every request body the benchmark sends must match scikit-learn's
predictions (within run.py's tolerance), so that no error answer is ever timed. Then wrk
(benchmarks/serve_bench.lua) drives each in turn, with as many keep-alive connections as
clients, each sending its next request as soon as the answer to the last one has arrived, in
interleaved rounds (every cell: one wrk run per server per round, the order rotating) so that
a shared machine's load changes fall on all servers alike. Any non-2xx answer, socket error or
timeout fails that server and the run. Every server started is stopped at the end, its whole
process group, also when the run fails or is interrupted.

Interface for run.py: add_arguments(parser, prefix), bench(args, h, say) -> results,
section(results) -> markdown lines, console(results) -> text, json_results(results),
failed(results).
Standalone: `benchmarks/serve_bench.py [--duration S] [--rounds N] [--servers java,cpp,...] [--out FILE]`.
"""
from __future__ import annotations

import argparse
import atexit
import importlib.util
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

BENCH = Path(__file__).resolve().parent
LUA = BENCH / "serve_bench.lua"
APP = "serve_fastapi_app:app"   # in BENCH

SERVERS = {  # key -> label in the table
    "java": "generated Java (`java -jar <name>.jar serve`)",
    "cpp": "generated C++ (`bin/<name> serve`)",
    "fastapi-ort": "FastAPI + uvicorn, ONNX Runtime on `model.onnx`",
    "fastapi-sklearn": "FastAPI + uvicorn, scikit-learn",
}
BASELINE = "fastapi-ort"
DEFAULT_MODELS = ("forest_classifier",)
DEFAULT_CLIENTS = (1, 8, 32)
DEFAULT_ROWS = (1, 100)
N_BODIES = 20_000       # rows in the request bodies of one size (each body a distinct slice)
MAX_BODIES = 200        # distinct request bodies per size, sent in turn
START_TIMEOUT_S = 120   # to start listening (uvicorn imports pandas, scikit-learn, ONNX Runtime)
STOP_TIMEOUT_S = 40     # the generated servers give requests in flight 30 s on SIGTERM
WRK_TIMEOUT = "10s"     # an answer slower than this counts as a timeout error (the run fails)


class BenchError(Exception):
    """A server that did not start, answered wrongly, or failed requests under load; a model
    that did not compile."""


class UsageError(BenchError):
    """Bad options, or a tool the benchmark needs is missing."""


# --------------------------------------------------------------------------- options


def parse_list(text: str, kind=str) -> list:
    return [kind(v) for v in text.split(",") if v.strip()]


def parse_cpus(text: str) -> list:
    """"0-3,6" -> [0, 1, 2, 3, 6]."""
    cpus = []
    for part in parse_list(text):
        lo, _, hi = part.partition("-")
        cpus += range(int(lo), int(hi or lo) + 1)
    return sorted(set(cpus))


def default_cpus() -> tuple:
    """(server cores, client cores): the first half of this process's cores for the server,
    the rest for wrk; on one core, both share it."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) == 1:
        return cpus, cpus
    half = len(cpus) // 2
    return cpus[:half], cpus[half:]


def add_arguments(ap: argparse.ArgumentParser, prefix: str = "") -> None:
    """The benchmark's options, named --<prefix>duration etc. (dest serve_duration etc.)."""
    def opt(name, **kw):
        kw.setdefault("metavar", name.rsplit("-", 1)[-1].upper())
        ap.add_argument(f"--{prefix}{name}", dest="serve_" + name.replace("-", "_"), **kw)
    opt("duration", type=int, default=2, help="seconds of each wrk run (default 2)")
    opt("rounds", type=int, default=3,
        help="wrk runs per server and table cell, interleaved with the other servers' (default 3)")
    opt("warmup", type=float, default=3.0,
        help="seconds of load per server and request size before its cells, untimed (default 3; the JIT)")
    opt("servers", default=",".join(SERVERS), help="comma-separated, of " + ", ".join(SERVERS) + " (default all)")
    opt("models", default=",".join(DEFAULT_MODELS),
        help="comma-separated forests of benchmarks/run.py: forest_classifier, forest_regressor "
             f"(default {','.join(DEFAULT_MODELS)})")
    opt("clients", default=",".join(map(str, DEFAULT_CLIENTS)), help="concurrent clients (default 1,8,32)")
    opt("rows", default=",".join(map(str, DEFAULT_ROWS)), help="rows per request (default 1,100)")
    opt("server-cpus", default="", help="cores the servers run on, e.g. 0 or 0-3 (default: the first half)")
    opt("client-cpus", default="", help="cores wrk runs on (default: the other half)")
    opt("java-opts", default="", help="JVM options for the Java server, space-separated (default none)")


# --------------------------------------------------------------------------- processes


LIVE: set = set()  # servers running, stopped at exit whatever happens


def _stop_all():
    for s in list(LIVE):
        s.stop()


atexit.register(_stop_all)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own process group (uvicorn's workers included), its output
    in a log file; `port` is read from its start line (`serving <name> on http://HOST:PORT`)
    or given."""

    def __init__(self, key: str, cmd: list, log: Path, env: dict | None = None, port: int | None = None):
        self.key, self.cmd, self.log = key, cmd, log
        self.log_file = open(log, "wb")
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log_file,
                                         stderr=subprocess.STDOUT, env=env, cwd=BENCH, start_new_session=True)
        except OSError as exc:
            self.log_file.close()
            raise BenchError(f"cannot start {SERVERS[key]}: {exc}") from None
        LIVE.add(self)
        try:
            self.port = port if port is not None else self._start_line()
        except BaseException:
            self.stop()
            raise

    def tail(self, n: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace").strip()[-n:]
        except OSError:
            return ""

    def exited(self) -> str | None:
        if self.proc.poll() is None:
            return None
        return f"{SERVERS[self.key]} exited with status {self.proc.returncode}: {self.tail() or '(no output)'}"

    def _start_line(self) -> int:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            m = re.search(r"serving \S+ on http://[^:\s]+:(\d+)", self.tail(100_000))
            if m:
                return int(m.group(1))
            if self.exited():
                raise BenchError(self.exited())
            time.sleep(0.05)
        raise BenchError(f"{SERVERS[self.key]} printed no start line in {START_TIMEOUT_S} s: {self.tail()}")

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL to what is left of it after STOP_TIMEOUT_S."""
        if self not in LIVE:
            return
        LIVE.discard(self)
        pgid = self.proc.pid
        try:
            os.killpg(pgid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        try:  # uvicorn's workers, or a server that did not stop
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.log_file.close()


def post(port: int, body: str, timeout: float = 60) -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", "/predict", body=body.encode(), headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def wait_ready(server: Server, body: str) -> None:
    """Until the server answers a request (uvicorn prints no start line worth parsing)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.exited():
            raise BenchError(server.exited())
        try:
            post(server.port, body)
            return
        except (ConnectionError, OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise BenchError(f"{SERVERS[server.key]} did not answer in {START_TIMEOUT_S} s: {server.tail()}")
            time.sleep(0.1)


# --------------------------------------------------------------------------- the model


@dataclass
class Model:
    key: str
    title: str
    directory: Path           # the artifact
    name: str
    features: list
    outputs: list             # the answer's columns
    label_cols: list          # indices of label columns in outputs
    classes: list             # a classifier's labels, else []
    joblib_path: Path
    work: Path                # the model's folder: the artifact, the joblib file, the bodies
    bodies: dict = field(default_factory=dict)     # rows per request -> [JSON body]
    expected: dict = field(default_factory=dict)   # rows per request -> [[rows, n_out] float64 per body]
    cpp_error: str | None = None                   # why the artifact has no C++ server


def json_number(v) -> str:
    """A value as the shortest JSON number that reads back to it (float32 or double); NaN as null."""
    if not np.isfinite(v):
        return "null"
    return str(v) if isinstance(v, np.float32) else repr(float(v))


def make_bodies(X: np.ndarray, features: list, rows: int) -> list:
    names = [json.dumps(f) + ":" for f in features]
    n = min(MAX_BODIES, len(X) // rows)
    return ['{"rows":[' + ",".join("{" + ",".join(k + json_number(v) for k, v in zip(names, X[i])) + "}"
                                   for i in range(b * rows, (b + 1) * rows)) + "]}" for b in range(n)]


def reference(est, X: np.ndarray, classifier: bool) -> np.ndarray:
    if classifier:
        return np.column_stack([est.predict(X).astype(np.float64), est.predict_proba(X)])
    return est.predict(X).reshape(len(X), -1).astype(np.float64)


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).strip()[:300]}"


def model_cases(h) -> dict:
    """run.py's scikit-learn forests on float32 rows, by key."""
    return {c.key: c for c in h._cases() if c.forest and not c.extras and not c.double}


def prepare(key: str, h, work: Path, rows_sizes: list, want_cpp: bool, say) -> Model:
    """Fit run.py's case `key` on its training data, compile it (C++ and Java; Java alone when
    the C++ build fails, which is then reported), and make the request bodies and answers."""
    import joblib

    import modelport
    case = model_cases(h)[key]
    X_train, y_train = h.make_data(1, h.N_TRAIN, case.classifier, case.double, case.missing, case.n_features)
    est = case.make().fit(X_train, y_train)
    out = work / key
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    name, cpp_error = f"serve_{key}", None
    say(f"compiling {key}")
    try:
        manifest = modelport.compile(est, targets=["cpp", "java"] if want_cpp else ["java"],
                                     out=out / "artifact", name=name)
    except Exception as exc:  # noqa: BLE001 - without C++, the Java server is still measured
        if not want_cpp:
            raise BenchError(f"compiling {key} failed: {_why(exc)}") from exc
        cpp_error = f"the C++ build failed: {_why(exc)}"
        say(f"  {cpp_error}; building Java only")
        shutil.rmtree(out / "artifact", ignore_errors=True)
        try:
            manifest = modelport.compile(est, targets=["java"], out=out / "artifact", name=name)
        except Exception as exc2:  # noqa: BLE001
            raise BenchError(f"compiling {key} failed: {_why(exc2)}") from exc2
    outputs = manifest["schema"]["outputs"]
    model = Model(key, case.title, out / "artifact", manifest["name"],
                  [c["name"] for c in manifest["schema"]["inputs"]], [c["name"] for c in outputs],
                  [j for j, c in enumerate(outputs) if c.get("kind") == "label"],
                  [int(c) for c in est.classes_] if case.classifier else [], out / "model.joblib",
                  out, cpp_error=cpp_error)
    joblib.dump(est, model.joblib_path)
    X, _ = h.make_data(2, N_BODIES, case.classifier, case.double, case.missing, case.n_features)
    for rows in rows_sizes:
        model.bodies[rows] = make_bodies(X, model.features, rows)
        (out / f"bodies_{rows}.jsonl").write_text("\n".join(model.bodies[rows]) + "\n")
        ref = reference(est, X[:len(model.bodies[rows]) * rows], case.classifier)
        model.expected[rows] = [ref[b * rows:(b + 1) * rows] for b in range(len(model.bodies[rows]))]
    return model


# --------------------------------------------------------------------------- servers


def start_server(key: str, model: Model, opts, log: Path) -> Server:
    pin = ["taskset", "-c", ",".join(map(str, opts.server_cpus))]
    threads = str(len(opts.server_cpus))
    d, name = model.directory, model.name
    if key in ("java", "cpp"):
        if key == "cpp" and model.cpp_error:
            raise BenchError(model.cpp_error)
        program = d / "java" / f"{name}.jar" if key == "java" else d / "cpp" / "bin" / name
        if not program.is_file():
            raise BenchError(f"cannot start {SERVERS[key]}: the artifact has no {program.relative_to(d)}")
        cmd = ["java", *opts.java_opts, "-jar", str(program)] if key == "java" else [str(program)]
        return Server(key, [*pin, *cmd, "serve", "--port", "0", "--threads", threads], log)
    runtime = {"fastapi-ort": ("onnxruntime", d / "model.onnx"), "fastapi-sklearn": ("sklearn", model.joblib_path)}
    if key not in runtime:
        raise BenchError(f"unknown server {key!r} (servers: {', '.join(SERVERS)})")
    env = dict(os.environ, MODEL_RUNTIME=runtime[key][0], MODEL_PATH=str(runtime[key][1]),
               MODEL_FEATURES=",".join(model.features), MODEL_CLASSES=",".join(map(str, model.classes)))
    port = free_port()
    server = Server(key, [*pin, sys.executable, "-m", "uvicorn", APP, "--app-dir", str(BENCH), "--host", "127.0.0.1",
                          "--port", str(port), "--workers", threads, "--no-access-log", "--log-level", "warning"],
                    log, env=env, port=port)
    return server


def check_answers(server: Server, model: Model, rows: int, h) -> float:
    """Every body of this size, one request each: the answer must be 200 with the model's
    columns, within run.py's tolerance of scikit-learn, labels equal (except probability ties).
    Returns the largest absolute difference."""
    worst = 0.0
    for b, (body, ref) in enumerate(zip(model.bodies[rows], model.expected[rows])):
        status, text = post(server.port, body)
        where = f"{SERVERS[server.key]}, request {b + 1} of {rows} row(s)"
        if status != 200:
            raise BenchError(f"{where}: status {status}: {text[:500]}")
        try:
            got = np.array([[float(r[c]) for c in model.outputs] for r in json.loads(text)["rows"]], np.float64)
        except (ValueError, KeyError, TypeError) as exc:
            raise BenchError(f"{where}: unexpected answer ({type(exc).__name__}: {exc}): {text[:500]}") from None
        diff, _, bad = h.compare(ref, got, model.label_cols)
        if not diff <= h.VALUE_TOL or bad:
            raise BenchError(f"{where}: wrong answer (max abs difference {diff:.3g}, {bad} labels differ; "
                             f"tolerance {h.VALUE_TOL:g}): {text[:300]}")
        worst = max(worst, diff)
    return worst


# --------------------------------------------------------------------------- wrk


def run_wrk(port: int, bodies: Path, clients: int, seconds: float, cpus: list) -> dict:
    """One wrk run; its numbers (see serve_bench.lua), or BenchError on any failed request."""
    threads = max(1, min(clients, len(cpus)))
    cmd = ["taskset", "-c", ",".join(map(str, cpus)), "wrk", "-t", str(threads), "-c", str(clients),
           "-d", f"{max(1, round(seconds))}s", "--timeout", WRK_TIMEOUT, "--latency", "-s", str(LUA),
           f"http://127.0.0.1:{port}/predict", "--", str(bodies)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk did not finish: {' '.join(cmd)}") from None
    m = re.search(r"^RESULT (\{.*\})$", proc.stdout, re.M)
    if proc.returncode != 0 or not m:
        raise BenchError(f"wrk failed (status {proc.returncode}): {(proc.stderr or proc.stdout).strip()[-1000:]}")
    res = json.loads(m.group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", proc.stdout)
    res["non2xx"] = max(res["status"], int(non2xx.group(1)) if non2xx else 0)
    errors = {k: res[k] for k in ("non2xx", "connect", "read", "write", "timeout") if res[k]}
    if errors or res["requests"] == 0:
        raise BenchError(f"{clients} client(s): {res['requests']} requests answered, failures: "
                         + (", ".join(f"{k} {v}" for k, v in errors.items()) or "none answered")
                         + f"\n{proc.stdout.strip()}")
    return res


@dataclass
class Cell:
    """One server at one request size and client count, over the rounds."""
    server: str
    rows: int
    clients: int
    runs: list = field(default_factory=list)   # per round: run_wrk's numbers
    ratio: float | None = None                 # median over rounds of req/s / the baseline's req/s

    @property
    def requests(self) -> int:
        return sum(r["requests"] for r in self.runs)

    @property
    def req_s(self) -> float:
        """All requests over all rounds' time."""
        return self.requests / (sum(r["duration_us"] for r in self.runs) / 1e6)

    @property
    def p50_ms(self) -> float:
        return statistics.median(r["p50_us"] for r in self.runs) / 1000

    @property
    def p99_ms(self) -> float:
        return statistics.median(r["p99_us"] for r in self.runs) / 1000


def rate(run: dict) -> float:
    return run["requests"] / (run["duration_us"] / 1e6)


def start_checked(key: str, model: Model, opts, work: Path, h, say) -> tuple:
    """(server, max abs difference): started, listening, and its answers to every body checked."""
    say(f"  {key}: starting")
    server = start_server(key, model, opts, work / f"{model.key}_{key}.log")
    try:
        wait_ready(server, model.bodies[min(model.bodies)][0])
        diff = max(check_answers(server, model, rows, h) for rows in opts.rows)
    except BaseException:
        server.stop()
        raise
    say(f"  {key}: answers checked on port {server.port} (max abs difference {diff:.1e})")
    return server, diff


def bench_model(model: Model, opts, work: Path, h, say) -> dict:
    """Start and check every server, then measure them in interleaved rounds: for each request
    size and client count, each round runs wrk once on every server, in an order that rotates;
    so load changes on a shared machine fall on every server alike. A server that fails is
    stopped and reported; the others go on. Every server is stopped at the end."""
    results = {key: {"server": key, "cells": [], "error": None, "max_diff": 0.0} for key in opts.servers}
    live = {}

    def fail(key, exc):
        results[key]["error"] = str(exc)
        say(f"  {key}: FAILED: {str(exc)[:2000]}")
        if key in live:
            live.pop(key).stop()

    try:
        for key in opts.servers:
            try:
                live[key], results[key]["max_diff"] = start_checked(key, model, opts, work, h, say)
            except BenchError as exc:
                fail(key, exc)
        turn = 0
        for rows in opts.rows:
            bodies = model.work / f"bodies_{rows}.jsonl"
            for key in list(live):
                try:
                    if opts.warmup > 0:
                        run_wrk(live[key].port, bodies, max(opts.clients), opts.warmup, opts.client_cpus)
                except BenchError as exc:
                    fail(key, exc)
            for clients in opts.clients:
                cells = {key: Cell(key, rows, clients) for key in live}
                for _ in range(opts.rounds):
                    turn += 1
                    order = list(live)
                    k = turn % max(1, len(order))
                    for key in order[k:] + order[:k]:
                        try:
                            cells[key].runs.append(run_wrk(live[key].port, bodies, clients, opts.duration,
                                                           opts.client_cpus))
                            if live[key].exited():
                                raise BenchError(live[key].exited())
                        except BenchError as exc:
                            fail(key, f"{rows} row(s), {exc}")
                for key, cell in cells.items():
                    if key not in live:
                        continue
                    base = cells.get(BASELINE)
                    if base is not None and BASELINE in live:
                        cell.ratio = statistics.median(rate(a) / rate(b) for a, b in zip(cell.runs, base.runs))
                    results[key]["cells"].append(cell)
                    say(f"  {key}: {rows} row(s), {clients} client(s): {cell.req_s:,.0f} req/s, "
                        f"p50 {cell.p50_ms:.2f} ms, p99 {cell.p99_ms:.2f} ms")
    finally:
        for server in live.values():
            server.stop()
    return {"model": model, "servers": [results[key] for key in opts.servers]}


# --------------------------------------------------------------------------- the run


def options(args) -> argparse.Namespace:
    """The bench options from parsed arguments (see add_arguments); BenchError on bad ones."""
    servers = parse_list(args.serve_servers)
    unknown = [s for s in servers if s not in SERVERS]
    if unknown or not servers:
        raise UsageError(f"unknown server(s) {', '.join(unknown) or '(none given)'} (servers: {', '.join(SERVERS)})")
    try:
        clients, rows = parse_list(args.serve_clients, int), parse_list(args.serve_rows, int)
        server_cpus = parse_cpus(args.serve_server_cpus) if args.serve_server_cpus else None
        client_cpus = parse_cpus(args.serve_client_cpus) if args.serve_client_cpus else None
    except ValueError as exc:
        raise UsageError(f"bad number in the options: {exc}") from None
    if not clients or min(clients) < 1 or not rows or min(rows) < 1 or max(rows) > N_BODIES:
        raise UsageError(f"clients and rows must be positive (rows at most {N_BODIES})")
    if args.serve_duration < 1 or args.serve_rounds < 1:
        raise UsageError("--duration (whole seconds) and --rounds must be at least 1")
    d_server, d_client = default_cpus()
    return argparse.Namespace(servers=servers, models=parse_list(args.serve_models), clients=clients, rows=rows,
                              duration=args.serve_duration, rounds=args.serve_rounds, warmup=args.serve_warmup,
                              java_opts=args.serve_java_opts.split(),
                              server_cpus=server_cpus or d_server, client_cpus=client_cpus or d_client)


def missing_tools(servers: list) -> list:
    need = ["taskset", "wrk"] + (["java"] if "java" in servers else [])
    missing = [t for t in need if not shutil.which(t)]
    if any(s.startswith("fastapi") for s in servers):
        missing += [p for p in ("fastapi", "uvicorn", "pandas", "onnxruntime") if importlib.util.find_spec(p) is None]
    return missing


def bench(args, h, say) -> dict:
    """Run the benchmark: {"opts", "models": [{"model", "servers": [per-server result]}], "meta"};
    BenchError for bad options or missing tools (a failing server is a result, see failed())."""
    opts = options(args)
    unknown = [k for k in opts.models if k not in model_cases(h)]
    if unknown or not opts.models:
        raise UsageError(f"unknown model(s) {', '.join(unknown) or '(none given)'} (models: "
                         f"{', '.join(model_cases(h))})")
    missing = missing_tools(opts.servers)
    if missing:
        raise UsageError(f"missing: {', '.join(missing)} (run `make setup`; wrk and taskset are Debian packages "
                         "wrk and util-linux)")
    work = h.WORK / "serve"
    work.mkdir(parents=True, exist_ok=True)
    say(f"server benchmark: servers on cores {opts.server_cpus}, wrk on cores {opts.client_cpus}")
    out = {"opts": opts, "models": [], "meta": meta(h)}
    for key in opts.models:
        model = prepare(key, h, work, opts.rows, "cpp" in opts.servers, say)
        say(f"serving {key}")
        out["models"].append(bench_model(model, opts, work, h, say))
    return out


def json_results(results: dict) -> list:
    """Every cell's numbers, per model and server, for a results file."""
    return [{"model": m["model"].key, "server": s["server"], "error": s["error"], "max_abs_diff": s["max_diff"],
             "cells": [{"rows": c.rows, "clients": c.clients, "req_s": c.req_s, "p50_ms": c.p50_ms,
                        "p99_ms": c.p99_ms, "vs_fastapi_ort": c.ratio, "runs": c.runs} for c in s["cells"]]}
            for m in results["models"] for s in m["servers"]]


def failed(results: dict) -> list:
    return [f"{m['model'].key} {s['server']}" for m in results["models"] for s in m["servers"] if s["error"]]


# --------------------------------------------------------------------------- reporting


def meta(h) -> dict:
    import fastapi
    import uvicorn

    def first_line(cmd):
        try:
            p = subprocess.run(cmd, capture_output=True, text=True)
            return (p.stdout or p.stderr).strip().splitlines()[0]
        except (OSError, IndexError):
            return "unknown"
    have = {m: importlib.util.find_spec(m) is not None for m in ("uvloop", "httptools")}
    return {"machine": h.machine_info(), "tol": h.VALUE_TOL, "python": platform.python_version(),
            "fastapi": fastapi.__version__, "uvicorn": uvicorn.__version__, "loop": "uvloop" if have["uvloop"] else "asyncio",
            "http": "httptools" if have["httptools"] else "h11",
            "java": first_line(["java", "-version"]), "wrk": first_line(["wrk", "-v"]).split(" [")[0]}


def fmt_num(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}"


def table(res: dict) -> list:
    """The markdown table of one model: a row per server, request size and client count."""
    cells = {(c.server, c.rows, c.clients): c for s in res["servers"] for c in s["cells"]}
    lines = ["| Server | rows/request | clients | req/s | rows/s | p50 ms | p99 ms | req/s vs FastAPI + ORT |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    rows = sorted({c[1] for c in cells})
    clients = sorted({c[2] for c in cells})
    for rows_n in rows:
        for s in res["servers"]:
            if s["error"]:
                continue
            for n in clients:
                c = cells.get((s["server"], rows_n, n))
                if c is None:
                    continue
                ratio = f"{c.ratio:.2f}x" if c.ratio is not None else "–"
                lines.append(f"| {SERVERS[s['server']]} | {rows_n} | {n} | {fmt_num(c.req_s)} "
                             f"| {fmt_num(c.req_s * rows_n)} | {c.p50_ms:.2f} | {c.p99_ms:.2f} | {ratio} |")
    for s in res["servers"]:
        if s["error"]:
            first = s["error"].strip().splitlines()[0][:400]
            lines.append(f"| {SERVERS[s['server']]} | | | failed: {first.replace('|', '/')} | | | | |")
    return lines


def method(results: dict) -> list:
    opts, m = results["opts"], results["meta"]
    n = len(opts.server_cpus)
    cpus = ",".join(map(str, opts.server_cpus))
    wcpus = ",".join(map(str, opts.client_cpus))
    return [
        f"- Machine: {m['machine']['cpu']}, {m['machine']['cores']} cores; load average at the start "
        f"{m['machine']['load']}. Each server runs on core(s) {cpus} (`taskset -c {cpus}`), wrk "
        f"({m['wrk']}) on core(s) {wcpus}, over loopback."
        + (f" The JVM is started with `{' '.join(opts.java_opts)}`." if opts.java_opts else ""),
        f"- Same cores, same parallelism: the generated servers get `--threads {n}` and uvicorn "
        f"`--workers {n}` ({n} worker process{'es' if n > 1 else ''}, one per core of the server; each "
        "computes on one thread: ONNX Runtime with `intra_op_num_threads=1`, the forest with `n_jobs=1`). "
        "Java and C++ are started as documented (`java -jar <name>.jar serve --port 0 --threads N`, "
        "`cpp/bin/<name> serve --port 0 --threads N`); the Python servers are "
        f"`benchmarks/serve_fastapi_app.py` under `uvicorn --workers {n} --no-access-log` (uvicorn "
        f"{m['uvicorn']} with {m['loop']} and {m['http']}"
        + (", as `pip install uvicorn` installs it; `uvicorn[standard]`'s uvloop and httptools are not "
           "installed" if m["http"] == "h11" else "")
        + f"; FastAPI {m['fastapi']}, Python {m['python']}): a pydantic model of the JSON rows, a pandas "
          "DataFrame of the model's columns as float32, one `session.run` or `predict_proba` per request, "
          "the answer as a dict of the same shape as the generated servers' answer.",
        f"- Load: `wrk -c C -d {opts.duration}s --latency` with `benchmarks/serve_bench.lua`, C = the "
        "clients, each a keep-alive connection that sends its next request as soon as the last answer "
        "arrived (a closed loop: req/s is the throughput at that concurrency). The requests cycle "
        f"through {MAX_BODIES} distinct JSON bodies of `{{\"rows\": [...]}}` per size (run.py's benchmark "
        "rows, floats written as the shortest text of their float32 value). All servers run at once (idle "
        "but for the one under load); after an untimed warm-up of each "
        f"({opts.warmup:g} s of load per request size, for the JVM's JIT), every cell is measured in "
        f"{opts.rounds} rounds, each running wrk once on every server in an order that rotates from "
        "round to round, so that load changes on a shared machine fall on all servers alike. req/s is "
        "all requests over all rounds' time; p50 and p99 are the medians over rounds of wrk's "
        "percentiles; \"vs FastAPI + ORT\" is the median over rounds of the server's req/s over FastAPI + "
        "ONNX Runtime's in the same round (higher is faster).",
        f"- Checked: before the load, every body is sent once and each answer must be 200 with the same "
        f"predictions as scikit-learn (values within {m['tol']:g}, labels equal); under load, "
        "any non-2xx answer, socket error or timeout (over 10 s) fails the server, and the run.",
    ]


def section(results: dict, heading: str = "##") -> list:
    out = [f"{heading} HTTP servers", ""]
    for res in results["models"]:
        model = res["model"]
        out += [f"{heading}# {model.title}", ""] + table(res) + [""]
    return out + [f"{heading}# Method (HTTP servers)", ""] + method(results) + [""]


def console(results: dict) -> str:
    out = []
    for res in results["models"]:
        out.append(f"\n{res['model'].title}")
        out += ["  " + " | ".join(c.strip() for c in line.strip("|").split("|"))
                for line in table(res) if not line.startswith("|---")]
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_arguments(ap)
    ap.add_argument("--out", default="", help="also write the markdown section to this file")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)   # so that the servers are stopped
    sys.path.insert(0, str(BENCH))
    import run as h  # noqa: E402 - benchmarks/run.py: the models, data, tolerance and comparison
    t0 = time.time()

    def say(msg):
        print(f"[{time.time() - t0:6.1f}s] {msg}", flush=True)
    try:
        results = bench(args, h, say)
    except BenchError as exc:
        print(f"serve_bench: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    finally:
        _stop_all()
    text = "\n".join(section(results))
    print("\n" + text)
    if args.out:
        Path(args.out).write_text(text + "\n")
    bad = failed(results)
    if bad:
        print(f"serve_bench: failed: {', '.join(bad)} (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
