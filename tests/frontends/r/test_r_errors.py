"""Bad R input on the command line: a clear message, exit code 2, no traceback, and nothing
half-written."""
import subprocess
import sys

import pytest

from r_helpers import r

MODELPORT = [sys.executable, "-m", "modelport.cli"]


def run(*args):
    return subprocess.run([*MODELPORT, *map(str, args)], capture_output=True, text=True, timeout=600)


def save(code, path):
    r("function(p) saveRDS({code}, p)".replace("{code}", code))(str(path))
    return path


def compile_fails(model, tmp_path, *messages):
    out = tmp_path / "out"
    proc = run("compile", model, "-o", out, "-t", "cpp")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    for m in messages:
        assert m in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_rds_that_is_not_a_model(tmp_path):
    compile_fails(save("mtcars", tmp_path / "data.rds"), tmp_path, "not a fitted model", "saveRDS")


def test_unsupported_model_class(tmp_path):
    model = save("loess(mpg ~ wt, data = mtcars)", tmp_path / "loess.rds")
    compile_fails(model, tmp_path, "R model class loess is not supported", "lm", "glm", "gam")


def test_formula_function_we_cannot_translate(tmp_path):
    model = save("lm(mpg ~ sin(wt) + hp, data = mtcars)", tmp_path / "sin.rds")
    compile_fails(model, tmp_path, "sin(wt)", "sin() is not supported")


def test_corrupt_rds(tmp_path):
    bad = tmp_path / "bad.rds"
    bad.write_bytes(b"this is not R data")
    compile_fails(bad, tmp_path, "cannot read", "saveRDS")


def test_model_whose_package_is_missing(tmp_path, monkeypatch):
    # A registered class whose R package is not installed (here: a made-up package name).
    import modelport
    from modelport.errors import UsageError
    from modelport.frontends import r as rfront
    monkeypatch.setitem(rfront.CLASSES, "madeup_model", ("lm", "madeupRpkg"))
    fit = r("structure(list(a = 1), class = 'madeup_model')")
    with pytest.raises(UsageError, match="needs the R package 'madeupRpkg'.*not installed"):
        modelport.compile(fit, targets=["cpp"], out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_data_missing_a_column(tmp_path):
    model = save("lm(mpg ~ wt + hp, data = mtcars)", tmp_path / "lm.rds")
    data = tmp_path / "rows.csv"
    data.write_text("wt\n2.5\n3.1\n")
    proc = run("compile", model, "-o", tmp_path / "out", "-t", "cpp", "--data", data)
    assert proc.returncode == 2
    assert "lacks the column(s) 'hp'" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_unknown_factor_level_is_rejected_by_the_program(tmp_path):
    model = save("lm(len ~ supp + dose, data = ToothGrowth)", tmp_path / "tg.rds")
    out = tmp_path / "out"
    proc = run("compile", model, "-o", out, "-t", "cpp,java", "-q")
    assert proc.returncode == 0, proc.stderr
    good = "supp,dose\nVC,0.5\nOJ,1\n,2\n"
    bad = "supp,dose\nVC,0.5\nXX,1\n"
    for cmd in ([str(out / "cpp" / "bin" / "tg")], ["java", "-jar", str(out / "java" / "tg.jar")]):
        ok = subprocess.run(cmd, input=good, capture_output=True, text=True)
        assert ok.returncode == 0, ok.stderr
        lines = ok.stdout.splitlines()
        assert lines[0] == "prediction" and len(lines) == 4
        assert lines[3].lower() == "nan"  # a missing factor value gives NA, as in R
        no = subprocess.run(cmd, input=bad, capture_output=True, text=True)
        assert no.returncode == 2
        assert "XX" in no.stderr and "supp" in no.stderr


def test_starting_r_leaves_the_library_path_of_child_processes_alone():
    # In a fresh process: start R through the bridge, then a child Python must still load
    # its own libpython (R's library paths would point it at the system's).
    code = ("import os, subprocess, sys\n"
            "before = os.environ.get('LD_LIBRARY_PATH')\n"
            "from modelport.frontends.r import bridge\n"
            "bridge.robjects().r('library(randomForest)')\n"
            "assert os.environ.get('LD_LIBRARY_PATH') == before, os.environ.get('LD_LIBRARY_PATH')\n"
            "subprocess.run([sys.executable, '-c', 'import ssl, pyarrow.parquet'], check=True)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
