"""`java -jar <name>.jar serve --shadow OTHER_DIR`: two compiled models in one server process.
The answers are the primary's; the shadow's differences (counted on /metrics, listed on
/shadow, written to the log) are checked against the two jars' own CSV programs on the same
rows."""
from __future__ import annotations

import csv
import http.client
import io
import json
import re
import shutil
import signal
import subprocess
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from helpers import classic_data, compile_and_check

pytestmark = pytest.mark.skipif(shutil.which("java") is None or shutil.which("javac") is None,
                                reason="needs a JDK")

JAVA = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
LABELS = np.array(["low", "mid", "top"], dtype=object)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> dict:
    """Artifact directories: two versions of the classifier "clf" (the same class name in both
    jars), one over other columns, one regressor (no output in common)."""
    X, _, y3, _ = classic_data()
    out = {}
    models = {
        "v1": (LogisticRegression(max_iter=500).fit(X, LABELS[y3]), X),
        "v2": (LogisticRegression(C=0.002, max_iter=500).fit(X, LABELS[y3]), X),
        "fewer": (LogisticRegression(max_iter=500).fit(X[:, :4], LABELS[y3]), None),
        "reg": (LinearRegression().fit(X, y3.astype(float)), None),
    }
    for key, (est, _) in models.items():
        d = tmp_path_factory.mktemp(f"shadow_{key}")
        compile_and_check(est, d, targets=("java",), name="clf")
        out[key] = d / "out"
    out["X"] = X
    return out


def start(jar: Path, *args):
    """(process, port, start line) of `serve --port 0 ARGS`."""
    proc = subprocess.Popen([*JAVA, "-jar", str(jar), "serve", "--port", "0", *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    m = re.match(r"serving \S+ on http://127\.0\.0\.1:(\d+)", line)
    assert m, (line, proc.stderr.read() if proc.poll() is not None else "")
    return proc, int(m.group(1)), line


def stop(proc) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=40)
    finally:
        proc.stderr.close()


def request(port, method, path, body=None, ctype=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, body=body.encode() if body else None,
                     headers={"Content-Type": ctype} if ctype else {})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def jar(d: Path) -> Path:
    return d / "java" / "clf.jar"


def csv_rows(jar_path: Path, text: str) -> list[dict]:
    r = subprocess.run([*JAVA, "-jar", str(jar_path)], input=text, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return list(csv.DictReader(io.StringIO(r.stdout)))


def metric_values(text: str) -> dict:
    return {x.rsplit(" ", 1)[0]: float(x.rsplit(" ", 1)[1]) for x in text.splitlines() if x and x[0] != "#"}


def test_shadow_answers_with_the_primary_and_counts_the_differences(artifacts, tmp_path):
    X = artifacts["X"]
    rows = X[:60]
    names = [f"f{i}" for i in range(X.shape[1])]
    text = ",".join(names) + "\n" + "".join(",".join(repr(float(v)) for v in r) + "\n" for r in rows)
    want1 = csv_rows(jar(artifacts["v1"]), text)
    want2 = csv_rows(jar(artifacts["v2"]), text)
    outputs = list(want1[0])
    flips = sum(a["label"] != b["label"] for a, b in zip(want1, want2))
    differing = [i for i, (a, b) in enumerate(zip(want1, want2)) if a != b]
    assert flips > 0 and len(differing) > flips  # the two versions really differ

    log = tmp_path / "log.jsonl"
    proc, port, line = start(jar(artifacts["v1"]), "--shadow", artifacts["v2"], "--log", log,
                             "--log-sample", 0)
    try:
        assert line.rstrip("\n").endswith(" (shadow: clf)"), line
        # JSON rows (first 20), columns (next 20), CSV (last 20): the primary's answers.
        doc = {"rows": [dict(zip(names, map(float, r))) for r in rows[:20]]}
        status, body = request(port, "POST", "/predict", json.dumps(doc), "application/json")
        assert status == 200
        for got, want in zip(json.loads(body)["rows"], want1[:20]):
            assert got["label"] == want["label"] and all(  # float32 outputs, as exact doubles
                np.float32(want[k]) == np.float32(got[k]) for k in outputs if k != "label")
        doc = {"columns": {n: [float(v) for v in rows[20:40, j]] for j, n in enumerate(names)}}
        status, body = request(port, "POST", "/predict", json.dumps(doc), "application/json")
        assert status == 200 and json.loads(body)["columns"]["label"] == [w["label"] for w in want1[20:40]]
        part = ",".join(names) + "\n" + "".join(text.splitlines(True)[41:61])
        status, body = request(port, "POST", "/predict", part, "text/csv")
        assert status == 200 and list(csv.DictReader(io.StringIO(body))) == want1[40:60]
        # A bad request: the primary refuses it, the shadow never sees it.
        status, _ = request(port, "POST", "/predict", '{"rows": [{"f0": "x"}]}', "application/json")
        assert status == 400

        status, body = request(port, "GET", "/shadow")
        assert status == 200
        report = json.loads(body)
        assert report["shadow"] == "clf" and report["rows"] == 60 and report["errors"] == 0
        assert report["rows_differing"] == len(differing)
        assert report["outputs"]["label"] == {"differing": flips}
        for k in outputs[1:]:
            diffs = [abs(float(a[k]) - float(b[k])) for a, b in zip(want1, want2)]
            assert report["outputs"][k]["differing"] == sum(d > 0 for d in diffs)
            assert report["outputs"][k]["max_abs_difference"] == pytest.approx(max(diffs), rel=1e-6)
        # The 20 most recent differing rows: inputs, both models' outputs.
        sample = report["sample"]
        assert len(sample) == min(20, len(differing))
        last = differing[-1]
        assert sample[-1]["inputs"] == dict(zip(names, map(float, rows[last])))
        assert sample[-1]["outputs"]["label"] == want1[last]["label"]
        assert sample[-1]["shadow"]["label"] == want2[last]["label"]

        status, body = request(port, "GET", "/metrics")
        v = metric_values(body)
        assert v["modelport_shadow_rows_total"] == 60
        assert v["modelport_shadow_rows_differing_total"] == len(differing)
        assert v['modelport_shadow_differences_total{output="label"}'] == flips
        assert v["modelport_shadow_errors_total"] == 0
        assert v[f'modelport_shadow_max_abs_difference{{output="{outputs[1]}"}}'] == pytest.approx(
            report["outputs"][outputs[1]]["max_abs_difference"])
        assert 'modelport_shadow_max_abs_difference{output="label"}' not in v
    finally:
        assert stop(proc) == 0
    # --log-sample 0, yet the three requests with differences are logged, with the shadow's rows.
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(entries) == 3
    e = entries[0]
    assert list(e) == ["time", "rows", "inputs", "outputs", "error", "ms", "shadow"]
    assert e["shadow"]["error"] is None
    assert e["shadow"]["differing"] == [i for i in differing if i < 20]
    assert [r["label"] for r in e["shadow"]["outputs"]] == [w["label"] for w in want2[:20]]
    assert entries[2]["shadow"]["differing"] == [i - 40 for i in differing if i >= 40]


def test_an_identical_shadow_finds_nothing_and_logs_only_the_sample(artifacts, tmp_path):
    log = tmp_path / "log.jsonl"
    proc, port, _ = start(jar(artifacts["v1"]), "--shadow", artifacts["v1"], "--log", log, "--log-sample", 0)
    try:
        doc = {"rows": [{"f0": 1.5, "f1": None, "f2": "NaN", "f3": -2, "f4": 1e300}, {"f0": 0}]}
        status, _ = request(port, "POST", "/predict", json.dumps(doc), "application/json")
        assert status == 200
        report = json.loads(request(port, "GET", "/shadow")[1])
        assert (report["rows"], report["rows_differing"], report["sample"]) == (2, 0, [])
        assert all(o["differing"] == 0 for o in report["outputs"].values())
    finally:
        assert stop(proc) == 0
    assert log.read_text() == ""


def test_without_shadow_there_is_no_shadow_path_or_metric(artifacts):
    proc, port, line = start(jar(artifacts["v1"]))
    try:
        assert "shadow" not in line
        assert request(port, "GET", "/shadow")[0] == 404
        assert "modelport_shadow" not in request(port, "GET", "/metrics")[1]
    finally:
        assert stop(proc) == 0


@pytest.mark.parametrize("other, message", [
    ("fewer", r'the shadow model\'s input columns differ from this model\'s: missing "f4"'),
    ("reg", "the two models have no output column in common"),
    ("nowhere", r"no Java model found \(expected .*<name>\.jar"),
])
def test_a_shadow_that_cannot_be_compared_is_refused_at_start(artifacts, tmp_path, other, message):
    d = artifacts[other] if other in artifacts else tmp_path / "nowhere"
    r = subprocess.run([*JAVA, "-jar", str(jar(artifacts["v1"])), "serve", "--port", "0", "--shadow", str(d)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr
    assert re.fullmatch(rf"error: --shadow {re.escape(str(d))}: {message}.*\n", r.stderr, re.S), r.stderr
    # ... and the other way round: more columns in the shadow than here.
    if other == "fewer":
        r = subprocess.run([*JAVA, "-jar", str(jar(artifacts["fewer"])), "serve", "--port", "0", "--shadow",
                            str(artifacts["v1"])], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2 and 'extra "f4"' in r.stderr, r.stderr
