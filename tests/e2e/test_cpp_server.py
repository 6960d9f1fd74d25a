"""The C++ program's HTTP server (`bin/<name> serve`) and stream mode (`bin/<name> --stream`),
end to end: real compiled programs, a real server on a loopback port (--port 0), real HTTP
clients. Answers are checked against the same program's batch CSV output for the same rows,
and error messages against the CSV program's own messages for the same bad input (the jar's
server gives the same answers: test_server_parity.py)."""
from __future__ import annotations

import csv
import http.client
import io
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelport
from helpers import compile_and_check

sys.path.insert(0, str(Path(__file__).parent))
from test_closed_levels import SPECIES, source as species_source  # noqa: E402
from test_tvm_targets import two_in_two_out  # noqa: E402

CITIES = ["Oslo", "Lima", "Pune, IN"]  # a comma: CSV quoting in the CSV body


def frame(n, seed):
    rng = np.random.RandomState(seed)
    df = pd.DataFrame({"age": rng.uniform(18, 80, n).round(3), "city": rng.choice(CITIES, n).astype(object),
                       "income": rng.normal(50, 10, n)})
    df.loc[rng.rand(n) < 0.1, "city"] = np.nan
    return df


@pytest.fixture(scope="module")
def churn(tmp_path_factory):
    """A classifier with string labels over two numbers and an (open) string column."""
    d = tmp_path_factory.mktemp("churn")
    df = frame(300, 0)
    y = np.where((df.age > 40) ^ (df.city == "Lima"), "yes", "no")
    est = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                                                ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"])])),
                    ("final", LogisticRegression(max_iter=500))]).fit(df, y)
    data = d / "train.csv"
    df.to_csv(data, index=False)
    manifest = modelport.compile(est, targets=("cpp",), out=d / "out", data=data, name="churn")
    assert manifest["parity"]["passed"]
    assert "serve" not in manifest["targets"]["cpp"], manifest["targets"]["cpp"]
    return d / "out" / "cpp" / "bin" / "churn"


@pytest.fixture(scope="module")
def species(tmp_path_factory):
    """A closed string column (levels setosa, versicolor, virginica)."""
    d = tmp_path_factory.mktemp("species")
    compile_and_check(species_source(SPECIES), d, targets=("cpp",))
    return d / "out" / "cpp" / "bin" / "species"


class Server:
    """`<program> serve --port 0 ...`, its port read from the line it prints."""

    def __init__(self, program, *args):
        self.proc = subprocess.Popen([str(program), "serve", "--port", "0", *map(str, args)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stderr.readline().decode()
        m = re.fullmatch(r"serving (\S+) on http://127\.0\.0\.1:(\d+)( \(shadow: (\S+)\))?\n", line)
        assert m, line + (self.proc.stderr.read().decode() if self.proc.poll() is not None else "")
        self.name, self.port, self.shadow = m.group(1), int(m.group(2)), m.group(4)

    def request(self, method, path, body=None, ctype=None, headers=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if ctype:
            h["Content-Type"] = ctype
        data = body.encode() if isinstance(body, str) else body
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        out = (r.status, r.getheader("Content-Type"), r.read().decode())
        conn.close()
        return out

    def json(self, payload, expect=200):
        status, ctype, text = self.request("POST", "/predict", json.dumps(payload), "application/json")
        assert status == expect, text
        assert ctype == "application/json"
        return json.loads(text)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=40)


@pytest.fixture
def served(churn, tmp_path):
    s = Server(churn, "--threads", 8, "--log", tmp_path / "log.jsonl")
    yield s
    assert s.stop() == 0


def batch(program, text, *args):
    r = subprocess.run([str(program), *args], input=text.encode(), capture_output=True, timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def csv_text(df) -> str:
    return df.to_csv(index=False, lineterminator="\n")


def json_rows(df):
    """The frame as JSON rows: NaN as null (the first row: its missing city left out instead)."""
    rows = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
            for r in df.to_dict("records")]
    rows[0].pop("city")
    return rows


def same(a, b):
    """A JSON answer equals a CSV field: labels as text, numbers exactly, NaN as null."""
    if a is None:
        return b in ("NaN", "inf", "-inf")
    return a == b if isinstance(a, str) else float(b) == a


def test_json_rows_columns_and_csv_answer_as_the_batch_program(served, churn):
    df = frame(40, 1)
    df.loc[0, "city"] = np.nan
    code, out, err = batch(churn, csv_text(df))
    assert code == 0, err
    expected = list(csv.DictReader(io.StringIO(out)))
    header = out.splitlines()[0].split(",")
    assert header == ["label", "prob_no", "prob_yes"]

    rows = served.json({"rows": json_rows(df)})["rows"]
    assert len(rows) == len(df)
    for got, want in zip(rows, expected):
        assert list(got) == header
        assert all(same(got[k], want[k]) for k in header), (got, want)

    cols = {c: [None if isinstance(v, float) and math.isnan(v) else v for v in df[c]] for c in df.columns}
    answer = served.json({"columns": cols})["columns"]
    assert list(answer) == header
    for k in header:
        assert all(same(a, w[k]) for a, w in zip(answer[k], expected))

    status, ctype, text = served.request("POST", "/predict", csv_text(df), "text/csv")
    assert (status, ctype) == (200, "text/csv") and text == out
    assert served.json({"rows": []}) == {"rows": []}


def test_float32_columns_and_strings_for_numbers(tmp_path):
    """A float32 model: JSON numbers reach it as the CSV text would (numpy's float32 of the
    double); strings "NaN", "inf", "1e-3" in number columns read as CSV fields."""
    out = tmp_path / "out"
    modelport.compile(two_in_two_out(), targets=("cpp",), out=out, name="two", rows=8)
    program = out / "cpp" / "bin" / "two"
    rows = [{"a_0": 1.8685027956962585, "a_1": "NaN", "a_2": "1e-3", "b_0": -2, "b_1": 0.1},
            {"a_0": "inf", "a_1": 3, "a_2": None, "b_0": "", "b_1": 1e300}]
    text = "a_0,a_1,a_2,b_0,b_1\n1.8685027956962585,NaN,1e-3,-2,0.1\ninf,3,,,1e+300\n"
    code, want, err = batch(program, text)
    assert code == 0, err
    s = Server(program)
    try:
        got = s.json({"rows": rows})["rows"]
    finally:
        assert s.stop() == 0
    for g, w in zip(got, list(csv.DictReader(io.StringIO(want)))):
        for k, v in w.items():
            if g[k] is None:  # NaN and infinities
                assert not math.isfinite(np.float32(float(v))), (k, g, w)
            else:
                assert np.float32(g[k]) == np.float32(float(v)), (k, g, w)


def program_message(program, text, *args):
    """The CSV program's message for `text`, without "error: "."""
    code, _, err = batch(program, text, *args)
    assert code == 2, err
    assert err.startswith("error: "), err
    return err.splitlines()[0][len("error: "):]


def unplaced(message):
    """A message of the CSV program without its place (JSON requests have no lines)."""
    return re.sub(r"^(row (\d+) \(line \d+\)(?=, )|line \d+ \(header\): )", lambda m: f"row {m.group(2)}" if m.group(2)
                  else "", message)


def test_bad_input_gets_the_csv_programs_message(served, churn):
    def error(payload, status=400):
        return served.json(payload, expect=status)

    # A bad number: the CSV program's message, rows located as "row N" (no lines in JSON);
    # row and column in their own fields.
    csv_bad = "age,city,income\n1,Oslo,2\n30,Lima,abc\n"
    want = program_message(churn, csv_bad)
    assert want == 'row 2 (line 3), column "income": cannot parse "abc" as a number'
    assert error({"rows": [{"age": 1, "city": "Oslo", "income": 2}, {"age": 30, "city": "Lima", "income": "abc"}]}) \
        == {"error": unplaced(want), "row": 2, "column": "income"}
    assert unplaced(want) == 'row 2, column "income": cannot parse "abc" as a number'
    assert error({"columns": {"age": [1, 30], "city": ["Oslo", "Lima"], "income": [2, "abc"]}}) \
        == {"error": unplaced(want), "row": 2, "column": "income"}
    status, _, text = served.request("POST", "/predict", csv_bad, "text/csv")
    assert status == 400 and json.loads(text) == {"error": want, "row": 2, "column": "income"}

    # A missing column (columnar form, CSV body); an unknown key (row form, columnar form): the
    # column set has no row.
    want = program_message(churn, "age,city\n1,Oslo\n")
    assert want == 'line 1 (header): missing input column "income" (the model needs "age", "city", "income")'
    assert error({"columns": {"age": [1], "city": ["Oslo"]}}) == {"error": unplaced(want), "row": None, "column": "income"}
    status, _, text = served.request("POST", "/predict", "age,city\n1,Oslo\n", "text/csv")
    assert status == 400 and json.loads(text) == {"error": want, "row": None, "column": "income"}
    want = unplaced(program_message(churn, "age,city,income,zz\n1,Oslo,2,3\n"))
    assert want == 'unknown input column "zz" (pass --allow-extra-columns to ignore extra columns)'
    assert error({"rows": [{"age": 1}, {"age": 2, "zz": 3}]}) == {"error": want, "row": None, "column": "zz"}
    assert error({"columns": {"age": [1], "city": ["Oslo"], "income": [2], "zz": [3]}})["error"] == want
    # A row with the wrong number of fields in a CSV body.
    status, _, text = served.request("POST", "/predict", "age,city,income\n1,Oslo\n", "text/csv")
    assert status == 400 and json.loads(text) == {"error": "row 1 (line 2): expected 3 fields, found 2", "row": 1,
                                                  "column": None}

    # Malformed JSON, shapes that are no request, values of no CSV meaning.
    status, _, text = served.request("POST", "/predict", '{"rows": [', "application/json")
    assert status == 400 and json.loads(text) == {"error": "invalid JSON at character 11: unexpected end of input",
                                                  "row": None, "column": None}
    assert error({"rows": [], "extra": 1})["error"] == 'unknown key "extra" in the request (expected "rows" or "columns")'
    assert error({"table": []})["error"].startswith('unknown key "table"')
    shape = 'the request must be a JSON object with "rows" (an array of objects) or "columns" (an object of arrays)'
    assert error([1, 2])["error"] == shape and error({})["error"] == shape
    # true and false are the words, which no number column reads.
    assert error({"rows": [{"age": True}]}) == {
        "error": 'row 1, column "age": cannot parse "true" as a number', "row": 1, "column": "age"}
    assert error({"rows": [{"age": [1]}]}) == {
        "error": 'row 1, column "age": expected a number, a string or null', "row": 1, "column": "age"}
    assert error({"columns": {"age": [1, 2], "city": ["Oslo"], "income": [1, 2]}}) == {
        "error": 'column "city" has 1 values, column "age" has 2', "row": None, "column": "city"}

    # HTTP-level errors: content type, path, method.
    status, ctype, text = served.request("POST", "/predict", "x", "text/plain")
    assert (status, ctype) == (415, "application/json") and json.loads(text)["error"] == \
        'unsupported content type "text/plain" (use application/json or text/csv)'
    status, _, text = served.request("POST", "/predict", "{}")
    assert status == 415 and json.loads(text)["error"] == "missing Content-Type (use application/json or text/csv)"
    status, _, text = served.request("POST", "/predict", "{}", "application/json; charset=latin1")
    assert status == 415 and json.loads(text)["error"] == 'unsupported charset "latin1" (the body must be UTF-8)'
    status, _, text = served.request("GET", "/nowhere")
    assert status == 404 and json.loads(text) == {
        "error": 'no such path "/nowhere" (paths: /predict, /schema, /health, /ready, /metrics)', "row": None,
        "column": None}
    conn = http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)
    conn.request("GET", "/predict")
    r = conn.getresponse()
    assert (r.status, r.getheader("Allow")) == (405, "POST")
    assert json.loads(r.read()) == {"error": "method GET is not allowed on /predict (use POST)", "row": None,
                                    "column": None}
    conn.request("POST", "/health", body=b"{}")
    r = conn.getresponse()
    assert (r.status, r.getheader("Allow")) == (405, "GET") and r.read()
    # Still serving, on the same (kept-alive) connection too.
    conn.request("GET", "/health")
    assert conn.getresponse().read() == b'{"status":"ok"}'
    conn.close()
    assert served.json({"rows": [{"age": 50, "city": "Lima", "income": 40}]})["rows"][0]["label"] in ("yes", "no")


def raw_exchange(port, data: bytes, until=None, timeout=10.0) -> bytes:
    """Sends `data` on a new connection and reads until `until` arrives or the server closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        sock.sendall(data)
        answer = b""
        while until is None or until not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer
    finally:
        sock.close()


def test_escaped_surrogate_pairs_are_the_characters_they_encode(tmp_path):
    """A level beyond the BMP sent as a JSON escape pair ("\\ud83d\\ude00", as Python's json
    writes it) is that character: the closed column takes it, as the CSV program takes the
    same text in UTF-8."""
    level = "\U0001F600 smile"
    compile_and_check(species_source(["setosa", level]), tmp_path, targets=("cpp",))
    program = tmp_path / "out" / "cpp" / "bin" / "species"
    code, want, err = batch(program, "Species\n" + level + "\nsetosa\n")
    assert code == 0, err
    s = Server(program)
    try:
        body = json.dumps({"rows": [{"Species": level}, {"Species": "setosa"}]})
        assert "\\ud83d\\ude00" in body
        status, _, text = s.request("POST", "/predict", body, "application/json")
        assert status == 200, text
        rows = json.loads(text)["rows"]
        for got, w in zip(rows, list(csv.DictReader(io.StringIO(want)))):
            assert all(same(got[k], w[k]) for k in w), (got, w)
    finally:
        assert s.stop() == 0


def test_unknown_level_and_oversized_body(species):
    want = program_message(species, "Species\nsetosa\nfoo\n")
    assert want.startswith('row 2 (line 3), column "Species": unknown level "foo" (known levels: "setosa"')
    s = Server(species, "--max-body", 2000)
    try:
        assert s.json({"rows": [{"Species": "setosa"}, {"Species": "foo"}]}, expect=400) == {
            "error": unplaced(want), "row": 2, "column": "Species"}
        ok = s.json({"rows": [{"Species": "virginica"}, {"Species": None}]})["rows"]
        assert len(ok) == 2
        big = json.dumps({"rows": [{"Species": "setosa"}] * 200})
        assert len(big) > 2000
        too_large = {"error": "request body larger than 2000 bytes (the server's --max-body)", "row": None,
                     "column": None}
        status, ctype, text = s.request("POST", "/predict", big, "application/json")
        assert (status, ctype) == (413, "application/json") and json.loads(text) == too_large
        # Chunked (no Content-Length): stopped at the limit too.
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        conn.request("POST", "/predict", body=iter([big[:1500].encode(), big[1500:].encode()]),
                     headers={"Content-Type": "application/json"}, encode_chunked=True)
        r = conn.getresponse()
        assert (r.status, r.getheader("Connection")) == (413, "close") and json.loads(r.read()) == too_large
        conn.close()
        # A body announced larger than the limit is refused before it is sent (Expect:
        # 100-continue), and a small one is invited.
        head = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nExpect: 100-continue\r\n"
        answer = raw_exchange(s.port, head + b"Content-Length: 5000000\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 413 ") and b"Connection: close" in answer and answer.endswith(b"}")
        body = json.dumps({"rows": [{"Species": "setosa"}]}).encode()
        answer = raw_exchange(s.port, head + b"Content-Length: %d\r\n\r\n" % len(body), until=b"Continue\r\n\r\n")
        assert answer == b"HTTP/1.1 100 Continue\r\n\r\n"
        # Bad HTTP: a JSON 400, and the connection closed.
        answer = raw_exchange(s.port, b"NOT HTTP\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400 ") and b"Connection: close" in answer
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["error"].startswith("bad HTTP request: ")
        assert s.json({"rows": [{"Species": "setosa"}]})["rows"]
    finally:
        assert s.stop() == 0


def test_concurrent_clients_get_their_own_answers(served, churn):
    df = frame(96, 2)
    code, out, err = batch(churn, csv_text(df))
    assert code == 0, err
    expected = list(csv.DictReader(io.StringIO(out)))
    records = json_rows(df)
    records[0]["city"] = None

    def client(c):
        for i in range(c, len(records), 16):  # each client its own rows, several requests each
            got = served.json({"rows": records[i:i + 2]})["rows"]
            for g, w in zip(got, expected[i:i + 2]):
                assert all(same(g[k], w[k]) for k in w), (i, g, w)
        return True

    with ThreadPoolExecutor(16) as pool:
        assert all(pool.map(client, range(16)))


def test_schema_health_ready_and_metrics(served):
    status, ctype, text = served.request("GET", "/schema")
    schema = json.loads(text)
    assert (status, ctype) == (200, "application/json")
    assert [c["name"] for c in schema["inputs"]] == ["age", "city", "income"]
    assert [c["type"] for c in schema["inputs"]] == ["float64", "string", "float64"]
    assert [c["name"] for c in schema["outputs"]] == ["label", "prob_no", "prob_yes"]
    assert "model: churn" in schema["description"]
    assert served.request("GET", "/health") == (200, "application/json", '{"status":"ok"}')
    assert served.request("GET", "/ready") == (200, "application/json", '{"status":"ready"}')

    served.json({"rows": [{"age": 30, "city": "Oslo", "income": 1}] * 3})
    served.json({"rows": [{"age": "x"}]}, expect=400)
    # A request is counted when the server has finished it, which can be just after its
    # client has read the answer: scrape until the last request shows (at most 5 s).
    for _ in range(50):
        status, ctype, text = served.request("GET", "/metrics")
        if 'modelport_requests_total{path="/predict",code="400"} 1' in text.splitlines():
            break
        time.sleep(0.1)
    assert status == 200 and ctype.startswith("text/plain; version=0.0.4")
    lines = text.splitlines()
    for metric, kind in [("modelport_requests_total", "counter"), ("modelport_errors_total", "counter"),
                         ("modelport_rows_scored_total", "counter"),
                         ("modelport_request_duration_seconds", "histogram")]:
        assert f"# TYPE {metric} {kind}" in lines and any(x.startswith(f"# HELP {metric} ") for x in lines)
    values = {x.rsplit(" ", 1)[0]: float(x.rsplit(" ", 1)[1]) for x in lines if not x.startswith("#")}
    assert values['modelport_requests_total{path="/predict",code="200"}'] == 1
    assert values['modelport_requests_total{path="/predict",code="400"}'] == 1
    assert values['modelport_requests_total{path="/schema",code="200"}'] == 1
    assert values["modelport_errors_total"] == 1
    assert values["modelport_rows_scored_total"] == 3
    les = ["0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "+Inf"]
    buckets = [values[f'modelport_request_duration_seconds_bucket{{le="{le}"}}'] for le in les]
    assert buckets == sorted(buckets) and buckets[-1] == values["modelport_request_duration_seconds_count"] == 2
    assert 0 < values["modelport_request_duration_seconds_sum"] < 5


def test_log_writes_a_json_line_per_request(churn, tmp_path):
    log = tmp_path / "requests.jsonl"
    s = Server(churn, "--log", log)
    try:
        s.json({"rows": [{"age": 30, "city": "Oslo", "income": 1}]})
        s.json({"columns": {"age": [30, 40], "city": ["Lima", None], "income": [1, 2]}})
        s.json({"rows": [{"age": "x"}]}, expect=400)
        s.request("POST", "/predict", "age,city,income\n30,Oslo,1\n", "text/csv")
    finally:
        assert s.stop() == 0
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(entries) == 4
    for e in entries:
        assert list(e) == ["time", "rows", "inputs", "outputs", "error", "ms"]  # "shadow" only with --shadow
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]) and e["ms"] >= 0
    assert entries[0]["inputs"] == [{"age": 30, "city": "Oslo", "income": 1}]
    assert list(entries[0]["outputs"][0]) == ["label", "prob_no", "prob_yes"]
    assert entries[1]["rows"] == 2 and entries[1]["inputs"][1] == {"age": 40, "city": None, "income": 2}
    assert entries[2]["outputs"] is None and entries[2]["error"] == {
        "error": 'row 1, column "age": cannot parse "x" as a number', "row": 1, "column": "age"}
    assert entries[2]["inputs"] == [{"age": "x"}] and entries[2]["rows"] == 1
    # CSV rows: numbers of number columns as numbers.
    assert entries[3]["inputs"] == [{"age": 30, "city": "Oslo", "income": 1}]
    assert entries[3]["outputs"] == entries[0]["outputs"]
    # --log-sample 0 logs nothing; a bad rate is a usage error (exit 2).
    s = Server(churn, "--log", tmp_path / "none.jsonl", "--log-sample", 0)
    s.json({"rows": [{"age": 30, "city": "Oslo", "income": 1}]})
    assert s.stop() == 0
    assert (tmp_path / "none.jsonl").read_text() == ""
    for args in (["--log-sample", "2"], ["--port", "x"], ["--bogus"], ["--threads", "0"]):
        r = subprocess.run([str(churn), "serve", *args], capture_output=True, timeout=30)
        assert r.returncode == 2 and b"Usage:" in r.stderr, (args, r.stderr)


def test_sigterm_lets_the_request_in_flight_finish(churn):
    s = Server(churn)
    keep = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    keep.request("GET", "/ready")
    assert keep.getresponse().read() == b'{"status":"ready"}'
    body = json.dumps({"rows": [{"age": 30, "city": "Oslo", "income": 1}]}).encode()
    conn = socket.create_connection(("127.0.0.1", s.port))
    conn.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 b"Content-Length: %d\r\n\r\n" % len(body) + body[:10])
    time.sleep(0.3)  # the server is reading this request's body
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(OSError):  # no new connections
        socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
    assert s.proc.poll() is None
    # An open connection is still answered, with 503 on /ready, and closed after.
    keep.request("GET", "/ready")
    r = keep.getresponse()
    assert (r.status, r.read(), r.getheader("Connection")) == (503, b'{"status":"stopping"}', "close")
    keep.close()
    conn.sendall(body[10:])
    answer = b""
    while b"}]}" not in answer:
        chunk = conn.recv(65536)
        assert chunk, answer
        answer += chunk
    conn.close()
    assert answer.startswith(b"HTTP/1.1 200") and b'"label":' in answer
    assert s.proc.wait(timeout=30) == 0
    assert s.proc.stderr.read().decode() == "stopped\n"


def test_idle_connections_do_not_hold_up_the_stop(churn):
    s = Server(churn)
    idle = [socket.create_connection(("127.0.0.1", s.port)) for _ in range(3)]
    keep = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    keep.request("GET", "/health")
    assert keep.getresponse().read() == b'{"status":"ok"}'
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    assert s.proc.wait(timeout=30) == 0 and time.monotonic() - t0 < 5
    for sock in idle:
        sock.close()
    keep.close()


def test_stream_answers_each_line_before_the_next_arrives(churn):
    df = frame(12, 3)
    code, want, err = batch(churn, csv_text(df))
    assert code == 0, err
    want_lines = want.splitlines()
    in_lines = csv_text(df).splitlines()
    p = subprocess.Popen([str(churn), "--stream"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        p.stdin.write((in_lines[0] + "\n").encode())
        p.stdin.flush()
        assert p.stdout.readline().decode().rstrip("\n") == want_lines[0]
        for i, line in enumerate(in_lines[1:], 1):
            # The pipe stays open: an answer can only come if the program flushes per line.
            p.stdin.write((line + "\n").encode())
            p.stdin.flush()
            assert p.stdout.readline().decode().rstrip("\n") == want_lines[i]
            if i == 5:  # a bad line: its error on stderr, no answer, and reading goes on
                p.stdin.write(b"40,Oslo,abc\n")
                p.stdin.flush()
                assert p.stderr.readline().decode() == (
                    'error: row 6 (line 7), column "income": cannot parse "abc" as a number\n')
        p.stdin.close()
        assert p.stdout.read() == b""
        assert p.wait(timeout=30) == 2  # a bad row was skipped
    finally:
        if p.poll() is None:
            p.kill()
    code, out, _ = batch(churn, csv_text(df), "--stream")
    assert (code, out) == (0, want)


def test_tvm_stub_program_serves_too(tmp_path):
    out = tmp_path / "out"
    manifest = modelport.compile(two_in_two_out(), targets=("tvm-llvm",), out=out, name="two", rows=8)
    assert "serve" not in manifest["targets"]["tvm-llvm"]
    program = out / "tvm-llvm" / "bin" / "two"
    text = "a_0,a_1,a_2,b_0,b_1\n1,2,3,0.5,1\n-1,0,,2,3\n"
    code, want, err = batch(program, text)
    assert code == 0, err
    s = Server(program)
    try:
        status, _, got = s.request("POST", "/predict", text, "text/csv")
        assert (status, got) == (200, want)
        rows = s.json({"columns": {"a_0": [1, -1], "a_1": [2, 0], "a_2": [3, None], "b_0": [0.5, 2],
                                   "b_1": [1, 3]}})["columns"]
        for k, w in zip(want.splitlines()[0].split(","), zip(*[r.split(",") for r in want.splitlines()[1:]])):
            np.testing.assert_array_equal(np.array(rows[k], dtype=np.float32), np.array(w, dtype=np.float64).astype(np.float32))
    finally:
        assert s.stop() == 0
    code, out_stream, _ = batch(program, text, "--stream")
    assert (code, out_stream) == (0, want)


def test_program_without_the_plugin_says_what_is_missing(churn, tmp_path):
    """The CSV program needs no library; `serve` without lib/libmodelport_serve.so explains."""
    (tmp_path / "bin").mkdir()
    alone = tmp_path / "bin" / "churn"
    alone.write_bytes(churn.read_bytes())
    alone.chmod(0o755)
    r = subprocess.run([str(alone), "serve"], capture_output=True, timeout=30,
                       env={k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "MODELPORT_SERVE_LIB")})
    assert r.returncode == 1 and b"cannot load the HTTP server libmodelport_serve.so" in r.stderr
    assert b"apt-get install libboost-dev" in r.stderr
    code, out, err = batch(alone, "age,city,income\n30,Oslo,1\n")
    assert code == 0 and out.startswith("label,prob_no,prob_yes\n"), err


# What a program or the server plugin may need at run time: the C and C++ runtimes.
SYSTEM_LIBRARIES = ("libc.so", "libstdc++.so", "libm.so", "libgcc_s.so", "ld-linux", "libpthread.so", "libdl.so",
                    "linux-vdso.so")


def test_program_and_plugin_need_only_the_c_and_cpp_runtimes(churn):
    plugin = churn.parent.parent / "lib" / "libmodelport_serve.so"
    for binary in (churn, plugin, churn.parent.parent / "libchurn.so"):
        listed = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=True).stdout
        names = [line.split()[0] for line in listed.splitlines() if line.strip()]
        assert names and all(n.split("/")[-1].startswith(SYSTEM_LIBRARIES) for n in names), (binary, listed)


# ---------------------------------------------------------------------------------------------
# --shadow DIR: another model scores the same rows; differences are counted, never returned
# ---------------------------------------------------------------------------------------------

def churn_like(tmp_path, name, columns=("age", "city", "income"), C=1.0):
    """A model of the churn fixture's kind, on its columns, fitted with regularization C."""
    df = frame(300, 0)[list(columns)]
    y = np.where((df.age > 40) ^ (df.city == "Lima"), "yes", "no")
    nums = [c for c in columns if c != "city"]
    est = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), nums),
                                                ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"])])),
                    ("final", LogisticRegression(max_iter=500, C=C))]).fit(df, y)
    data = tmp_path / f"{name}.csv"
    df.to_csv(data, index=False)
    modelport.compile(est, targets=("cpp",), out=tmp_path / name, data=data, name=name)
    return tmp_path / name


def test_shadow_counts_the_differences_of_another_model(churn, tmp_path):
    other = churn_like(tmp_path, "strict", C=0.01)
    df = frame(30, 5)
    df.loc[0, "city"] = np.nan  # json_rows leaves it out
    text = csv_text(df)
    mine = list(csv.DictReader(io.StringIO(batch(churn, text)[1])))
    theirs = list(csv.DictReader(io.StringIO(batch(other / "cpp" / "bin" / "strict", text)[1])))
    differing = [i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b]
    flips = sum(a["label"] != b["label"] for a, b in zip(mine, theirs))
    assert differing and flips < len(differing)
    log = tmp_path / "log.jsonl"
    s = Server(churn, "--shadow", other, "--log", log, "--log-sample", 0)
    try:
        assert (s.name, s.shadow) == ("churn", "strict")
        rows = json_rows(df)
        answer = s.json({"rows": rows})["rows"]  # the model's own answer, unchanged
        assert all(same(a[k], w[k]) for a, w in zip(answer, mine) for k in w)
        status, _, body = s.request("POST", "/predict", text, "text/csv")
        assert status == 200 and body == batch(churn, text)[1]
        s.json({"rows": [{"age": "x"}]}, expect=400)  # the model refuses: no comparison
        status, _, doc = s.request("GET", "/shadow")
        doc = json.loads(doc)
        assert (status, doc["shadow"], doc["rows"], doc["errors"]) == (200, "strict", 60, 0)
        assert doc["rows_differing"] == 2 * len(differing)
        assert doc["outputs"]["label"] == {"differing": 2 * flips}
        biggest = max(abs(float(a["prob_yes"]) - float(b["prob_yes"])) for a, b in zip(mine, theirs))
        assert doc["outputs"]["prob_yes"]["differing"] == 2 * len(differing)
        assert doc["outputs"]["prob_yes"]["max_abs_difference"] == pytest.approx(biggest, rel=1e-12)
        assert len(doc["sample"]) == 20 and list(doc["sample"][-1]) == ["inputs", "outputs", "shadow"]
        last = doc["sample"][-1]  # the CSV request's last differing row
        assert last["shadow"]["label"] == theirs[differing[-1]]["label"]
        assert last["inputs"]["city"] == (df.city.iloc[differing[-1]] if isinstance(df.city.iloc[differing[-1]], str)
                                          else "")
        status, _, text_metrics = s.request("GET", "/metrics")
        lines = text_metrics.splitlines()
        assert "modelport_shadow_rows_total 60" in lines and "modelport_shadow_errors_total 0" in lines
        assert f"modelport_shadow_rows_differing_total {2 * len(differing)}" in lines
        assert f'modelport_shadow_differences_total{{output="label"}} {2 * flips}' in lines
        assert any(x.startswith('modelport_shadow_max_abs_difference{output="prob_no"} ') for x in lines)
    finally:
        assert s.stop() == 0
    # Not sampled (--log-sample 0), but logged: the requests with differences.
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert len(entries) == 2
    for e in entries:
        assert e["shadow"]["differing"] == differing and e["shadow"]["error"] is None
        assert [r["label"] for r in e["shadow"]["outputs"]] == [r["label"] for r in theirs]


def test_shadow_of_the_same_model_finds_no_difference(churn):
    s = Server(churn, "--shadow", churn.parent.parent.parent)
    try:
        s.json({"rows": json_rows(frame(10, 6))})
        doc = json.loads(s.request("GET", "/shadow")[2])
        assert (doc["rows"], doc["rows_differing"], doc["sample"]) == (10, 0, [])
        assert doc["outputs"]["prob_no"] == {"differing": 0, "max_abs_difference": 0.0}
    finally:
        assert s.stop() == 0
    # Without --shadow, /shadow is an unknown path.
    s = Server(churn)
    try:
        assert s.request("GET", "/shadow")[0] == 404
    finally:
        assert s.stop() == 0


def test_shadow_with_other_input_columns_is_refused(churn, tmp_path):
    other = churn_like(tmp_path, "fewer", columns=("age", "city"))
    r = subprocess.run([str(churn), "serve", "--port", "0", "--shadow", str(other)], capture_output=True, text=True,
                       timeout=30)
    assert (r.returncode, r.stderr) == (2, f'error: --shadow {other}: the shadow model\'s input columns differ from '
                                           'this model\'s: missing "income"\n')
    r = subprocess.run([str(churn), "serve", "--port", "0", f"--shadow={tmp_path}"], capture_output=True, text=True,
                       timeout=30)
    assert (r.returncode, r.stderr) == (2, f"error: --shadow {tmp_path}: no C++ model library found (expected "
                                           f"{tmp_path}/cpp/lib<name>.so)\n")
