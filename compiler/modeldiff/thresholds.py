"""--fail-on thresholds: `METRIC[OUTPUT]>VALUE`, e.g. `label-flips>0.5%`, `psi>0.2`,
`max-abs-diff[prob_yes]>1e-6`."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import UsageError

# metric: (what it measures, the result key, whether it is a count of rows that % applies to)
METRICS = {
    "label-flips": ("rows whose label changed", "label_flips", True),
    "rows-differing": ("rows where any compared output differs", "differing", True),
    "max-abs-diff": ("largest absolute difference of a numeric output", "max_abs_diff", False),
    "mean-abs-diff": ("mean absolute difference of a numeric output", "mean_abs_diff", False),
    "psi": ("population stability index of an output's distribution", "psi", False),
    "refused": ("rows one model answers and the other refuses", "refused", True),
}
PATTERN = re.compile(r"^\s*([a-z-]+)\s*(?:\[([^\]]+)\])?\s*(>=|>)\s*([0-9.eE+-]+)\s*(%?)\s*$")
HELP = ("METRIC[OUTPUT]>VALUE, METRIC one of " + ", ".join(METRICS) +
        "; VALUE a number, or a percentage of the rows for label-flips, rows-differing and refused; "
        "[OUTPUT] limits it to one output column. E.g. --fail-on 'label-flips>0.5%' --fail-on 'psi>0.2'")


@dataclass
class Threshold:
    text: str
    metric: str
    output: str | None
    strict: bool   # > (else >=)
    value: float
    percent: bool

    def measured(self, report: dict) -> list:
        """(where, value) pairs this threshold looks at in a diff report."""
        key = METRICS[self.metric][1]
        n = max(report["rows"], 1)
        if self.metric == "refused":
            v = report["refused_rows"]
            return [("all outputs", 100.0 * v / n if self.percent else v)]
        if self.metric == "rows-differing" and self.output is None:
            v = report["rows_differing"]
            return [("all outputs", 100.0 * v / n if self.percent else v)]
        out = []
        for o in report["outputs"]:
            if self.output is not None and o["output"] != self.output:
                continue
            if key not in o:
                continue
            v = o[key]
            out.append((o["output"], 100.0 * v / max(o["rows"], 1) if self.percent else v))
        return out

    def exceeded(self, report: dict) -> list:
        """Messages for the outputs over the threshold."""
        msgs = []
        for where, v in self.measured(report):
            over = v > self.value if self.strict else v >= self.value
            if over:
                shown = f"{v:.4g}%" if self.percent else f"{v:.6g}"
                msgs.append(f"{where} has {shown}")
        return msgs


def parse(texts, outputs: list) -> list:
    """Thresholds from --fail-on texts; `outputs` are the compared output names."""
    out = []
    for text in texts or ():
        m = PATTERN.match(text)
        if not m or m.group(1) not in METRICS:
            raise UsageError(f"--fail-on {text!r}: expected {HELP}")
        metric, output, op, value, pct = m.groups()
        try:
            v = float(value)
        except ValueError:
            raise UsageError(f"--fail-on {text!r}: {value!r} is not a number") from None
        if pct and not METRICS[metric][2]:
            raise UsageError(f"--fail-on {text!r}: a percentage applies to counts of rows "
                             "(label-flips, rows-differing, refused), not to " + metric)
        if output is not None and output not in outputs:
            raise UsageError(f"--fail-on {text!r}: no compared output {output!r} (outputs: {', '.join(outputs)})")
        out.append(Threshold(text.strip(), metric, output, op == ">", v, bool(pct)))
    return out
