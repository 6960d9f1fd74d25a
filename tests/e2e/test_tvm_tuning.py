"""--tune: MetaSchedule really measures candidates, the heaviest task first, the tuned library
keeps parity, and a rebuild reuses the cached records instead of tuning again."""
import json
from pathlib import Path

import pytest

import modelport

from helpers import compile_and_check
from test_tvm_targets import residual_cnn


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("MODELPORT_CACHE", str(cache))
    mp.setenv("TVM_NUM_THREADS", "1")
    tmp = tmp_path_factory.mktemp("tuned")
    # One second of budget still runs one whole round: one task, one search iteration.
    manifest = compile_and_check(residual_cnn(), tmp, targets=("tvm-llvm",), name="cnn", rows=16, batch=2, tune=1)
    yield tmp, manifest
    mp.undo()


def test_tuning_measures_the_heaviest_task_first(tuned):
    _, manifest = tuned
    info = manifest["targets"]["tvm-llvm"]
    assert info["tuned"] and info["trials"] >= 1, info
    ledger = json.loads((Path(info["records"]) / "modelport-tuning.json").read_text())
    tasks = ledger["tasks"]
    assert len(tasks) == info["tasks"] >= 2
    heaviest = max(tasks, key=lambda t: t["flop_share"])
    assert "conv2d" in heaviest["name"]
    assert heaviest["rounds"] == 1 and heaviest["best_s"] > 0
    assert sum(t["rounds"] for t in tasks) == 1
    assert info["tasks_tuned"] == 1 and info["flop_share_tuned"] == pytest.approx(heaviest["flop_share"], abs=1e-4)


def test_rebuild_reuses_the_records(tuned, tmp_path):
    _, first = tuned
    said = []
    manifest = modelport.compile(residual_cnn(), targets=["tvm-llvm"], out=tmp_path / "again", name="cnn", rows=16,
                                 batch=2, tune=1, progress=said.append)
    assert manifest["parity"]["passed"]
    info, before = manifest["targets"]["tvm-llvm"], first["targets"]["tvm-llvm"]
    assert info["records"] == before["records"]
    assert (info["trials"], info["tuning_seconds"]) == (before["trials"], before["tuning_seconds"])
    assert any("tuning records reused" in s for s in said), said


def test_tuned_kernels_are_checked_against_the_default_ones(tuned):
    _, manifest = tuned
    info = manifest["targets"]["tvm-llvm"]
    assert info["kernels_rejected"] == []
    ledger = json.loads((Path(info["records"]) / "modelport-tuning.json").read_text())
    checked = [t for t in ledger["tasks"] if t.get("checked")]
    assert checked and all(t["checked"]["rank"] == 0 for t in checked), checked


def test_a_kernel_that_disagrees_is_left_out(tuned, tmp_path, monkeypatch):
    """Fault injection: every tuned kernel made to disagree with the default one. The build
    leaves them all out (TVM's default schedules) and still passes parity."""
    from modelport.backends import tvm_tune_check
    _, first = tuned
    ledger_file = Path(first["targets"]["tvm-llvm"]["records"]) / "modelport-tuning.json"
    saved = ledger_file.read_text()
    ledger = json.loads(saved)
    for t in ledger["tasks"]:
        t.pop("checked", None)
    ledger_file.write_text(json.dumps(ledger))
    monkeypatch.setattr(tvm_tune_check, "_close", lambda got, want: False)
    try:
        manifest = modelport.compile(residual_cnn(), targets=["tvm-llvm"], out=tmp_path / "out", name="cnn",
                                     rows=16, batch=2, tune=1)
    finally:
        ledger_file.write_text(saved)
    assert manifest["parity"]["passed"]
    heaviest = max(ledger["tasks"], key=lambda t: t["flop_share"])["name"]
    assert heaviest in manifest["targets"]["tvm-llvm"]["kernels_rejected"]
