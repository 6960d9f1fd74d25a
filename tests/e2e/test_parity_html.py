"""parity.html, opened in headless Chromium: it renders (a screenshot that is not blank), shows
every check's verdict, the row classes exercised and the worst rows, fetches nothing, and
shows whatever the model carries (column names, levels, labels) as text, never as markup;
a failing check (an artifact edited after the build) shows FAIL and its differing rows."""
import io
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import onnx
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import modelport

AGE = "age <img src=x onerror=alert(1)>"
SCORE = 'score "q" & \'s\''
CITY = "city</td><script>alert(2)</script>"
LEVELS = ["<b>Oslo</b>", "Li'ma", "Pu&ne", 'Ro"me']
LABELS = np.array(['<script>alert("x")</script>', "it's \"quoted\"", "plain"], dtype=object)
MAX_PAGE_BYTES = 300_000


def _model():
    rng = np.random.RandomState(0)
    n = 300
    df = pd.DataFrame({AGE: rng.uniform(18, 80, n), SCORE: rng.randn(n),
                       CITY: rng.choice(LEVELS, n).astype(object)})
    y = LABELS[(df[AGE] > 40).astype(int) + (df[CITY] == "Li'ma").astype(int) * (df[SCORE] > 0)]
    prep = ColumnTransformer([("num", StandardScaler(), [AGE, SCORE]),
                              ("cat", OneHotEncoder(handle_unknown="ignore"), [CITY])])
    return Pipeline([("prep", prep), ("tree", DecisionTreeClassifier(max_depth=4, random_state=0))]).fit(df, y)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "out"
    manifest = modelport.compile(_model(), targets=("onnx",), out=out, name="tree")
    assert manifest["parity"]["passed"], (out / "parity.md").read_text()
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    exe = shutil.which("chromium")
    assert exe, "Debian's chromium is needed (the set-up installs it)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
        yield b
        b.close()


def _open(browser, path):
    """(page, every URL the page asked for, the screenshot's PNG bytes)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("networkidle")
    return page, requests, page.screenshot(full_page=True)


def _not_blank(png: bytes):
    from PIL import Image
    img = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    dark = (img < 128).mean()
    assert img.std() > 20 and 0.005 < dark < 0.6, (img.std(), dark)


def _verdicts(page) -> list:
    """(target, runner, output, against, verdict) of every row of the verdicts table."""
    rows = page.eval_on_selector_all(
        "#verdicts tr", "rs => rs.map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
    return [(r[1], r[2], r[3], r[5], r[8]) for r in rows[1:] if r[0]]


def test_page_renders_verdicts_classes_and_fetches_nothing(built, browser):
    path = built / "parity.html"
    assert path.stat().st_size < MAX_PAGE_BYTES
    page, requests, png = _open(browser, path)
    assert requests == [path.resolve().as_uri()]
    _not_blank(png)
    report = json.loads((built / "parity.json").read_text())
    assert sorted(_verdicts(page)) == sorted((c["target"], c["runner"], c["output"], c["against"],
                                              "pass" if c["passed"] else "FAIL") for c in report["checks"])
    text = page.inner_text("body")
    assert "PASSED" in text and "FAILED" not in text
    assert page.locator("svg").count() == 1  # the error distribution, inline
    html = path.read_text()
    # nothing that could be fetched: only the SVG namespaces and links within the page
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg",
                                                            "http://www.w3.org/1999/xlink"}
    assert not re.findall(r"(?:url\(|href=)(?![\"']?#)", html)
    classes = report["row_classes"]
    for c in ["on a split point", "one step beside a split", "missing value", f"unseen level of {CITY}",
              *(f"level {CITY}={lv}" for lv in LEVELS)]:
        assert classes.get(c, 0) > 0, (c, classes)
        assert c in text, c
    for key in ("source: framework", "source: estimator", "onnx: opsets", "target onnx: runtime"):
        assert key in text, key
    assert "float64" in text or "float32" in text


def test_model_strings_are_text_not_markup(built, browser):
    html = (built / "parity.html").read_text()
    assert "<script" not in html.lower() and "<img" not in html.lower() and "<b>" not in html
    page, _, _ = _open(browser, built / "parity.html")
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.reload()
    assert page.evaluate("document.scripts.length + document.images.length") == 0 and not dialogs
    text = page.inner_text("body")
    for s in (AGE, SCORE, CITY, '"<b>Oslo</b>"', *(f"prob_{label}" for label in LABELS)):
        assert s in text, s


def _break_artifact(out, name="tree"):
    """Scale the leaf weights of the onnx target's tree: its probabilities differ."""
    path = out / "onnx" / f"{name}.onnx"
    proto = onnx.load(str(path))
    node = next(n for n in proto.graph.node if n.op_type.startswith("TreeEnsemble"))
    attr = next(a for a in node.attribute if a.name in ("class_weights", "target_weights"))
    attr.floats[:] = [w * 0.5 + 0.1 for w in attr.floats]
    onnx.save(proto, str(path))


def test_failing_check_shows_fail_and_its_worst_rows(built, browser, tmp_path):
    out = tmp_path / "broken"
    shutil.copytree(built, out)
    _break_artifact(out)
    proc = subprocess.run([sys.executable, "-m", "modelport.cli", "check", str(out), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads((out / "parity.json").read_text())
    failed = [(k, c) for k, c in enumerate(report["checks"]) if not c["passed"]]
    assert failed and all(c["target"] == "onnx" for _, c in failed)
    assert all(c["passed"] for c in report["checks"] if c["target"] == "onnx-ir")
    page, requests, png = _open(browser, out / "parity.html")
    assert requests == [(out / "parity.html").resolve().as_uri()]
    _not_blank(png)
    assert "FAILED" in page.inner_text("h1")
    verdicts = _verdicts(page)
    for _, c in failed:
        assert (c["target"], c["runner"], c["output"], c["against"], "FAIL") in verdicts
    for k, c in failed:
        section = page.locator(f"#check-{k}")
        assert section.get_attribute("open") is not None  # failing checks are unfolded
        shown = [int(t) for t in section.locator("td:first-child a").all_inner_texts()]
        assert shown and shown == c["worst_rows"]
        assert set(c["mismatch_rows"][:len(shown)]) <= set(shown)
        table = section.inner_text()
        assert "differs" in table
        first = shown[0]
        assert page.locator(f"#row-{first}").count() == 1  # all inputs of that row, below
    # a check that passes stays folded
    k_ok = next(k for k, c in enumerate(report["checks"]) if c["passed"])
    assert page.locator(f"#check-{k_ok}").get_attribute("open") is None


def test_page_is_rewritten_by_check_and_json_stays_compatible(built):
    report = json.loads((built / "parity.json").read_text())
    assert {"summary", "model", "checks", "errors", "skipped"} <= set(report)
    for c in report["checks"]:
        assert {"target", "runner", "output", "kind", "against", "passed", "rows", "precision",
                "mismatched", "ties", "tie_rows", "first_mismatch_row", "mismatch_rows", "worst_rows"} <= set(c)
        assert len(c["worst_rows"]) <= 10
    stored = json.loads((built / "parity" / "row_classes.json").read_text())
    assert {k: len(v) for k, v in stored.items()} == report["row_classes"]


def test_tie_rows_are_a_class_of_their_own(tmp_path, browser):
    """k-NN on an integer grid: rows whose k-th and (k+1)-th neighbours are equally far are
    ties of the original model, a class of rows in parity.json and on the page."""
    from sklearn.neighbors import KNeighborsClassifier
    grid = np.array([[i, j] for i in range(6) for j in range(6)], dtype=np.float64)
    est = KNeighborsClassifier(n_neighbors=3).fit(grid, (grid.sum(axis=1) % 3).astype(int))
    queries = np.array([[i + 0.5, j + 0.5] for i in range(5) for j in range(5)] + [[i, j] for i in range(6)
                                                                                   for j in range(6)])
    path = tmp_path / "q.csv"
    pd.DataFrame(queries, columns=["f0", "f1"]).to_csv(path, index=False)
    modelport.compile(est, targets="onnx", out=tmp_path / "out", data=path, name="knn")
    report = json.loads((tmp_path / "out" / "parity.json").read_text())
    assert report["row_classes"]["tie"] == 57  # 25 cell centres, 32 grid points (not the corners)
    page, requests, _ = _open(browser, tmp_path / "out" / "parity.html")
    assert len(requests) == 1
    cells = page.eval_on_selector_all("table tr", "rs => rs.map(r => Array.from(r.cells).map(c => c.innerText))")
    assert ["tie", "57"] in [r[:2] for r in cells]


def test_crashed_runner_shows_error(built, browser, tmp_path):
    out = tmp_path / "crashed"
    shutil.copytree(built, out)
    (out / "onnx" / "tree.onnx").write_bytes(b"not an onnx model <script>alert(3)</script>")
    proc = subprocess.run([sys.executable, "-m", "modelport.cli", "check", str(out), "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert json.loads((out / "parity.json").read_text())["errors"][0]["target"] == "onnx"
    page, requests, _ = _open(browser, out / "parity.html")
    assert len(requests) == 1 and page.evaluate("document.scripts.length") == 0
    rows = page.eval_on_selector_all("#verdicts tr", "rs => rs.map(r => r.innerText)")
    assert any(r.startswith("\tonnx\tonnxruntime") and "ERROR" in r for r in rows), rows
    assert "FAILED" in page.inner_text("h1")


def test_not_run_runners_nan_and_infinite_errors(tmp_path, browser):
    """A report written directly: a runner this machine cannot run, a NaN where a number was
    expected and an infinite error (plotted at the right edge), a shape mismatch."""
    from modelport.parity.compare import compare_rows
    from modelport.parity.report import ParityReport
    from modelport.schema import Column, Schema
    schema = Schema(inputs=[Column("x<i>", "X", 0, "number")], outputs=[Column("prediction", "y", 0, "value")])
    expected = np.array([[1.0], [2.0], [3.0], [4.0]])
    got = np.array([[1.0], [np.nan], [np.inf], [4.0 + 1e-3]])
    report = ParityReport("m<odel>", 4, "4 rows", "ref", skipped=[
        {"target": "tvm-cuda", "runner": "program", "reason": "no GPU <here>"}])
    for against, g in (("reference", got), ("onnxruntime", got[:2])):
        res, rows = compare_rows("value", g, expected, precision="float64")
        report.checks.append({"target": "cpp", "runner": "program", "output": "y", "kind": "value",
                              "against": against, **res})
        report.details.append(rows and {**rows, "got": g, "expected": expected, "scores": None})
    report.inputs, report.schema = {"x<i>": np.array([0.5, np.nan, 2.0, 3.0])}, schema
    report.write(tmp_path)
    first = json.loads((tmp_path / "parity.json").read_text())["checks"][0]
    assert first["worst_rows"] == [1, 2, 3] and first["mismatched"] == 3
    page, requests, png = _open(browser, tmp_path / "parity.html")
    assert len(requests) == 1
    _not_blank(png)
    text = page.inner_text("body")
    assert "not run" in text and "no GPU <here>" in text and "m<odel>" in text
    assert "value output: shape (2, 1) != expected (4, 1)" in page.locator("#check-1").inner_text()
    rows = page.locator("#check-0 tr").all_inner_texts()
    assert any(r.startswith("1\t") and "NaN" in r and "differs" in r for r in rows), rows
    assert any(r.startswith("2\t") and "inf" in r for r in rows), rows
