"""Tuned kernels checked against TVM's default (unscheduled) ones before a build uses them.

MetaSchedule times its candidates but never checks what they compute, and some schedules it
finds are wrong (seen here: a fused convolution with padding of MobileNetV2 whose tuned
kernel wrote wrong values). Each task's fastest records are run on seeded random inputs next
to the task's own unscheduled kernel; the fastest that agrees is used, and a task none of
whose records agree keeps the default schedule. Verdicts are kept in the tuning ledger, so a
rebuild from the same records does not check again.
"""
from __future__ import annotations

import numpy as np

from .tvm_tune import succeeded

TOP_K = 5  # records tried per task, fastest first


def checked_database(tasks, db, target, ledger: dict, progress=None):
    """A database holding, per task, its fastest record whose kernel agrees with the default
    one. Updates ledger["tasks"][i]["checked"] = {"trials": ..., "rank": r or None}."""
    import tvm
    from tvm.s_tir import meta_schedule as ms
    out = ms.database.MemoryDatabase()
    rejected = []
    for task, entry in zip(tasks, ledger["tasks"]):
        mod = task.dispatched[0]
        if not db.has_workload(mod):
            continue
        records = db.get_top_k(db.commit_workload(mod), TOP_K)
        seen = entry.get("checked")
        if seen and seen.get("trials") == ledger["trials"]:
            rank = seen["rank"]
        else:
            rank = _first_agreeing(mod, records, target, tvm)
            entry["checked"] = {"trials": ledger["trials"], "rank": rank}
        if rank is None:
            rejected.append(entry["name"])
            continue
        best = records[rank]
        out.commit_tuning_record(ms.database.TuningRecord(best.trace, out.commit_workload(mod), best.run_secs,
                                                          best.target, best.args_info))
        if rank:
            rejected.append(f"{entry['name']} (its {_nth(rank)} fastest record agrees)")
    if rejected and progress:
        progress(f"tuned kernels that disagree with TVM's default ones, left out: {', '.join(rejected)}")
    return out, rejected


def _first_agreeing(mod, records, target, tvm) -> int | None:
    from tvm.s_tir import meta_schedule as ms
    args = _inputs(ms.arg_info.ArgInfo.from_prim_func(mod["main"]))
    try:
        want = _run(mod, args, target, tvm)
    except Exception:  # noqa: BLE001 - no default kernel to compare with: the records are not used
        return None
    for rank, record in enumerate(records):
        if not succeeded(record):
            continue
        sch = tvm.s_tir.Schedule(mod)
        try:
            record.trace.apply_to_schedule(sch, remove_postproc=False)
            got = _run(sch.mod, args, target, tvm)
        except Exception:  # noqa: BLE001 - a record that does not rebuild is not used
            continue
        if all(_close(g, w) for g, w in zip(got, want)):
            return rank
    return None


def _inputs(infos) -> list:
    """Seeded values for every buffer: floats in [-1, 1], integers and booleans 0 (indices
    that are in range for any table)."""
    rng = np.random.default_rng(0)
    out = []
    for info in infos:
        shape, dtype = [int(d) for d in info.shape], str(info.dtype)
        if dtype.startswith("float"):
            out.append(rng.uniform(-1, 1, shape).astype(dtype))
        else:
            out.append(np.zeros(shape, dtype=dtype))
    return out


def _run(mod, args, target, tvm) -> list:
    from tvm.driver import build
    lib = build(mod, target=target)
    tensors = [tvm.runtime.tensor(a.copy()) for a in args]
    lib["main"](*tensors)
    return [t.numpy() for t in tensors]


def _close(got, want) -> bool:
    if got.dtype.kind != "f":
        return np.array_equal(got, want)
    scale = max(1.0, float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0)))
    return bool(np.allclose(got, want, rtol=1e-3, atol=1e-4 * scale, equal_nan=True))


def _nth(rank: int) -> str:
    return {1: "2nd", 2: "3rd"}.get(rank, f"{rank + 1}th")
