"""parity.json, parity.xml (JUnit), parity.md and parity.html from a list of checks."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr


@dataclass
class ParityReport:
    model: str
    rows: int
    data: str
    reference: str
    checks: list = field(default_factory=list)  # dicts: target, runner, output, against, passed, ...
    errors: list = field(default_factory=list)  # dicts: target, runner, error
    # Runners this machine cannot run (a GPU artifact without a GPU): target, runner, reason.
    # They neither pass nor fail; every report lists them.
    skipped: list = field(default_factory=list)
    # The precision the model computes in (float64 or float32): each check's tolerance follows
    # the precision of its output (docs/parity.md).
    precision: str = "float32"
    # What parity.html shows besides the checks (kept out of parity.json): per check, the
    # per-row errors and both answers (None where shapes differ), aligned with `checks`; the
    # parity rows ({column: values}), the input schema, and {class: bool per row}.
    details: list = field(default_factory=list, repr=False)
    inputs: dict | None = field(default=None, repr=False)
    schema: object = field(default=None, repr=False)
    classes: dict = field(default_factory=dict, repr=False)
    # Where a mismatch starts (parity/stages.py), when a check fails: the stage, and the node.
    mismatch: dict | None = None

    @property
    def passed(self) -> bool:
        return not self.errors and all(c["passed"] for c in self.checks) and bool(self.checks)

    def summary(self) -> dict:
        return {"passed": self.passed, "rows": self.rows, "data": self.data, "reference": self.reference,
                "precision": self.precision,
                "checks": len(self.checks), "failed": sum(not c["passed"] for c in self.checks) + len(self.errors),
                "not_run": [f"{s['target']} ({s['runner']}): {s['reason']}" for s in self.skipped]}

    def table(self) -> list:
        """One line per target/runner: pass or fail over all its outputs."""
        rows = {}
        for c in self.checks:
            key = (c["target"], c["runner"])
            rows.setdefault(key, []).append(c)
        out = []
        for (target, runner), cs in rows.items():
            worst = max((c.get("max_abs_error", 0.0) for c in cs), default=0.0)
            labels = sum(c.get("mismatched", 0) for c in cs if c["kind"] == "label")
            precs = sorted({c.get("precision", "float32") for c in cs})
            out.append({"target": target, "runner": runner, "passed": all(c["passed"] for c in cs),
                        "precision": "/".join(precs), "max_abs_error": worst, "label_mismatches": labels,
                        "ties": sum(c.get("ties", 0) for c in cs)})
        for e in self.errors:
            out.append({"target": e["target"], "runner": e["runner"], "passed": False, "error": e["error"]})
        return out

    def write(self, directory: Path):
        directory = Path(directory)
        (directory / "parity.json").write_text(json.dumps(
            {"summary": self.summary(), "model": self.model, "checks": self.checks, "errors": self.errors,
             "skipped": self.skipped, "row_classes": {k: int(v.sum()) for k, v in self.classes.items()},
             **({"mismatch": self.mismatch} if self.mismatch else {})},
            indent=2) + "\n")
        (directory / "parity.xml").write_text(self.junit())
        (directory / "parity.md").write_text(self.markdown())
        from .html import write_html
        write_html(directory, self)

    def junit(self) -> str:
        cases = []
        for c in self.checks:
            name = f"{c['target']}/{c['runner']}: {c['output']} vs {c['against']} ({c.get('precision', 'float32')})"
            body = ""
            if not c["passed"]:
                msg = c.get("detail") or (f"{c.get('mismatched', 0)} of {c['rows']} rows differ; "
                                          f"max abs error {c.get('max_abs_error', 0):.3g}")
                body = f"<failure message={quoteattr(msg)}>{escape(json.dumps(c))}</failure>"
            cases.append(f'  <testcase classname="modelport.parity.{escape(self.model)}" name={quoteattr(name)}>'
                         f"{body}</testcase>")
        for e in self.errors:
            name = f"{e['target']}/{e['runner']}: run"
            cases.append(f'  <testcase classname="modelport.parity.{escape(self.model)}" name={quoteattr(name)}>'
                         f"<error message={quoteattr(e['error'][:500])}/></testcase>")
        for s in self.skipped:
            name = f"{s['target']}/{s['runner']}: run"
            cases.append(f'  <testcase classname="modelport.parity.{escape(self.model)}" name={quoteattr(name)}>'
                         f"<skipped message={quoteattr(s['reason'])}/></testcase>")
        failures = sum(not c["passed"] for c in self.checks)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<testsuite name="modelport parity" tests="{len(cases)}" failures="{failures}" '
                f'errors="{len(self.errors)}" skipped="{len(self.skipped)}">\n' + "\n".join(cases) + "\n</testsuite>\n")

    def markdown(self) -> str:
        lines = [f"# Parity: {self.model}", "",
                 f"**{'PASSED' if self.passed else 'FAILED'}** on {self.rows} rows ({self.data}); "
                 f"reference: {self.reference}; the model computes in {self.precision}.", "",
                 "| target | runs as | result | precision | max abs error | label mismatches | ties |",
                 "|---|---|---|---|---|---|---|"]
        for r in self.table():
            if "error" in r:
                lines.append(f"| {r['target']} | {r['runner']} | ERROR: {r['error'][:120]} | | | | |")
            else:
                lines.append(f"| {r['target']} | {r['runner']} | {'pass' if r['passed'] else 'FAIL'} | "
                             f"{r['precision']} | {r['max_abs_error']:.3g} | {r['label_mismatches']} | {r['ties']} |")
        for s in self.skipped:
            lines.append(f"| {s['target']} | {s['runner']} | not run: {s['reason']} | | | | |")
        tie_rows = sorted({i for c in self.checks for i in c.get("tie_rows", [])})
        if tie_rows:
            lines += ["", "Rows counted as ties (the original's own answer is decided by a tie, e.g. two "
                      f"neighbours at the same distance): {', '.join(str(i) for i in tie_rows[:40])}"]
        if self.mismatch:
            lines += ["", f"**Where the mismatch starts** ({self.mismatch.get('target')}): "
                          f"{self.mismatch.get('stage')}: {self.mismatch.get('detail', '')}"]
        lines += ["", "Details per output: parity.json; plots, worst rows and row classes: parity.html. "
                  "Tolerances: docs/parity.md."]
        return "\n".join(lines) + "\n"
