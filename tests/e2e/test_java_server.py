"""`java -jar <name>.jar serve` and `--stream`: the HTTP API (docs/serving.md) on real jars,
real servers on loopback ports and real clients. Every answer is compared with what the same
jar's CSV program prints for the same rows; errors carry the CSV program's messages."""
from __future__ import annotations

import csv
import http.client
import io
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from helpers import classic_data, compile_and_check

pytestmark = pytest.mark.skipif(shutil.which("java") is None or shutil.which("javac") is None,
                                reason="needs a JDK")

JAVA = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
LABELS = np.array(["low", 'mid, "high"', "top"], dtype=object)
SPECIES = ["setosa", "versicolor", "virginica"]
IRIS_FIT = "lm(Sepal.Length ~ Sepal.Width + Petal.Length + Species, data = iris)"


# ---------------------------------------------------------------------------------------------
# Models, programs, servers
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def clf(tmp_path_factory) -> Path:
    """A 3-class LogisticRegression over f0..f4 whose labels are strings (one with a comma and
    quotes); returns its jar."""
    X, _, y3, _ = classic_data()
    est = LogisticRegression(max_iter=500).fit(X, LABELS[y3])
    d = tmp_path_factory.mktemp("server_clf")
    compile_and_check(est, d, targets=("java",), name="clf")
    return d / "out" / "java" / "clf.jar"


@pytest.fixture(scope="module")
def iris(tmp_path_factory) -> Path:
    """R's lm with the factor Species: a closed string column."""
    pytest.importorskip("rpy2", reason="the string-column model is fitted in R")
    from r_helpers import fit_and_check
    d = tmp_path_factory.mktemp("server_iris")
    fit_and_check(IRIS_FIT, "iris", d, targets=("java",), name="irislm")
    return d / "out" / "java" / "irislm.jar"


class Server:
    """A `serve` process on a free loopback port (read from its first stderr line)."""

    def __init__(self, jar: Path, *args):
        self.proc = subprocess.Popen([*JAVA, "-jar", str(jar), "serve", "--port", "0", *map(str, args)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        m = re.fullmatch(r"serving (\S+) on http://127\.0\.0\.1:(\d+)\n", line)
        assert m, (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.name, self.port = m.group(1), int(m.group(2))

    def request(self, method, path, body=None, ctype=None, headers=None, conn=None):
        """(status, headers, body text) over a new connection, or `conn`."""
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            h = dict(headers or {})
            if ctype:
                h["Content-Type"] = ctype
            data = body.encode() if isinstance(body, str) else body
            conn.request(method, path, body=data, headers=h)
            r = conn.getresponse()
            return r.status, r.headers, r.read().decode()
        finally:
            if own:
                conn.close()

    def predict_json(self, doc):
        status, headers, text = self.request("POST", "/predict", json.dumps(doc), "application/json")
        assert headers["Content-Type"].startswith("application/json"), headers
        return status, json.loads(text)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        finally:
            self.proc.stderr.close()


@pytest.fixture(scope="module")
def clf_server(clf, tmp_path_factory):
    log = tmp_path_factory.mktemp("server_log") / "requests.jsonl"
    s = Server(clf, "--threads", 8, "--max-body", 65536, "--log", log, "--log-sample", "1.0")
    s.log = log
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def iris_server(iris):
    s = Server(iris)
    yield s
    assert s.stop() == 0


def csv_program(jar: Path, text: str, *args):
    r = subprocess.run([*JAVA, "-jar", str(jar), *args], input=text.encode(), capture_output=True, timeout=120)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def write_csv(header, rows) -> str:
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(["" if v is None else v for v in row] for row in rows)
    return buf.getvalue()


def read_csv(text: str):
    rows = list(csv.reader(io.StringIO(text, newline="")))
    return rows[0], rows[1:]


def clf_rows(n=40, seed=1):
    """Rows of f0..f4 as Python floats (repr round-trips), some missing (None)."""
    rng = np.random.RandomState(seed)
    X = rng.randn(n, 5).astype(np.float32).astype(float)
    rows = [[float(v) for v in r] for r in X]
    for i in range(0, n, 7):
        rows[i][i % 5] = None
    return rows


FEATURES = [f"f{i}" for i in range(5)]


def expected(jar, header, rows):
    """The CSV program's answer for the rows: (output header, rows of text)."""
    rc, out, err = csv_program(jar, write_csv(header, rows))
    assert rc == 0, err
    return read_csv(out)


def same(json_value, csv_text, dtype) -> bool:
    """A JSON answer value equals the CSV program's field: the same string, or the same number
    (a float32 output as the exact double it widens to; NaN as null)."""
    if isinstance(json_value, str):
        return dtype == "string" and json_value == csv_text
    if json_value is None:
        return csv_text in ("NaN", "inf", "-inf", "")
    if isinstance(json_value, bool):
        return False
    want = float(np.float32(float(csv_text))) if dtype == "float32" else float(csv_text)
    return float(json_value) == want


def output_types(server) -> dict:
    return {c["name"]: c["type"] for c in json.loads(server.request("GET", "/schema")[2])["outputs"]}


def check_rows(answer_rows, out_header, out_rows, types):
    assert len(answer_rows) == len(out_rows)
    for got, want in zip(answer_rows, out_rows):
        assert list(got) == out_header
        assert all(same(got[k], v, types[k]) for k, v in zip(out_header, want)), (got, want)


# ---------------------------------------------------------------------------------------------
# Answers
# ---------------------------------------------------------------------------------------------

def test_rows_columns_and_csv_answer_as_the_csv_program(clf, clf_server):
    rows = clf_rows()
    out_header, out_rows = expected(clf, FEATURES, rows)
    assert out_header == ["label", "prob_low", 'prob_mid, "high"', "prob_top"]

    status, doc = clf_server.predict_json({"rows": [{k: v for k, v in zip(FEATURES, r)} for r in rows]})
    assert status == 200 and list(doc) == ["rows"]
    check_rows(doc["rows"], out_header, out_rows, output_types(clf_server))
    assert {r["label"] for r in doc["rows"]} <= set(LABELS)

    # Missing keys are missing values, as null is; keys in any order.
    status, doc2 = clf_server.predict_json({"rows": [{k: v for k, v in reversed(list(zip(FEATURES, r)))
                                                      if v is not None} for r in rows]})
    assert status == 200 and doc2 == doc

    columns = {k: [r[j] for r in rows] for j, k in enumerate(FEATURES)}
    status, doc = clf_server.predict_json({"columns": columns})
    assert status == 200 and list(doc) == ["columns"] and list(doc["columns"]) == out_header
    check_rows([dict(zip(out_header, vals)) for vals in zip(*doc["columns"].values())], out_header, out_rows,
               output_types(clf_server))

    text = write_csv(FEATURES, rows)
    status, headers, body = clf_server.request("POST", "/predict", text, "text/csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert body == csv_program(clf, text)[1]  # byte for byte

    # No rows: the empty answer in each form.
    assert clf_server.predict_json({"rows": []}) == (200, {"rows": []})
    assert clf_server.predict_json({"columns": {k: [] for k in FEATURES}}) == \
        (200, {"columns": {k: [] for k in out_header}})


def test_numbers_parse_as_the_csv_program_reads_them(clf, clf_server):
    """JSON number tokens reach the model as their text would in CSV (nearest double, then
    float32 for a float32 input); numbers sent as strings read as CSV fields ("NaN", " 1.5")."""
    texts = ["1.8685027956962585", "-0.0", "1e-7", "2.5E+3", "0.1", "123456789.123456789"]
    rows = [[t] * 5 for t in texts]
    out_header, out_rows = expected(clf, FEATURES, rows)
    body = '{"rows": [' + ",".join("{" + ",".join(f'"{k}": {t}' for k in FEATURES) + "}" for t in texts) + "]}"
    status, headers, text = clf_server.request("POST", "/predict", body, "application/json")
    assert status == 200
    check_rows(json.loads(text)["rows"], out_header, out_rows, output_types(clf_server))

    strings = [[" 0.5", "NaN", "", "inf", "-1.25"]]
    out_header, out_rows = expected(clf, FEATURES, strings)
    status, doc = clf_server.predict_json({"rows": [dict(zip(FEATURES, strings[0]))]})
    assert status == 200
    check_rows(doc["rows"], out_header, out_rows, output_types(clf_server))


def test_string_columns(iris, iris_server):
    rows = [[3.5, 1.4, "setosa"], [3.0, 5.1, "virginica"], [2.8, 4.0, "versicolor"], [3.1, 4.4, None],
            [None, 4.4, "versicolor"]]
    header = ["Sepal.Width", "Petal.Length", "Species"]
    out_header, out_rows = expected(iris, header, rows)
    assert out_header == ["prediction"]
    status, doc = iris_server.predict_json({"rows": [dict(zip(header, r)) for r in rows]})
    assert status == 200
    check_rows(doc["rows"], out_header, out_rows, output_types(iris_server))
    assert doc["rows"][3]["prediction"] is None and doc["rows"][0]["prediction"] is not None
    status, doc = iris_server.predict_json({"columns": {h: [r[j] for r in rows] for j, h in enumerate(header)}})
    assert status == 200 and len(doc["columns"]["prediction"]) == len(rows)
    text = write_csv(header, rows)
    status, _, body = iris_server.request("POST", "/predict", text, "text/csv; charset=utf-8")
    assert status == 200 and body == csv_program(iris, text)[1]


# ---------------------------------------------------------------------------------------------
# Refusals
# ---------------------------------------------------------------------------------------------

def csv_message(jar, text):
    """The CSV program's message for a bad input, without "error: "."""
    rc, _, err = csv_program(jar, text)
    assert rc == 2 and err.startswith("error: "), err
    return err.splitlines()[0][len("error: "):]


def refused(server, body, ctype="application/json", status=400):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    code, headers, text = server.request("POST", "/predict", data, ctype)
    assert code == status, text
    assert headers["Content-Type"].startswith("application/json")
    doc = json.loads(text)
    assert list(doc) == ["error", "row", "column"]
    return doc


def test_bad_values_get_the_csv_programs_messages(clf, iris, clf_server, iris_server):
    rows = clf_rows(4)
    good = dict(zip(FEATURES, rows[1]))
    assert refused(clf_server, {"rows": [good, {**good, "f2": "abc"}]}) == \
        {"error": 'row 2, column "f2": cannot parse "abc" as a number', "row": 2, "column": "f2"}
    assert refused(clf_server, {"columns": {k: [1.0, True] for k in FEATURES}}) == \
        {"error": 'row 2, column "f0": cannot parse "true" as a number', "row": 2, "column": "f0"}
    bad_csv = write_csv(FEATURES, [rows[0], rows[1][:2] + ["1.5x"] + rows[1][3:]])
    doc = refused(clf_server, bad_csv, "text/csv")
    assert doc == {"error": csv_message(clf, bad_csv), "row": 2, "column": "f2"}
    assert doc["error"] == 'row 2 (line 3), column "f2": cannot parse "1.5x" as a number'
    short = write_csv(FEATURES, [rows[0], rows[1][:3]])
    assert refused(clf_server, short, "text/csv") == {"error": csv_message(clf, short), "row": 2, "column": None}

    header = ["Sepal.Width", "Petal.Length", "Species"]
    known = ", ".join(f'"{s}"' for s in SPECIES)
    doc = refused(iris_server, {"rows": [{"Sepal.Width": 3, "Petal.Length": 1, "Species": "setosa"},
                                         {"Sepal.Width": 3, "Petal.Length": 1, "Species": "Setosa"}]})
    assert doc == {"error": f'row 2, column "Species": unknown level "Setosa" (known levels: {known})',
                   "row": 2, "column": "Species"}
    text = write_csv(header, [[3, 1, "setosa"], [3, 1, "Setosa"]])
    assert refused(iris_server, text, "text/csv") == \
        {"error": csv_message(iris, text), "row": 2, "column": "Species"}
    # UTF-8 both ways; JSON escapes are the characters they stand for.
    text = write_csv(header, [[3, 1, "s\u00e9tosa"]])
    assert refused(iris_server, text.encode(), "text/csv")["error"] == csv_message(iris, text)
    assert refused(iris_server, '{"rows": [{"Species": "s\\u00e9tosa\\ud83d\\ude00"}]}')["error"] == \
        f'row 1, column "Species": unknown level "s\u00e9tosa\U0001F600" (known levels: {known})'
    assert iris_server.predict_json({"rows": [{"Sepal.Width": 3, "Petal.Length": 1, "Species": "set\u006fsa"}]}) \
        == iris_server.predict_json({"rows": [{"Sepal.Width": 3, "Petal.Length": 1, "Species": "setosa"}]})


def test_bad_column_sets_get_the_csv_programs_messages(clf, clf_server):
    missing = write_csv(FEATURES[:3] + ["zz"], [[1, 2, 3, 4]])
    message = csv_message(clf, missing)
    assert message.startswith('line 1 (header): missing input columns "f3", "f4" (the model needs "f0"')
    assert refused(clf_server, missing, "text/csv") == {"error": message, "row": None, "column": "f3"}
    # The JSON forms have no lines: the same message without its location.
    located = message[len("line 1 (header): "):]
    assert refused(clf_server, {"columns": {k: [1.0] for k in FEATURES[:3]}}) == \
        {"error": located, "row": None, "column": "f3"}
    unknown = 'unknown input column "zz" (pass --allow-extra-columns to ignore extra columns)'
    assert refused(clf_server, {"rows": [{"f0": 1.0}, {"zz": 2.0}]}) == \
        {"error": unknown, "row": None, "column": "zz"}
    assert csv_message(clf, write_csv(FEATURES + ["zz"], [[1] * 6])).endswith(unknown)
    assert refused(clf_server, {"rows": [{}], "extra": 1})["error"] == \
        'unknown key "extra" in the request (expected "rows" or "columns")'
    assert refused(clf_server, '{"rows": [{"f0": 1, "f0": 2}]}') == \
        {"error": 'row 1: duplicate column name "f0"', "row": 1, "column": "f0"}
    assert refused(clf_server, {"columns": {"f0": [1, 2], "f1": [1]}})["error"] == \
        'column "f1" has 1 values, column "f0" has 2'
    assert refused(clf_server, {"rows": [[1, 2, 3, 4, 5]]})["error"] == "row 1: expected an object"
    assert refused(clf_server, {"rows": [{"f0": [1]}]})["error"] == \
        'row 1, column "f0": expected a number, a string or null'
    assert refused(clf_server, [1])["error"].startswith("the request must be a JSON object")


def test_protocol_errors_and_the_server_goes_on(clf, clf_server):
    for body in ['{"rows": [', '{"rows": [{"f0": 01}]}', '{"rows": [{"f0": NaN}]}', "", '{"rows": []} x']:
        doc = refused(clf_server, body)
        assert doc["error"].startswith("invalid JSON at character ") and doc["row"] is None, doc
    assert refused(clf_server, "x" * 100_000, "text/csv", 413)["error"] == \
        "request body larger than 65536 bytes (the server's --max-body)"
    assert refused(clf_server, "f0\n1\n", "text/plain", 415)["error"] == \
        'unsupported content type "text/plain" (use application/json or text/csv)'
    assert refused(clf_server, "{}", None, 415)["error"].startswith("missing Content-Type")
    status, _, text = clf_server.request("GET", "/nowhere")
    assert status == 404 and json.loads(text)["error"].startswith('no such path "/nowhere"')
    status, headers, text = clf_server.request("GET", "/predict")
    assert status == 405 and headers["Allow"] == "POST" and "GET" in json.loads(text)["error"]
    status, headers, _ = clf_server.request("POST", "/health", "{}", "application/json")
    assert status == 405 and headers["Allow"] == "GET"
    # Still serving, on a kept-alive connection too.
    conn = http.client.HTTPConnection("127.0.0.1", clf_server.port, timeout=60)
    for _ in range(3):
        assert clf_server.request("GET", "/health", conn=conn)[0] == 200
        assert refused(clf_server, "{", status=400)
    rows = clf_rows(3)
    out_header, out_rows = expected(clf, FEATURES, rows)
    status, doc = clf_server.predict_json({"rows": [dict(zip(FEATURES, r)) for r in rows]})
    assert status == 200
    check_rows(doc["rows"], out_header, out_rows, output_types(clf_server))
    conn.close()


def test_bad_serve_options_exit_2_with_usage(clf):
    for args in (["--port", "x"], ["--port", "70000"], ["--threads", "0"], ["--log-sample", "2"], ["--bogus"],
                 ["--host"]):
        r = subprocess.run([*JAVA, "-jar", str(clf), "serve", *args], capture_output=True, text=True, timeout=60)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("error: ") and "Usage: clf" in r.stderr and " serve " in r.stderr, r.stderr


def test_serve_options_extra_columns_sampling_and_sigint(clf, tmp_path):
    log = tmp_path / "none.jsonl"
    server = Server(clf, "--allow-extra-columns", "--log", log, "--log-sample=0", "--threads=2")
    try:
        rows = clf_rows(2)
        out_header, out_rows = expected(clf, FEATURES, rows)
        status, doc = server.predict_json({"rows": [{**dict(zip(FEATURES, r)), "id": i} for i, r in enumerate(rows)]})
        assert status == 200
        check_rows(doc["rows"], out_header, out_rows, output_types(server))
        text = write_csv(["id", *FEATURES], [[i, *r] for i, r in enumerate(rows)])
        status, _, body = server.request("POST", "/predict", text, "text/csv")
        assert status == 200 and body == csv_program(clf, text, "--allow-extra-columns")[1]
        server.proc.send_signal(signal.SIGINT)
        assert server.proc.wait(timeout=30) == 0
        assert log.read_text() == ""  # sampled at 0
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# Concurrency, schema, health, metrics, log
# ---------------------------------------------------------------------------------------------

def test_concurrent_clients_each_get_their_answer(clf, clf_server):
    rows = clf_rows(240, seed=7)
    out_header, out_rows = expected(clf, FEATURES, rows)
    types = output_types(clf_server)

    def client(c):
        conn = http.client.HTTPConnection("127.0.0.1", clf_server.port, timeout=60)
        try:
            for i in range(c, len(rows), 48):  # client c sends every 16th row, 3 at a time
                chunk = list(range(i, min(i + 48, len(rows)), 16))
                body = json.dumps({"rows": [dict(zip(FEATURES, rows[j])) for j in chunk]})
                status, _, text = clf_server.request("POST", "/predict", body, "application/json", conn=conn)
                assert status == 200, text
                check_rows(json.loads(text)["rows"], out_header, [out_rows[j] for j in chunk], types)
            return True
        finally:
            conn.close()

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(client, range(16)))


def test_answers_are_not_held_back_on_a_kept_alive_connection(clf_server):
    """Each answer leaves at once (TCP_NODELAY): without it, Nagle's algorithm and the client's
    delayed ACK hold every answer ~40 ms. The fastest of 20 requests shows it, whatever the load."""
    conn = http.client.HTTPConnection("127.0.0.1", clf_server.port, timeout=60)
    body = json.dumps({"rows": [{f"f{i}": 0.5 for i in range(5)}]})
    times = []
    try:
        for _ in range(20):
            t0 = time.perf_counter()
            status, _, _ = clf_server.request("POST", "/predict", body, "application/json", conn=conn)
            times.append(time.perf_counter() - t0)
            assert status == 200
    finally:
        conn.close()
    assert min(times) < 0.02, times


def test_schema_health_ready(clf, iris, clf_server, iris_server):
    status, headers, text = iris_server.request("GET", "/schema")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    doc = json.loads(text)
    assert doc["name"] == "irislm"
    assert [c["name"] for c in doc["inputs"]] == ["Sepal.Width", "Petal.Length", "Species"]
    assert doc["inputs"][2]["type"] == "string" and doc["inputs"][2]["levels"] == SPECIES
    assert "levels" not in doc["inputs"][0] and doc["inputs"][0]["type"] == "float64"
    assert [c["name"] for c in doc["outputs"]] == ["prediction"]
    assert doc["description"] == csv_program(iris, "", "--schema")[1]
    doc = json.loads(clf_server.request("GET", "/schema")[2])
    assert [c["name"] for c in doc["outputs"]] == ["label", "prob_low", 'prob_mid, "high"', "prob_top"]
    assert doc["outputs"][0]["type"] == "string"
    for server in (clf_server, iris_server):
        assert server.request("GET", "/health")[::2] == (200, '{"status":"ok"}')
        assert server.request("GET", "/ready")[::2] == (200, '{"status":"ready"}')


METRIC_LINE = re.compile(r'([a-z_]+)(\{[a-z]+="[^"\\]*"(?:,[a-z]+="[^"\\]*")*\})? ([0-9.eE+-]+)')


def scrape(server) -> dict:
    status, headers, text = server.request("GET", "/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    values, helped, typed = {}, set(), {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
        elif line.startswith("# TYPE "):
            typed[line.split()[2]] = line.split()[3]
        else:
            m = METRIC_LINE.fullmatch(line)
            assert m, line
            values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    assert typed == {"modelport_requests_total": "counter", "modelport_errors_total": "counter",
                     "modelport_rows_scored_total": "counter",
                     "modelport_request_duration_seconds": "histogram"}
    assert helped == set(typed)
    buckets = [(k, v) for k, v in values.items() if k.startswith("modelport_request_duration_seconds_bucket")]
    assert [k.split('"')[1] for k, _ in buckets] == ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025",
                                                     "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    assert all(a[1] <= b[1] for a, b in zip(buckets, buckets[1:]))
    assert buckets[-1][1] == values["modelport_request_duration_seconds_count"]
    return values


def test_metrics_move(clf_server):
    before = scrape(clf_server)
    rows = clf_rows(5)
    for n in (1, 2, 5):
        assert clf_server.predict_json({"rows": [dict(zip(FEATURES, r)) for r in rows[:n]]})[0] == 200
    refused(clf_server, "{")
    after = scrape(clf_server)

    def delta(key):
        return after.get(key, 0) - before.get(key, 0)

    assert delta('modelport_requests_total{path="/predict",code="200"}') == 3
    assert delta('modelport_requests_total{path="/predict",code="400"}') == 1
    assert delta('modelport_requests_total{path="/metrics",code="200"}') == 1  # the first scrape
    assert delta("modelport_errors_total") == 1
    assert delta("modelport_rows_scored_total") == 8
    assert delta("modelport_request_duration_seconds_count") == 4
    assert delta("modelport_request_duration_seconds_sum") > 0


def test_log_writes_json_lines(clf_server):
    marker = 0.123456789
    rows = [{"f0": marker, "f1": 1.0, "f2": None, "f3": -2.0, "f4": 0.5}]
    status, doc = clf_server.predict_json({"rows": rows})
    assert status == 200
    bad = {"rows": [{"f0": marker, "f1": "oops"}]}
    assert clf_server.predict_json(bad)[0] == 400
    lines = [json.loads(line) for line in clf_server.log.read_text().splitlines()]
    assert all(list(e) == ["time", "rows", "inputs", "outputs", "error", "ms"] for e in lines)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]) for e in lines)
    ours = [e for e in lines if e["inputs"] and e["inputs"][0].get("f0") == marker]
    assert len(ours) == 2
    ok, failed = ours
    assert ok["rows"] == 1 and ok["inputs"] == rows and ok["outputs"] == doc["rows"] and ok["error"] is None
    assert isinstance(ok["ms"], float) and ok["ms"] >= 0
    assert failed["outputs"] is None and failed["inputs"] == bad["rows"]
    assert failed["error"] == {"error": 'row 1, column "f1": cannot parse "oops" as a number', "row": 1,
                               "column": "f1"}


# ---------------------------------------------------------------------------------------------
# Shutdown
# ---------------------------------------------------------------------------------------------

def test_sigterm_lets_the_request_in_flight_finish(clf):
    rows = clf_rows(3000, seed=3)
    text = write_csv(FEATURES, rows)
    want = csv_program(clf, text)[1]
    server = Server(clf)
    keep = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        assert server.request("GET", "/ready", conn=keep)[0] == 200
        body = text.encode()
        half = len(body) // 2
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:half])
        time.sleep(0.5)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert server.proc.poll() is None  # waits for the request
        assert server.request("GET", "/ready", conn=keep)[::2] == (503, '{"status":"stopping"}')
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=5).close()
        sock.sendall(body[half:])
        answer = b""
        while chunk := sock.recv(1 << 16):
            answer += chunk
        sock.close()
        head, _, rest = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        assert rest.decode() == want
        assert server.proc.wait(timeout=30) == 0
    finally:
        keep.close()
        server.stop()


# ---------------------------------------------------------------------------------------------
# --stream
# ---------------------------------------------------------------------------------------------

def test_stream_answers_each_line_before_the_next(clf):
    rows = clf_rows(12, seed=4)
    batch = csv_program(clf, write_csv(FEATURES, rows))[1].splitlines(keepends=True)
    lines = write_csv(FEATURES, rows).splitlines(keepends=True)
    p = subprocess.Popen([*JAVA, "-jar", str(clf), "--stream"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    sel = selectors.DefaultSelector()
    sel.register(p.stdout, selectors.EVENT_READ)
    buffered = b""

    def read_line():
        nonlocal buffered
        deadline = time.monotonic() + 30
        while b"\n" not in buffered:
            assert sel.select(timeout=max(0, deadline - time.monotonic())), "no answer: not flushed per line"
            chunk = os.read(p.stdout.fileno(), 1 << 16)
            assert chunk, p.stderr.read().decode()
            buffered += chunk
        line, _, buffered = buffered.partition(b"\n")
        return line.decode() + "\n"

    try:
        got = []
        for i, line in enumerate(lines):
            p.stdin.write(line.encode())
            p.stdin.flush()
            got.append(read_line())
            if i == 5:  # a bad line: its message on stderr, and the stream goes on
                p.stdin.write(b"1,2,abc,4,5\n")
                p.stdin.flush()
        assert got == batch
        p.stdin.close()
        assert p.wait(timeout=30) == 2  # a row was bad
        assert p.stdout.read() == b""
        assert p.stderr.read().decode() == \
            'error: row 6 (line 7), column "f2": cannot parse "abc" as a number\n'
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
