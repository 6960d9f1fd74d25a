"""parity.html: the parity report as one self-contained page (inline CSS and SVG, no script,
nothing fetched): the verdict of every check, its errors against the tolerance, the worst
rows with their inputs and both answers, the classes of rows exercised, and provenance.
Everything from the model or its data (names, levels, labels) is escaped: it is data."""
from __future__ import annotations

import json
import threading
from html import escape
from pathlib import Path

import numpy as np

from ..svg_plot import svg

INLINE_INPUTS = 6  # input values shown beside a worst row (all of them in the rows section)
ROW_COLUMNS = 40  # input columns in the rows section (image models have thousands)
ROWS_SHOWN = 120  # rows in the rows section, over all checks
FLOOR, CEIL = -8, 8  # log10(error / tolerance) plotted, clipped to this range
STATE = {"tie": "tie", "bad": "differs", "ok": "within"}
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.2em;margin-top:1.8em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;font-weight:bold;padding:.15em .6em;border-radius:4px;color:#fff}
.PASSED,.pass{background:#1a7f37}.FAILED,.FAIL,.ERROR{background:#cf222e}.skip{background:#888}
td.pass,td.FAIL,td.ERROR,td.skip{color:#fff;font-weight:bold}
td.ok{background:#dafbe1}td.bad{background:#ffd7d5}td.tie{background:#fff3c4}
.mono{font-family:ui-monospace,monospace;word-break:break-all}.nw{white-space:nowrap;word-break:normal}
details{margin:.4em 0;border:1px solid #ddd;border-radius:4px;padding:.3em .6em}
summary{cursor:pointer}svg{max-width:100%;height:auto}.note{color:#555}
"""


def preload() -> None:
    """Import matplotlib (about half a second) in the background while the artifacts run."""
    def load():
        try:
            import matplotlib.backends.backend_svg
            import matplotlib.figure
            del matplotlib
        except Exception:  # the page reports it when it draws
            pass
    threading.Thread(target=load, name="modelport-parity-html-preload", daemon=True).start()


def write_html(directory: Path, report) -> None:
    manifest_path = Path(directory) / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    (Path(directory) / "parity.html").write_text(render(report, manifest), encoding="utf-8")


def render(report, manifest: dict) -> str:
    verdict = "PASSED" if report.passed else "FAILED"
    checks = list(enumerate(report.checks))
    shown_rows: list = []
    parts = [
        f"<h1>Parity: {_e(report.model)} <span class='verdict {verdict}'>{verdict}</span></h1>",
        f"<p>{report.rows} rows ({_e(report.data)}); reference: {_e(report.reference)}; the model "
        f"computes in {_e(report.precision)}. {len(report.checks)} checks, "
        f"{sum(not c['passed'] for c in report.checks)} failed, {len(report.errors)} runner errors, "
        f"{len(report.skipped)} not run.</p>",
        *(_mismatch(report.mismatch) if report.mismatch else []),
        "<h2>Verdicts</h2>", _verdicts(report),
        "<h2>Errors against the tolerance</h2>", _distribution(report),
        "<h2>Rows exercised</h2>", _classes(report),
        "<h2>Worst rows per check</h2>",
        *(_check(k, c, report, shown_rows) for k, c in checks),
        "<h2>Rows shown above: all their inputs</h2>", _rows(report, shown_rows),
        "<h2>Columns</h2>", _columns(report),
        "<h2>Provenance</h2>", _provenance(manifest),
    ]
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            f"<title>Parity {verdict}: {_e(report.model)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


def _mismatch(m: dict) -> list:
    """Where the mismatch starts: the stage, the node, and what each stage showed."""
    rows = [[st.get("stage", ""), {True: "agrees", False: "DIFFERS", None: "not checked"}.get(st.get("agrees"), ""),
             "; ".join(x for x in (st.get("what", ""), st.get("detail", ""),
                                   f"{st['compared']} intermediate tensors agree" if "compared" in st else "") if x)]
            for st in m.get("stages", [])]
    where = " ".join(x for x in [
        f"node <code>{_e(m['node'])}</code> ({_e(m.get('domain', ''))}:{_e(m.get('op', ''))}), tensor "
        f"<code>{_e(m.get('tensor', ''))}</code>" if m.get("node") else "",
        f"pass <code>{_e(m['pass'])}</code>" if m.get("pass") else "",
        f"first at row {m['row']}" if "row" in m else ""] if x)
    return ["<h2>Where the mismatch starts</h2>",
            f"<p class='mismatch'><b>{_e(m.get('stage'))}</b> ({_e(m.get('target'))}): {_e(m.get('detail', ''))}"
            + (f"<br>{where}" if where else "") + "</p>",
            "<table><tr><th>stage</th><th>result</th><th>what was compared</th></tr>"
            + "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>" for r in rows) + "</table>"]


def _e(x) -> str:
    return escape(str(x), quote=True)


def _num(x) -> str:
    """A value as it is: floats exactly (repr), text quoted, an empty text as missing."""
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return "NaN" if np.isnan(x) else repr(x)
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (str, np.str_)):
        return '"" (missing)' if x == "" else json.dumps(str(x), ensure_ascii=False)
    return str(x)


def _short(x: float) -> str:
    return "0" if x == 0 else ("inf" if np.isinf(x) else f"{x:.3g}")


def _title(c: dict) -> str:
    return f"{c['target']} / {c['runner']} · {c['output']} vs {c['against']}"


def _tolerance(c: dict) -> str:
    if c["kind"] == "label":
        return "exactly equal (ties excused)"
    t = c.get("tolerance")
    return f"{t['atol']:.3g} + {t['rtol']:.3g}·|expected|" if t else ""


def _verdicts(report) -> str:
    head = ("<tr><th>#</th><th>target</th><th>runner</th><th>output</th><th>kind</th><th>compared with</th>"
            "<th>precision</th><th>tolerance</th><th>verdict</th><th>rows differing</th><th>ties</th>"
            "<th>max abs error</th><th>max error / tolerance</th></tr>")
    rows = []
    for k, c in enumerate(report.checks):
        v = "pass" if c["passed"] else "FAIL"
        label = c["kind"] == "label"
        rows.append(
            f"<tr><td><a href='#check-{k}'>{k + 1}</a></td><td>{_e(c['target'])}</td><td>{_e(c['runner'])}</td>"
            f"<td>{_e(c['output'])}</td><td>{_e(c['kind'])}</td><td>{_e(c['against'])}</td>"
            f"<td>{_e(c.get('precision', ''))}</td><td>{_e(_tolerance(c))}</td><td class='{v}'>{v}</td>"
            f"<td class='n'>{_e(c.get('mismatched', c.get('detail', '')))}</td><td class='n'>{c.get('ties', 0)}</td>"
            f"<td class='n'>{'' if label else _short(c.get('max_abs_error', 0.0))}</td>"
            f"<td class='n'>{'' if label else _short(c.get('max_error_to_tolerance', 0.0))}</td></tr>")
    for e in report.errors:
        rows.append(f"<tr><td></td><td>{_e(e['target'])}</td><td>{_e(e['runner'])}</td><td colspan='5'>"
                    f"<span class='mono'>{_e(e['error'][:2000])}</span></td><td class='ERROR'>ERROR</td>"
                    "<td colspan='4'></td></tr>")
    for s in report.skipped:
        rows.append(f"<tr><td></td><td>{_e(s['target'])}</td><td>{_e(s['runner'])}</td><td colspan='5'>"
                    f"{_e(s['reason'])}</td><td class='skip'>not run</td><td colspan='4'></td></tr>")
    return f"<table id='verdicts'>{head}{''.join(rows)}</table>"


def _distribution(report) -> str:
    numeric = [(k, c, d) for k, (c, d) in enumerate(zip(report.checks, report.details))
               if d is not None and d["error"] is not None]
    labels = [(k, c) for k, c in enumerate(report.checks) if c["kind"] == "label" and "mismatched" in c]
    note = ""
    if labels:
        note = ("<p class='note'>Labels are compared exactly (a difference is excused only as a tie):</p><table>"
                "<tr><th>check</th><th>equal</th><th>differ</th><th>ties</th></tr>"
                + "".join(f"<tr><td>{k + 1}. {_e(_title(c))}</td>"
                          f"<td class='n'>{c['rows'] - c['mismatched'] - c['ties']}</td>"
                          f"<td class='n'>{c['mismatched']}</td><td class='n'>{c['ties']}</td></tr>"
                          for k, c in labels) + "</table>")
    if not numeric:
        return note or "<p>No numeric outputs.</p>"
    return ("<p class='note'>Per check, each row's largest error divided by its tolerance (log scale; "
            f"1 is the tolerance: a row passes left of the red line; exact rows sit at 1e{FLOOR}). "
            "The box spans the middle half of the rows, the line inside it the median, the "
            "whiskers the smallest and largest (rows excused as ties left out); failing checks are red.</p>"
            + _plot(numeric) + note)


def _plot(numeric: list) -> str:
    n = len(numeric)
    names = [_clip(f"{k + 1}. {_title(c)}", 60) for k, c, _ in numeric]
    width, height = 9.0, 0.24 * n + 0.75
    left = (0.064 * max(len(t) for t in names) + 0.25) / width  # room for the labels at 8 pt
    data = []
    for _, _, d in numeric:
        r = np.asarray(d["ratio"], dtype=np.float64)[~d["tie"]]  # rows excused as ties are listed, not plotted
        r = np.where(np.isnan(r), np.inf, r) if r.size else np.zeros(1)
        with np.errstate(divide="ignore"):
            data.append(np.clip(np.log10(r), FLOOR, CEIL))

    def draw(fig):
        ax = fig.add_axes((left, 0.45 / height, 0.97 - left, 1 - 0.6 / height))
        art = ax.boxplot(data, orientation="horizontal", whis=(0, 100), widths=0.6, showfliers=False,
                         showcaps=False, manage_ticks=False, patch_artist=True)
        for box, (_, c, _) in zip(art["boxes"], numeric):
            box.set_facecolor("#ffb3b0" if not c["passed"] else "#b6e3c0")
        ax.axvline(0, color="#cf222e", linewidth=1)
        ax.set_xlim(FLOOR - 0.3, CEIL + 0.3)
        ticks = list(range(FLOOR, CEIL + 1, 2))
        ax.set_xticks(ticks, [(f"≤1e{t}" if t == FLOOR else f"≥1e{t}" if t == CEIL else "1" if t == 0 else f"1e{t}")
                              for t in ticks])
        ax.set_yticks(range(1, n + 1), names)
        ax.set_ylim(n + 0.6, 0.4)
        ax.set_xlabel("error / tolerance (per row)")
        ax.grid(axis="x", color="#eee")
    return svg(width, height, draw)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _bad(d: dict) -> np.ndarray:
    return (d["ratio"] > 1) & ~d["tie"]


def _classes(report) -> str:
    if not report.classes:
        return "<p>No row classes were recorded.</p>"
    cols = [(k, c, d) for k, (c, d) in enumerate(zip(report.checks, report.details)) if d is not None]
    head = "<tr><th>class of row</th><th>rows</th>" + "".join(
        f"<th title='{_e(_title(c))}'><a href='#check-{k}'>{k + 1}</a></th>" for k, c, _ in cols) + "</tr>"
    body = []
    for name, mask in report.classes.items():
        cells = []
        for _, c, d in cols:
            bad, tie = int((_bad(d) & mask).sum()), int((d["tie"] & mask).sum())
            worst = float(np.max(d["ratio"][mask])) if d["error"] is not None and mask.any() else None
            text = (f"{bad} ✗" if bad else "✓") + (f" {tie} tie" if tie else "")
            if worst is not None and not bad:
                text += f" {_short(worst)}"
            cells.append(f"<td class='{'bad' if bad else 'tie' if tie else 'ok'}'>{text}</td>")
        body.append(f"<tr><td title='{_e(name)}'>{_e(_clip(name, 80))}</td><td class='n'>{int(mask.sum())}</td>"
                    f"{''.join(cells)}</tr>")
    return ("<p class='note'>A row belongs to every class whose kind of value it holds in some column. "
            "Per check (numbered as above): ✓ and the largest error / tolerance of those rows, or how many "
            "of them differ (✗) or were excused as ties.</p>"
            f"<table>{head}{''.join(body)}</table>")


def _row_classes(report, i: int) -> str:
    return ", ".join(k for k, m in report.classes.items() if m[i]) or "—"


def _inline_inputs(report, i: int) -> str:
    cols = report.schema.inputs if report.schema is not None else []
    shown = [f"{c.name} = {_num(report.inputs[c.name][i])}" for c in cols[:INLINE_INPUTS]]
    if len(cols) > INLINE_INPUTS:
        shown.append(f"… {len(cols) - INLINE_INPUTS} more")
    return _e("; ".join(shown))


def _output_column(report, output: str, j: int) -> str:
    cols = [c.name for c in (report.schema.outputs if report.schema is not None else [])
            if c.tensor == output and c.offset == j]
    return cols[0] if cols else f"{output}[{j}]"


def _check(k: int, c: dict, report, shown_rows: list) -> str:
    d = report.details[k] if k < len(report.details) else None
    v = "pass" if c["passed"] else "FAIL"
    head = (f"<details id='check-{k}'{'' if c['passed'] else ' open'}><summary>{k + 1}. {_e(_title(c))} "
            f"<span class='verdict {v}'>{v}</span></summary>")
    if d is None:
        return head + f"<p>{_e(c['kind'])} output: {_e(c.get('detail', 'no per-row data'))}</p></details>"
    head += (f"<p>{_e(c['kind'])} output compared in {_e(c.get('precision', ''))}; tolerance: "
             f"{_e(_tolerance(c))}; {c.get('mismatched', 0)} of {c['rows']} rows differ, {c.get('ties', 0)} ties.</p>")
    worst = c.get("worst_rows", [])
    if not worst:
        return head + "<p>Every row is exactly equal.</p></details>"
    label = d["error"] is None
    cols = ("<th>row</th><th>classes</th><th>inputs</th><th>column</th><th>got</th><th>expected</th>"
            + ("<th>top two expected scores</th>" if label else
               "<th>|error|</th><th>tolerance</th><th>error / tolerance</th>") + "<th></th>")
    body = []
    for i in worst:
        if i not in shown_rows and len(shown_rows) < ROWS_SHOWN:
            shown_rows.append(i)
        j = int(d["column"][i])
        state = "tie" if d["tie"][i] else "bad" if d["ratio"][i] > 1 else "ok"
        if label:
            s = d.get("scores")
            top = "" if s is None else ", ".join(_short(x) for x in np.sort(np.asarray(s[i], float))[::-1][:2])
            extra = f"<td class='n'>{top}</td>"
        else:
            extra = (f"<td class='n'>{_short(d['error'][i])}</td><td class='n'>{_short(d['tolerance'][i])}</td>"
                     f"<td class='n'>{_short(d['ratio'][i])}</td>")
        body.append(
            f"<tr><td><a href='#row-{i}'>{i}</a></td><td>{_e(_row_classes(report, i))}</td>"
            f"<td class='mono'>{_inline_inputs(report, i)}</td><td>{_e(_output_column(report, c['output'], j))}</td>"
            f"<td class='mono nw'>{_e(_num(d['got'][i, j]))}</td>"
            f"<td class='mono nw'>{_e(_num(d['expected'][i, j]))}</td>"
            f"{extra}<td class='{state}'>{STATE[state]}</td></tr>")
    return head + f"<table><tr>{cols}</tr>{''.join(body)}</table></details>"


def _rows(report, shown_rows: list) -> str:
    if not shown_rows or report.inputs is None or report.schema is None:
        return "<p>No rows were listed.</p>"
    cols = report.schema.inputs[:ROW_COLUMNS]
    more = len(report.schema.inputs) - len(cols)
    head = "<tr><th>row</th><th>classes</th>" + "".join(f"<th>{_e(c.name)}</th>" for c in cols) + "</tr>"
    body = [f"<tr id='row-{i}'><td>{i}</td><td>{_e(_row_classes(report, i))}</td>"
            + "".join(f"<td class='mono'>{_e(_num(report.inputs[c.name][i]))}</td>" for c in cols) + "</tr>"
            for i in sorted(shown_rows)]
    note = f"<p class='note'>The first {len(cols)} of {len(report.schema.inputs)} input columns.</p>" if more else ""
    return note + f"<table>{head}{''.join(body)}</table>"


def _columns(report) -> str:
    """The input and output columns of the CSV interface (and each input's levels)."""
    if report.schema is None:
        return ""
    rows = []
    for role, cols in (("input", report.schema.inputs), ("output", report.schema.outputs)):
        for c in cols[:ROW_COLUMNS]:
            levels = ", ".join(_num(v) for v in (c.levels or [])[:20]) + (" …" if len(c.levels or []) > 20 else "")
            rows.append(f"<tr><td>{role}</td><td class='mono'>{_e(c.name)}</td><td>{_e(c.kind)}</td>"
                        f"<td class='mono'>{_e(levels)}</td></tr>")
        if len(cols) > ROW_COLUMNS:
            rows.append(f"<tr><td>{role}</td><td colspan='3'>… and {len(cols) - ROW_COLUMNS} more</td></tr>")
    return ("<table><tr><th></th><th>column</th><th>kind</th><th>levels</th></tr>" + "".join(rows) + "</table>")


def _value(v) -> str:
    text = v if isinstance(v, str) else json.dumps(v, default=str, ensure_ascii=False)
    return _e(_clip(text, 600))


def _provenance(manifest: dict) -> str:
    if not manifest:
        return "<p>No manifest.json.</p>"
    rows = [(k, manifest[k]) for k in ("name", "modelport_version", "created_by", "fixed_batch", "seconds")
            if k in manifest]
    rows += [(f"source: {k}", v) for k, v in manifest.get("source", {}).items()]
    rows += [(f"precision: {k}", v) for k, v in manifest.get("precision", {}).items()]
    rows += [(f"onnx: {k}", v) for k, v in manifest.get("onnx", {}).items()]
    for t, info in manifest.get("targets", {}).items():
        if isinstance(info, dict):
            rows += [(f"target {t}: {k}", " ".join(map(str, v)) if isinstance(v, list) else v)
                     for k, v in info.items() if k != "files" and not isinstance(v, dict)]
    return "<table>" + "".join(f"<tr><th>{_e(k)}</th><td class='mono'>{_value(v)}</td></tr>" for k, v in rows) \
        + "</table>"
