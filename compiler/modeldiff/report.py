"""diff.json, diff.md and diff.html (one self-contained page: inline SVG, no script, no
network) from a diff report."""
from __future__ import annotations

import html
import json
import math
from pathlib import Path

from ..svg_plot import svg


def _plain(v):
    """The report as JSON values: private keys dropped, infinities as the strings "inf"/"-inf"."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items() if not k.startswith("_")}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


def write(report: dict, out: Path):
    out.mkdir(parents=True, exist_ok=True)
    (out / "diff.json").write_text(json.dumps(_plain(report), indent=2) + "\n")
    (out / "diff.md").write_text(markdown(report))
    (out / "diff.html").write_text(page(report))


def _g(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _verdict(report: dict) -> str:
    if not report["thresholds"]:
        return "compared (no --fail-on thresholds)"
    return "PASSED" if report["passed"] else "FAILED"


def _summary_rows(report: dict) -> list:
    rows = []
    for o in report["outputs"]:
        if o["kind"] == "label":
            rows.append([o["output"], "label", f"{o['label_flips']} flips ({100 * o['flip_rate']:.3g}%)", "", "",
                         _g(o["psi"])])
        else:
            rows.append([o["output"], "number", f"{o['differing']} rows", _g(o["max_abs_diff"]),
                         _g(o["mean_abs_diff"]), _g(o["psi"])])
    return rows


HEAD = ["output", "kind", "differing", "max abs diff", "mean abs diff", "PSI"]


def markdown(report: dict) -> str:
    a, b = report["old"], report["new"]
    lines = [f"# Diff: {a['name']} ({a['directory']}) -> {b['name']} ({b['directory']})", "",
             f"**{_verdict(report)}**: {report['compared_rows']} of {report['rows']} rows compared "
             f"({report['data']}) with the {report['target']} programs; {report['rows_differing']} rows differ; "
             f"{report['refused_rows']} refused by one model.", "",
             "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(_md(c) for c in r) + " |" for r in _summary_rows(report)]
    for t in report["thresholds"]:
        lines.append("")
        lines.append(f"- `--fail-on {t['fail_on']}`: " + ("; ".join(t["exceeded"]) if t["exceeded"] else "holds"))
    for o in report["outputs"]:
        if o["kind"] == "label" and o["transitions"]:
            lines += ["", f"## {_md(o['output'])}: label flips", "", "| old | new | rows |", "|---|---|---|"]
            lines += [f"| {_md(t['old'])} | {_md(t['new'])} | {t['rows']} |" for t in o["transitions"]]
    if report["refused"]:
        lines += ["", "## Rows one model refuses", ""]
        lines += [f"- row {r['row']}: {r['by']} model: {_md(r['message'])}" for r in report["refused"]]
    ins = report["inputs"]
    if ins["only_old"] or ins["only_new"]:
        lines += ["", f"Inputs only the old model uses: {', '.join(ins['only_old']) or 'none'}; "
                      f"only the new: {', '.join(ins['only_new']) or 'none'}."]
    lines += ["", "Rows, worst differences and flips: diff.json, diff.html."]
    return "\n".join(lines) + "\n"


def _md(s) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------------------------------------
# diff.html
# ---------------------------------------------------------------------------------------------

STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;
vertical-align:top}th{background:#f3f3f3}.pass{color:#0a0;font-weight:bold}.fail{color:#c00;font-weight:bold}
code{background:#f6f6f6;padding:0 .2em}.small{font-size:85%;color:#555}"""


def _e(s) -> str:
    return html.escape(str(s), quote=True)


def _table(head: list, rows: list) -> str:
    return ("<table><tr>" + "".join(f"<th>{_e(h)}</th>" for h in head) + "</tr>" +
            "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>")


def _inputs_text(inputs: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in inputs.items())


def _svg(draw) -> str:
    """A plot of one axes that `draw(ax)` fills, as inline SVG (compiler/svg_plot.py)."""
    def fill(fig):
        draw(fig.add_subplot())
        fig.tight_layout()
    return svg(6, 2.6, fill)


def _plot_numbers(o: dict) -> str:
    import numpy as np
    old, new = o["_values"]
    fo, fn = old[np.isfinite(old)], new[np.isfinite(new)]
    if not fo.size and not fn.size:
        return ""
    lo, hi = float(min(fo.min(initial=np.inf), fn.min(initial=np.inf))), float(max(fo.max(initial=-np.inf),
                                                                                      fn.max(initial=-np.inf)))
    bins = np.linspace(lo, hi if hi > lo else lo + 1, 31)

    def draw(ax):
        ax.hist(fo, bins=bins, alpha=0.55, label="old")
        ax.hist(fn, bins=bins, alpha=0.55, label="new")
        ax.set_xlabel(o["output"])
        ax.set_ylabel("rows")
        ax.legend()
    return _svg(draw)


def _plot_labels(o: dict) -> str:
    levels = sorted(set(o["old_counts"]) | set(o["new_counts"]))[:30]

    def draw(ax):
        import numpy as np
        x = np.arange(len(levels))
        ax.bar(x - 0.2, [o["old_counts"].get(v, 0) for v in levels], width=0.4, label="old")
        ax.bar(x + 0.2, [o["new_counts"].get(v, 0) for v in levels], width=0.4, label="new")
        ax.set_xticks(x, [str(v)[:20] for v in levels], rotation=30, ha="right")
        ax.set_ylabel("rows")
        ax.legend()
    return _svg(draw)


def page(report: dict) -> str:
    a, b = report["old"], report["new"]
    verdict = _verdict(report)
    cls = "pass" if report["passed"] else "fail"
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Diff: {_e(a['name'])} -&gt; {_e(b['name'])}"
             f"</title><style>{STYLE}</style></head><body>",
             f"<h1>Diff: {_e(a['name'])} &rarr; {_e(b['name'])}</h1>",
             f"<p class='{cls}'>{_e(verdict)}</p>",
             f"<p>{report['compared_rows']} of {report['rows']} rows compared ({_e(report['data'])}) with the "
             f"{_e(report['target'])} programs; {report['rows_differing']} rows differ; "
             f"{report['refused_rows']} refused by one model.</p>",
             _table(["", "directory", "model", "source", "parity at build"],
                    [[k, m["directory"], m["name"], _source(m), m["parity_passed"]] for k, m in (("old", a), ("new", b))]),
             _table(HEAD, _summary_rows(report))]
    if report["thresholds"]:
        parts.append(_table(["--fail-on", "result"], [[t["fail_on"], "; ".join(t["exceeded"]) or "holds"]
                                                      for t in report["thresholds"]]))
    for o in report["outputs"]:
        parts.append(f"<h2>{_e(o['output'])}</h2>")
        if o["kind"] == "label":
            parts.append(f"<p>{o['label_flips']} label flips of {o['rows']} rows; PSI {_g(o['psi'])}.</p>")
            parts.append(_plot_labels(o))
            if o["transitions"]:
                parts.append(_table(["old", "new", "rows"], [[t["old"], t["new"], t["rows"]] for t in o["transitions"]]))
                parts.append(_table(["row", "old", "new", "inputs"], [[r["row"], r["old"], r["new"],
                                                                       _inputs_text(r["inputs"])]
                                                                      for r in o["flipped_rows"]]))
        else:
            parts.append(f"<p>{o['differing']} of {o['rows']} rows differ; largest difference "
                         f"{_g(o['max_abs_diff'])}, mean {_g(o['mean_abs_diff'])}; PSI {_g(o['psi'])}.</p>")
            parts.append(_plot_numbers(o))
            if o["worst_rows"]:
                parts.append(_table(["row", "old", "new", "abs diff", "inputs"],
                                    [[r["row"], r["old"], r["new"], _g(r["abs_diff"]), _inputs_text(r["inputs"])]
                                     for r in o["worst_rows"]]))
    if report["refused"]:
        parts.append("<h2>Rows one model refuses</h2>")
        parts.append(_table(["row", "refused by", "message", "inputs"],
                            [[r["row"], r["by"], r["message"], _inputs_text(r["inputs"])] for r in report["refused"]]))
    parts.append("<p class='small'>Written by modelport diff. Rows count from 0 in the data.</p></body></html>\n")
    return "\n".join(parts)


def _source(m: dict) -> str:
    s = m.get("source") or {}
    return " ".join(str(x) for x in (s.get("framework"), s.get("framework_version"), s.get("estimator")) if x)
