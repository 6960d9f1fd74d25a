"""`modelport diff OLD NEW`: two builds of a model scored on the same rows, compared output by
output (label flips, value differences, distribution shift), with thresholds for CI."""
from __future__ import annotations

from pathlib import Path

from ..errors import UsageError
from . import thresholds as thresholds_mod
from .measures import compare_label, compare_numbers
from .report import write
from .scoring import Artifact, choose_target, rows_for, score

REFUSED_ROWS = 50  # refused rows listed in the report


def diff(old, new, data=None, target: str | None = None, fail_on=(), out=None, progress=None) -> dict:
    """Compares the artifact directories `old` and `new` on `data` (a CSV file; default: the
    rows both store from their parity checks). Writes diff.json, diff.md and diff.html to
    `out` when given. Returns the report (a dict); report["passed"] is False when a
    `fail_on` threshold is exceeded."""
    say = progress or (lambda msg: None)
    a, b = Artifact.load(old), Artifact.load(new)
    out_names = [n for n, _ in a.outputs]
    common = [(n, k) for n, k in a.outputs if n in {m for m, _ in b.outputs}]
    if not common:
        raise UsageError(f"the two models have no output column in common ({a.name}: {', '.join(out_names)}; "
                         f"{b.name}: {', '.join(n for n, _ in b.outputs)}): nothing to compare")
    limits = thresholds_mod.parse(fail_on, [n for n, _ in common])
    target = choose_target(a, b, target)
    header, rows, source = rows_for(a, b, Path(data) if data is not None else None)
    say(f"scoring {len(rows)} rows ({source}) with {target}: {a.directory}")
    sa = score(a.command(target), header, rows)
    say(f"scoring {len(rows)} rows with {target}: {b.directory}")
    sb = score(b.command(target), header, rows)

    answered = [i for i in range(len(rows)) if sa.rows[i] is not None and sb.rows[i] is not None]
    refused = sorted([(i, "old", m) for i, m in sa.refused.items()] +
                     [(i, "new", m) for i, m in sb.refused.items()])
    inputs = {i: dict(zip(header, rows[i])) for i in range(len(rows))}
    outputs = []
    differing = set()
    for name, kind in common:
        ka, kb = sa.header.index(name), sb.header.index(name)
        va = [sa.rows[i][ka] for i in answered]
        vb = [sb.rows[i][kb] for i in answered]
        numeric = kind != "label" and dict(b.outputs).get(name) != "label" and not _texts(va + vb)
        r = compare_numbers(name, va, vb, answered) if numeric else compare_label(name, va, vb, answered)
        for listed in r.get("worst_rows", []) + r.get("flipped_rows", []):
            listed["inputs"] = inputs[listed["row"]]
        differing |= {answered[i] for i in r["_differing"]}
        outputs.append(r)
    report = {
        "old": _about(a), "new": _about(b), "target": target, "data": source, "rows": len(rows),
        "compared_rows": len(answered), "rows_differing": len(differing),
        "refused_rows": len({i for i, _, _ in refused}),
        "refused": [{"row": i, "by": who, "message": m, "inputs": inputs[i]} for i, who, m in refused[:REFUSED_ROWS]],
        "inputs": {"shared": [c for c in a.inputs if c in b.inputs],
                   "only_old": [c for c in a.inputs if c not in b.inputs],
                   "only_new": [c for c in b.inputs if c not in a.inputs]},
        "outputs": outputs,
        "outputs_only_old": [n for n, _ in a.outputs if n not in {m for m, _ in common}],
        "outputs_only_new": [n for n, _ in b.outputs if n not in {m for m, _ in common}],
    }
    report["thresholds"] = [{"fail_on": t.text, "exceeded": t.exceeded(report)} for t in limits]
    report["passed"] = not any(t["exceeded"] for t in report["thresholds"])
    if out is not None:
        write(report, Path(out))
        say(f"wrote {Path(out) / 'diff.html'}, diff.md and diff.json")
    return report


def _texts(values: list) -> bool:
    """Whether some value is not a number (a label output)."""
    for v in values:
        if v == "":
            continue
        try:
            float(v)
        except ValueError:
            return True
    return False


def _about(a: Artifact) -> dict:
    m = a.manifest
    return {"directory": str(a.directory), "name": a.name, "modelport_version": m.get("modelport_version"),
            "source": m.get("source"), "precision": m.get("precision"),
            "parity_passed": (m.get("parity") or {}).get("passed")}
