"""`modelport diff OLD NEW`: two builds of a model scored by their real programs on the same
rows. Every number in the report is checked against the two CSV programs' own outputs."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import modelport
from helpers import classic_data, compile_and_check

sys.path.insert(0, str(Path(__file__).parent))
from test_closed_levels import source as species_source  # noqa: E402

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="needs a JDK")

LABELS = np.array(["low", "mid", "top"], dtype=object)
MODELPORT = [sys.executable, "-m", "modelport.cli"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> dict:
    """Two versions of one classifier (java), one over fewer columns; two versions of a closed
    string column's model (cpp), the second knowing fewer levels."""
    X, _, y3, _ = classic_data()
    out = {"X": X}
    for key, est, cols in [("v1", LogisticRegression(max_iter=500), 5),
                           ("v2", LogisticRegression(C=0.002, max_iter=500), 5),
                           ("fewer", LogisticRegression(max_iter=500), 4)]:
        d = tmp_path_factory.mktemp(f"diff_{key}")
        compile_and_check(est.fit(X[:, :cols], LABELS[y3]), d, targets=("java",), name="clf")
        out[key] = d / "out"
    for key, levels in [("s1", ["setosa", "versicolor", "virginica"]), ("s2", ["setosa", "versicolor"])]:
        d = tmp_path_factory.mktemp(f"diff_{key}")
        compile_and_check(species_source(levels), d, targets=("cpp",))
        out[key] = d / "out"
    return out


def program_rows(jar: Path, text: str) -> list:
    r = subprocess.run(["java", "-jar", str(jar)], input=text, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return list(csv.DictReader(io.StringIO(r.stdout)))


def cli(*args, cwd=None):
    r = subprocess.run([*MODELPORT, "diff", *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def test_two_versions_label_flips_differences_and_thresholds(builds, tmp_path):
    X = builds["X"]
    names = [f"f{i}" for i in range(5)]
    data = tmp_path / "rows.csv"
    text = ",".join(names) + "\n" + "".join(",".join(repr(float(v)) for v in r) + "\n" for r in X[:200])
    data.write_text(text)
    old = program_rows(builds["v1"] / "java" / "clf.jar", text)
    new = program_rows(builds["v2"] / "java" / "clf.jar", text)
    flips = [i for i, (a, b) in enumerate(zip(old, new)) if a["label"] != b["label"]]
    assert flips  # the versions differ

    out = tmp_path / "diff"
    code, stdout, stderr = cli(builds["v1"], builds["v2"], "--data", data, "-o", out,
                               "--fail-on", "label-flips>0.5%", "--fail-on", "psi[label]>100")
    assert code == 1, stderr
    assert "**FAILED**" in stdout and "label has " in stdout
    report = json.loads((out / "diff.json").read_text())
    assert (out / "diff.md").read_text() == stdout.rstrip("\n") + "\n"
    assert report["target"] == "java" and report["rows"] == report["compared_rows"] == 200
    label = next(o for o in report["outputs"] if o["output"] == "label")
    assert label["label_flips"] == len(flips)
    assert [r["row"] for r in label["flipped_rows"]] == flips[:50]
    first = label["flipped_rows"][0]
    assert (first["old"], first["new"]) == (old[flips[0]]["label"], new[flips[0]]["label"])
    assert first["inputs"] == dict(zip(names, text.splitlines()[flips[0] + 1].split(",")))
    pairs = {}
    for i in flips:
        pairs[(old[i]["label"], new[i]["label"])] = pairs.get((old[i]["label"], new[i]["label"]), 0) + 1
    assert {(t["old"], t["new"]): t["rows"] for t in label["transitions"]} == pairs
    for o in report["outputs"]:
        if o["kind"] != "number":
            continue
        d = np.abs(np.array([float(a[o["output"]]) for a in old]) - np.array([float(b[o["output"]]) for b in new]))
        assert o["max_abs_diff"] == pytest.approx(d.max(), rel=1e-12)
        assert o["differing"] == int((d > 0).sum())
        assert o["worst_rows"][0]["row"] == int(np.argmax(d))
        assert o["psi"] > 0
    assert report["thresholds"] == [
        {"fail_on": "label-flips>0.5%", "exceeded": [f"label has {100 * len(flips) / 200:.4g}%"]},
        {"fail_on": "psi[label]>100", "exceeded": []}]

    # A threshold that holds: exit 0.
    code, stdout, stderr = cli(builds["v1"], builds["v2"], "--data", data, "-o", out, "-q",
                               "--fail-on", f"label-flips>{len(flips)}")
    assert code == 0 and "**PASSED**" in stdout and stderr == "", stderr

    # The page: self-contained, renders, says what failed.
    from playwright.sync_api import sync_playwright
    cli(builds["v1"], builds["v2"], "--data", data, "-o", out, "-q", "--fail-on", "label-flips>0.5%")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page()
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto((out / "diff.html").as_uri())
        body = page.inner_text("body")
        shot = page.screenshot()
        browser.close()
    assert requests == [(out / "diff.html").as_uri()]
    assert "FAILED" in body and f"{len(flips)} label flips of 200 rows" in body
    assert len(shot) > 20000  # a page with tables and plots, not a blank one


def test_identical_builds_differ_nowhere(builds, tmp_path):
    report = modelport.diff(builds["v1"], builds["v1"], fail_on=["rows-differing>0", "psi>0"], out=tmp_path)
    assert report["passed"] and report["rows_differing"] == 0 and report["rows"] > 100
    assert all(o["differing"] == 0 and o["psi"] == 0 for o in report["outputs"])
    # Stored parity rows of both artifacts are the default data.
    assert report["data"].count("parity/inputs.csv") == 2


def test_rows_one_model_refuses_and_inputs_that_differ(builds, tmp_path):
    data = tmp_path / "species.csv"
    data.write_text("Species\nsetosa\nvirginica\n\nversicolor\nvirginica\n")
    report = modelport.diff(builds["s1"], builds["s2"], data=data, fail_on=["refused>1"])
    assert report["target"] == "cpp"
    assert report["refused_rows"] == 2 and not report["passed"]
    assert [(r["row"], r["by"]) for r in report["refused"]] == [(1, "new"), (4, "new")]
    assert 'unknown level "virginica"' in report["refused"][0]["message"]
    assert report["compared_rows"] == 3 and report["rows_differing"] == 0
    assert report["outputs_only_old"] == ["Y_2"]

    # Different input columns: compared on rows that hold both models' columns ...
    report = modelport.diff(builds["fewer"], builds["v1"])
    assert report["inputs"] == {"shared": ["f0", "f1", "f2", "f3"], "only_old": [], "only_new": ["f4"]}
    assert report["data"].endswith("parity/inputs.csv") and " + " not in report["data"]
    # ... or refused with a message naming what the rows lack.
    lacking = tmp_path / "lacking.csv"
    lacking.write_text("f0,f1,f2,f3\n1,2,3,4\n")
    code, _, stderr = cli(builds["fewer"], builds["v1"], "--data", lacking, cwd=tmp_path)
    assert code == 2 and 'lacks input columns the models need: "f4"' in stderr, stderr


@pytest.mark.parametrize("args, message", [
    (["--fail-on", "flips>1"], "--fail-on 'flips>1': expected METRIC[OUTPUT]>VALUE"),
    (["--fail-on", "psi>2%"], "a percentage applies to counts of rows"),
    (["--fail-on", "max-abs-diff[nope]>1"], "no compared output 'nope'"),
    (["--target", "cpp"], "has no cpp program"),
])
def test_usage_errors(builds, tmp_path, args, message):
    code, _, stderr = cli(builds["v1"], builds["v2"], *args, cwd=tmp_path)
    assert code == 2 and message in stderr and "Traceback" not in stderr, stderr


def test_not_an_artifact(builds, tmp_path):
    code, _, stderr = cli(tmp_path, builds["v1"], cwd=tmp_path)
    assert code == 2 and "not a modelport artifact directory (no manifest.json)" in stderr


def test_the_page_takes_any_label_text(builds):
    """Labels are data: one that looks like TeX ("$\\frac{1$", which matplotlib's math parser
    rejects) or HTML is drawn and shown as the text it is."""
    from modelport.modeldiff.report import page
    report = modelport.diff(builds["v1"], builds["v2"])
    label = next(o for o in report["outputs"] if o["kind"] == "label")
    odd = "$\\frac{1$ <b>x</b>"
    label["old_counts"] = {odd: 3, **label["old_counts"]}
    text = page(report)
    assert "$\\frac{1$ &lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
