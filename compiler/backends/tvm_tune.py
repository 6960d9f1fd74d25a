"""MetaSchedule tuning under a time budget, one task at a time, where the time goes.

MetaSchedule's own task scheduler starts every call with the first tasks in the module's
order, so a short budget split into calls keeps tuning the same small tasks. Here each
round tunes one task: first every task in order of its share of the model's FLOPs, then the
task whose best measured time (times its weight) is largest, per round already spent on it.
Records and a ledger of the rounds live in one folder per module and target (tuning_dir),
so a later build reuses them and tunes further only when given more seconds.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

TRIALS_PER_ROUND = 16   # one search iteration: a round on one task
FAILED_RUN_S = 1e9      # MetaSchedule records a failed build or run as 1e10 s
DONE = 1 << 20          # rounds of a task that gets no more


def tune(mod, target, work: Path, seconds: float, progress=None, build=None) -> tuple:
    """Tune `mod` (a Relax module after the "zero" pipeline) for about `seconds` in all,
    counting seconds spent earlier in `work`. Returns (ledger, database): the ledger holds
    seconds, trials (measured candidates) and, per task, its name, FLOPs share, rounds and
    best time; the database the records to build with (on CPUs, only kernels checked against
    TVM's default ones: tvm_tune_check)."""
    from tvm.s_tir import meta_schedule as ms
    tasks = ms.relax_integration.extract_tasks(mod, target)
    work.mkdir(parents=True, exist_ok=True)
    ledger_file = work / "modelport-tuning.json"
    ledger = _load(ledger_file, tasks)
    db = ms.database.JSONDatabase(work_dir=str(work))
    if ledger["seconds"] >= seconds:
        if progress:
            progress(f"tuning records reused from {work} ({ledger['trials']} trials, {ledger['seconds']:.0f} s)")
    else:
        _rounds(tasks, target, work, db, ledger, ledger_file, seconds, progress, build)
    ledger["rejected"] = []
    if target.kind.name == "llvm":
        from .tvm_tune_check import checked_database
        db, ledger["rejected"] = checked_database(tasks, db, target, ledger, progress)
        ledger_file.write_text(json.dumps(ledger, indent=1))
    return ledger, db


def _rounds(tasks, target, work, db, ledger, ledger_file, seconds, progress, build):
    from tvm.s_tir import meta_schedule as ms
    builder = ms.builder.LocalBuilder(f_build=build) if build else "local"
    while ledger["seconds"] < seconds:
        i = _next_task(ledger["tasks"])
        if i is None:
            break
        entry = ledger["tasks"][i]
        if progress:
            progress(f"tuning with MetaSchedule: {ledger['seconds']:.0f} of {seconds:.0f} s, {ledger['trials']} "
                     f"trials so far; task {entry['name']} ({_pct(entry['flop_share'])} of the FLOPs)")
        t0 = time.time()
        # MetaSchedule's console handler takes this logger's level when each call sets up its
        # loggers (its log files keep everything): its progress is not the user's business.
        logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)
        contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts([tasks[i]], str(work))
        if contexts:
            ms.tune.tune_tasks(tasks=contexts, task_weights=weights, work_dir=str(work),
                               max_trials_global=TRIALS_PER_ROUND, max_trials_per_task=TRIALS_PER_ROUND,
                               num_trials_per_iter=TRIALS_PER_ROUND, builder=builder, database=db)
        entry["rounds"] += 1
        entry["best_s"] = _best(db, tasks[i])
        before, ledger["trials"] = ledger["trials"], measured(db)
        if not contexts or ledger["trials"] == before:
            # Already scheduled, or the search found no new candidate (a small design space,
            # all of it measured): no more rounds for this task.
            entry["rounds"] = DONE
        ledger["seconds"] += time.time() - t0
        ledger_file.write_text(json.dumps(ledger, indent=1))


def _load(path: Path, tasks) -> dict:
    if path.exists():
        ledger = json.loads(path.read_text())
        if len(ledger.get("tasks", [])) == len(tasks):
            return ledger
    from tvm.s_tir.analysis import estimate_tir_flops
    flops = [max(0.0, float(estimate_tir_flops(t.dispatched[0]))) * t.weight for t in tasks]
    total = sum(flops) or 1.0
    return {"seconds": 0.0, "trials": 0,
            "tasks": [{"name": t.task_name, "weight": int(t.weight), "flop_share": f / total, "rounds": 0,
                       "best_s": None} for t, f in zip(tasks, flops)]}


def _next_task(entries: list) -> int | None:
    """The untuned task with the most FLOPs; once all had a round, the one whose time in the
    model (best time x weight) per round spent on it is largest."""
    fresh = [i for i, e in enumerate(entries) if e["rounds"] == 0]
    if fresh:
        return max(fresh, key=lambda i: entries[i]["flop_share"])
    timed = [i for i, e in enumerate(entries) if e["best_s"] is not None and e["rounds"] < DONE]
    if not timed:
        return None
    return max(timed, key=lambda i: entries[i]["best_s"] * entries[i]["weight"] / entries[i]["rounds"])


def _best(db, task) -> float | None:
    mod = task.dispatched[0]
    if not db.has_workload(mod):
        return None
    top = [r for r in db.get_top_k(db.commit_workload(mod), 1) if succeeded(r)]
    return sum(float(s) for s in top[0].run_secs) / len(top[0].run_secs) if top else None


def succeeded(record) -> bool:
    """Whether a tuning record's candidate was built and timed (failed ones carry a 1e10 s run time)."""
    return bool(record.run_secs) and all(float(t) < FAILED_RUN_S for t in record.run_secs)


def measured(db) -> int:
    """Tuning records whose candidate was built and timed."""
    return sum(1 for r in db.get_all_tuning_records() if succeeded(r))


def _pct(x: float) -> str:
    return f"{x * 100:.2g}%" if x < 0.1 else f"{x * 100:.0f}%"
