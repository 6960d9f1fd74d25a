"""The CI recipes of docs/ci.md: each recipe's shell steps, read from the page and run exactly as
written (bash, in a repository laid out as the page says), on a small scikit-learn model. Only
the installation step is left out: it needs the package index, and this environment already
has what it installs."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

DOC = Path(__file__).resolve().parents[2] / "docs" / "ci.md"


def blocks() -> dict:
    """{section title: the first fenced code block under it}."""
    text = DOC.read_text()
    out = {}
    for m in re.finditer(r"^## (.+?)\n.*?^```\w*\n(.*?)^```", text, re.S | re.M):
        out[m.group(1)] = m.group(2)
    return out


def github_steps(text: str) -> list:
    doc = yaml.safe_load(text)
    steps = doc["jobs"]["model"]["steps"]
    return [s["run"] for s in steps if "run" in s and not s.get("name", "").startswith("Install")]


def gitlab_steps(text: str) -> list:
    job = yaml.safe_load(text)["model"]
    assert job["artifacts"]["reports"]["junit"] == "reports/parity.xml"
    return job["script"] + job["after_script"]


def jenkins_steps(text: str) -> list:
    stages = re.findall(r"stage\('([^']+)'\)(.*?)(?=\n    stage\(|\n  \}\n  post)", text, re.S)
    steps = []
    for name, body in stages:
        if name != "Install":
            steps += [m.group(2) for m in re.finditer(r"\bsh (['\"])(.*?)\1", body)]
    post = text[text.index("  post {"):]
    steps += [m.group(2) for m in re.finditer(r"\bsh (['\"])(.*?)\1", post)]
    assert "junit 'reports/parity.xml'" in post
    return steps


RECIPES = {"GitHub Actions": github_steps, "GitLab CI": gitlab_steps, "Jenkins": jenkins_steps}


def frame(n, seed):
    rng = np.random.RandomState(seed)
    return pd.DataFrame({"tenure": rng.uniform(0, 72, n).round(1), "plan": rng.choice(["basic", "pro", "team"], n),
                         "spend": rng.normal(60, 20, n).round(2)})


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    """models/churn.skops, data/holdout.csv and prod/churn (the same model, built before)."""
    skops_io = pytest.importorskip("skops.io")
    d = tmp_path_factory.mktemp("ci_repo")
    df = frame(400, 0)
    y = (df.tenure < 20) ^ (df.plan == "team")
    est = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["tenure", "spend"]),
                                                ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])),
                    ("clf", LogisticRegression(max_iter=500))]).fit(df, y)
    (d / "models").mkdir()
    (d / "data").mkdir()
    skops_io.dump(est, d / "models" / "churn.skops")
    frame(150, 1).to_csv(d / "data" / "holdout.csv", index=False)
    r = subprocess.run([sys.executable, "-m", "modelport.cli", "compile", "models/churn.skops", "-t", "cpp,java",
                        "-o", "prod/churn", "-q"], cwd=d, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return d


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_recipe_runs_as_written(recipe, repo, tmp_path):
    steps = RECIPES[recipe](blocks()[recipe])
    assert any(s.startswith("modelport compile") for s in steps) and any("modelport diff" in s for s in steps)
    work = tmp_path / "repo"
    subprocess.run(["cp", "-a", str(repo), str(work)], check=True)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for step in steps:
        r = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", step], cwd=work, env=env, capture_output=True,
                           text=True, timeout=900)
        assert r.returncode == 0, f"{recipe}: {step}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    junit = (work / "reports" / "parity.xml").read_text()
    assert "<testsuite" in junit and 'failures="0"' in junit
    assert (work / "reports" / "parity.html").read_text().lstrip().lower().startswith("<!doctype html")
    assert (work / "reports" / "parity.md").is_file()
    assert "**PASSED**" in (work / "reports" / "diff" / "diff.md").read_text()
