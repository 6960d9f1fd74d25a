"""The C++ program's server (`bin/<name> serve`) and the jar's (`java -jar <name>.jar serve`) answer
the same requests the same way: one model built for both targets, both servers started, the same
requests sent to each (good ones in the three forms, and every kind of bad request), and the
answers compared: status, content type, Allow header and the JSON bodies (parsed, so that the text
of a number may differ where its value does not), the request logs too. This is what keeps the
two servers in step (docs/serving.md describes the API they share)."""
from __future__ import annotations

import csv
import http.client
import io
import json
import re
import shutil
import signal
import subprocess

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import modelport

pytestmark = pytest.mark.skipif(shutil.which("java") is None or shutil.which("javac") is None,
                                reason="needs a JDK")

JAVA = ["java", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
MAX_BODY = 4096
JSON = "application/json"
GOOD = {"age": 30.5, "city": "Oslo", "plan": "pro", "income": 41.25}


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A classifier with string labels over two numbers, a closed string column (city: its
    encoder refuses other values) and an open one (plan), built for cpp and java."""
    d = tmp_path_factory.mktemp("parity")
    rng = np.random.RandomState(0)
    n = 200
    df = pd.DataFrame({"age": rng.uniform(18, 80, n).round(3),
                       "city": rng.choice(["Oslo", "Lima", "Pune, IN"], n).astype(object),
                       "plan": rng.choice(["basic", "pro"], n).astype(object), "income": rng.normal(50, 10, n)})
    y = np.where((df.age > 40) ^ (df.city == "Lima"), "yes", "no")
    est = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                                                ("city", OneHotEncoder(handle_unknown="error"), ["city"]),
                                                ("plan", OneHotEncoder(handle_unknown="ignore"), ["plan"])])),
                    ("final", LogisticRegression(max_iter=500))]).fit(df, y)
    df.to_csv(d / "train.csv", index=False)
    manifest = modelport.compile(est, targets=("cpp", "java"), out=d / "out", data=d / "train.csv", name="churn")
    assert manifest["parity"]["passed"]
    assert "serve" not in manifest["targets"]["cpp"], manifest["targets"]["cpp"]
    return d / "out"


class Server:
    def __init__(self, command, log):
        self.proc = subprocess.Popen([*command, "serve", "--port", "0", "--max-body", str(MAX_BODY), "--log", str(log)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        line = self.proc.stderr.readline()
        m = re.fullmatch(r"serving churn on http://127\.0\.0\.1:(\d+)\n", line)
        assert m, line
        self.port = int(m.group(1))
        self.log = log

    def send(self, method, path, body=None, headers=None, chunked=False):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            data = body.encode() if isinstance(body, str) else body
            if chunked:
                data = iter([data[i:i + 1000] for i in range(0, len(data), 1000)])
            conn.request(method, path, body=data, headers=headers or {}, encode_chunked=chunked)
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type"), r.getheader("Allow"), r.read()
        finally:
            conn.close()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=40) == 0
        self.proc.stderr.close()


@pytest.fixture(scope="module")
def servers(artifact, tmp_path_factory):
    d = tmp_path_factory.mktemp("logs")
    cpp = Server([str(artifact / "cpp" / "bin" / "churn")], d / "cpp.jsonl")
    java = Server([*JAVA, "-jar", str(artifact / "java" / "churn.jar")], d / "java.jsonl")
    yield cpp, java
    cpp.stop()
    java.stop()


def csv_body(rows, header=("age", "city", "plan", "income")):
    buf = io.StringIO(newline="")
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def post(body, ctype=JSON, **kw):
    headers = {} if ctype is None else {"Content-Type": ctype}
    return ("POST", "/predict", body if isinstance(body, (str, bytes)) else json.dumps(body), headers, kw)


DEEP = '{"rows": [' + "[" * 300 + "]" * 300 + "]}"
# (what it checks, request): each answered by both servers, compared.
REQUESTS = [
    # Good requests, in the three forms.
    ("rows", post({"rows": [GOOD, {"age": None, "city": "Lima", "income": "1e-7"}, {}]})),
    ("columns", post({"columns": {"age": [1, 2.5e3], "city": ["Pune, IN", None], "plan": ["basic", True],
                                  "income": [" 0.5", "NaN"]}})),
    ("csv", post(csv_body([[30, "Oslo", "pro", 1.5], ["", "Pune, IN", "", "inf"]]), "text/csv; charset=UTF-8")),
    ("no rows", post({"rows": []})),
    ("no columns' rows", post({"columns": {"age": [], "city": [], "plan": [], "income": []}})),
    ("charset quoted", post({"rows": [GOOD]}, 'application/json; charset="utf8"')),
    ("numbers as written", post('{"rows": [{"age": -0.0, "income": 123456789.123456789e-3, "city": "Oslo"}]}')),
    # Malformed JSON, at several places.
    ("end of input", post('{"rows": [')),
    ("leading zero", post('{"rows": [{"age": 01}]}')),
    ("NaN is no JSON", post('{"rows": [{"age": NaN}]}')),
    ("empty body", post("")),
    ("text after the value", post('{"rows": []} x')),
    ("member name", post('{"rows": [{"age": 1,}]}')),
    ("colon", post('{"rows": [{"age" 1}]}')),
    ("bad escape", post('{"rows": [{"city": "\\q"}]}')),
    ("bad unicode escape", post('{"rows": [{"city": "\\u12G4"}]}')),
    ("control character", post('{"rows": [{"city": "a\tb"}]}')),
    ("too deep", post(DEEP)),
    ("positions count UTF-16 units", post('{"rows": [{"city": "Zürich 😀"}], x}'.encode())),
    ("malformed UTF-8", post(b'{"rows": [{"city": "\xff\xed\xa0\x80"}] ]')),
    ("byte order mark", post(b"\xef\xbb\xbf{}")),
    # Bodies of the wrong shape.
    ("not an object", post([1])),
    ("no key", post({})),
    ("unknown key", post({"rows": [], "extra": 1})),
    ("duplicate key", post('{"rows": [], "rows": []}')),
    ("rows not an array", post({"rows": {}})),
    ("row not an object", post({"rows": [GOOD, [1]]})),
    ("duplicate name in a row", post('{"rows": [{"age": 1, "age": 2}]}')),
    ("columns not an object", post({"columns": []})),
    ("column not an array", post({"columns": {"age": 1}})),
    ("columns of other lengths", post({"columns": {"age": [1, 2], "city": ["Oslo"]}})),
    ("nested value", post({"rows": [{"age": [1]}]})),
    ("nested value, columns", post({"columns": {"age": [1, {"a": 1}]}})),
    # Column sets.
    ("unknown column, rows", post({"rows": [GOOD, {"zz": 1}]})),
    ("missing columns", post({"columns": {"age": [1], "zz": [2]}})),
    ("duplicate columns", post('{"columns": {"age": [1], "age": [2], "city": [null], "plan": [null], "income": [1]}}')),
    ("CSV missing column", post(csv_body([[1, "Oslo"]], ("age", "city")), "text/csv")),
    ("CSV unknown and duplicate columns", post(csv_body([[1, 1, 2, 3, 4, 5]], ("age", "age", "city", "plan", "income",
                                                                            "zz")), "text/csv")),
    ("CSV empty", post("", "text/csv")),
    # Values.
    ("bad number", post({"rows": [GOOD, {**GOOD, "income": "abc"}]})),
    ("bad number, columns", post({"columns": {k: [v, "x" if k == "age" else v] for k, v in GOOD.items()}})),
    ("unknown level", post({"rows": [{**GOOD, "city": "Osl\u00f8"}]})),
    ("long unknown level", post({"rows": [{**GOOD, "city": "\U0001F600" * 120}]})),
    ("true in a number column", post({"rows": [{**GOOD, "age": True}]})),
    ("false in a closed column", post({"rows": [{**GOOD, "city": False}]})),
    ("lone surrogate", post('{"rows": [{"city": "a\\ud800b", "age": 1}]}')),
    ("CSV bad value", post(csv_body([[30, "Oslo", "pro", 1], [30, "Oslo", "pro", "1.5x"]]), "text/csv")),
    ("CSV fields", post(csv_body([[30, "Oslo", "pro"]]), "text/csv")),
    ("CSV quoting", post('age,city,plan,income\n1,"Oslo" x,pro,1\n', "text/csv")),
    ("CSV long non-ASCII value", post("age,city,plan,income\n1,Oslo,pro," + "\u00e9" * 150 + "\n", "text/csv")),
    ("long value beyond the BMP", post({"rows": [{**GOOD, "income": "\U0001F600" * 120}]})),
    ("CSV unterminated quote", post('age,city,plan,income\n1,Oslo,pro,1\n2,"Oslo,pro,1\n', "text/csv")),
    # HTTP.
    ("other type", post("f0\n1\n", "text/plain")),
    ("type in capitals", post({"rows": []}, "Application/JSON")),
    ("no type", post("{}", None)),
    ("empty type", post("{}", ";")),
    ("Unicode case of inf", post({"rows": [{**GOOD, "income": "\u0131nf"}]})),
    ("other charset", post("{}", "application/json; charset=latin1")),
    ("CSV other charset", post("a\n", "text/csv;charset=ISO-8859-1")),
    ("unknown path", ("GET", "/nowhere", None, {}, {})),
    ("escaped path", ("GET", "/pre%64ict?x=1", None, {}, {})),
    ("POST /health", ("POST", "/health", "{}", {"Content-Type": JSON}, {})),
    ("DELETE /schema", ("DELETE", "/schema", None, {}, {})),
    ("too large", post({"rows": [GOOD] * 100})),
    ("too large, chunked", post({"rows": [GOOD] * 100}, chunked=True)),
    ("CSV too large", post("x" * (MAX_BODY + 1), "text/csv")),
    ("chunked", post({"rows": [GOOD] * 3}, chunked=True)),
    ("schema", ("GET", "/schema", None, {}, {})),
    ("health", ("GET", "/health", None, {}, {})),
    ("ready", ("GET", "/ready", None, {}, {})),
]


def parsed(ctype, body: bytes):
    """A body to compare: JSON parsed; CSV as rows of numbers (where they read as one) and text."""
    text = body.decode("utf-8", "surrogatepass")
    if ctype and ctype.startswith("text/csv"):
        def cell(v):
            try:
                x = float(v)
            except ValueError:
                return v
            return "NaN" if x != x else x
        return [[cell(v) for v in row] for row in csv.reader(io.StringIO(text, newline=""))]
    return json.loads(text)


def log_entries(server):
    """The server's request log so far, time and duration aside."""
    out = []
    for line in server.log.read_text().splitlines():
        e = json.loads(line)
        assert list(e)[:6] == ["time", "rows", "inputs", "outputs", "error", "ms"], e
        out.append({k: v for k, v in e.items() if k not in ("time", "ms", "shadow")})
    return out


def test_both_servers_answer_alike(servers):
    cpp, java = servers
    assert len(REQUESTS) >= 30
    logged = [len(log_entries(s)) for s in servers]
    for what, (method, path, body, headers, kw) in REQUESTS:
        a = cpp.send(method, path, body, headers, **kw)
        b = java.send(method, path, body, headers, **kw)
        assert a[:3] == b[:3], (what, a, b)
        assert parsed(a[1], a[3]) == parsed(b[1], b[3]), (what, a[3], b[3])
        if a[0] >= 400:
            assert list(json.loads(a[3])) == ["error", "row", "column"], (what, a[3])
    # The request logs hold the same entries (one per POST /predict).
    a, b = (log_entries(s)[n:] for s, n in zip(servers, logged))
    assert len(a) == len(b) == sum(r[1] == "/predict" and r[0] == "POST" for _, r in REQUESTS)
    for (what, _), x, y in zip([r for r in REQUESTS if r[1][1] == "/predict" and r[1][0] == "POST"], a, b):
        assert x == y, what


def test_bad_requests_are_answered_in_full(servers):
    """The answers of the list above hold what docs/serving.md promises (so that the two servers
    do not agree on something wrong)."""
    cpp, _ = servers
    answers = {what: cpp.send(method, path, body, headers, **kw) for what, (method, path, body, headers, kw) in REQUESTS}

    def error(what):
        return json.loads(answers[what][3])

    assert error("end of input") == {"error": "invalid JSON at character 11: unexpected end of input", "row": None,
                                     "column": None}
    assert error("positions count UTF-16 units")["error"] == "invalid JSON at character 35: expected a member name"
    assert error("too deep")["error"] == "invalid JSON at character 265: nested deeper than 256 levels"
    assert error("byte order mark")["error"] == "invalid JSON at character 1: unexpected character U+FEFF"
    assert error("duplicate key")["error"] == 'duplicate key "rows" in the request'
    assert error("row not an object") == {"error": "row 2: expected an object", "row": 2, "column": None}
    assert error("unknown column, rows") == {
        "error": 'unknown input column "zz" (pass --allow-extra-columns to ignore extra columns)', "row": None,
        "column": "zz"}
    assert error("bad number") == {"error": 'row 2, column "income": cannot parse "abc" as a number', "row": 2,
                                   "column": "income"}
    assert error("true in a number column")["error"] == 'row 1, column "age": cannot parse "true" as a number'
    assert error("false in a closed column")["error"].startswith('row 1, column "city": unknown level "false"')
    # Cut after 100 characters (here 100 emoji, each a surrogate pair in JSON and in Java).
    assert error("long unknown level")["error"].startswith('row 1, column "city": unknown level "' + "\U0001F600" * 100
                                                           + '..." (known levels: ')
    assert error("lone surrogate")["error"].startswith('row 1, column "city": unknown level "a\ud800b"')
    assert error("CSV bad value") == {"error": 'row 2 (line 3), column "income": cannot parse "1.5x" as a number',
                                      "row": 2, "column": "income"}
    assert error("unknown path")["error"] == 'no such path "/nowhere" (paths: /predict, /schema, /health, /ready, /metrics)'
    assert answers["escaped path"][:3] == (405, JSON, "POST")
    assert error("DELETE /schema")["error"] == "method DELETE is not allowed on /schema (use GET)"
    assert error("other charset")["error"] == 'unsupported charset "latin1" (the body must be UTF-8)'
    assert answers["type in capitals"][0] == 200  # the media type is compared in lower case
    assert error("too large, chunked")["error"] == f"request body larger than {MAX_BODY} bytes (the server's --max-body)"
    assert answers["columns"][0] == 200 and json.loads(answers["columns"][3])["columns"]["label"][1] in ("yes", "no")
