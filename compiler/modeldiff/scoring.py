"""Scoring two artifact directories on the same rows with their built programs."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import BuildError, UsageError

# The programs `diff` can run, in the order it prefers them: (target, program path in the
# artifact directory, or None for the jar).
RUNNERS = ("cpp", "java", "tvm-llvm")
ROW_ERROR = re.compile(r"^error: row (\d+) \(line \d+\)(?:, |: )(.*)$")


@dataclass
class Artifact:
    """A built model: its directory, manifest, input and output columns."""
    directory: Path
    manifest: dict
    inputs: list = field(default_factory=list)   # input column names
    outputs: list = field(default_factory=list)  # (name, kind)

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @classmethod
    def load(cls, directory) -> "Artifact":
        directory = Path(directory)
        path = directory / "manifest.json"
        if not path.is_file():
            raise UsageError(f"{directory}: not a modelport artifact directory (no manifest.json); "
                             "pass the output folder of `modelport compile`")
        try:
            manifest = json.loads(path.read_text())
            schema = manifest["schema"]
            return cls(directory, manifest, [c["name"] for c in schema["inputs"]],
                       [(c["name"], c["kind"]) for c in schema["outputs"]])
        except (ValueError, KeyError, TypeError) as e:
            raise UsageError(f"{path}: unreadable manifest ({e}); rebuild the artifact") from None

    def command(self, target: str) -> list | None:
        """The CSV program of `target` in this artifact, or None when it was not built."""
        from ..backends.naming import identifier
        name = identifier(self.name)
        if target == "java":
            jar = self.directory / "java" / f"{name}.jar"
            java = shutil.which("java")
            return ["java", "-XX:+UseSerialGC", "-jar", str(jar)] if jar.is_file() and java else None
        exe = self.directory / target / "bin" / name
        return [str(exe)] if exe.is_file() else None


def choose_target(old: Artifact, new: Artifact, target: str | None) -> str:
    if target is not None:
        if target not in RUNNERS:
            raise UsageError(f"--target {target}: diff runs the programs of {', '.join(RUNNERS)}")
        for a in (old, new):
            if a.command(target) is None:
                raise UsageError(f"{a.directory} has no {target} program (built targets: "
                                 f"{', '.join(a.manifest.get('targets', {})) or 'none'}); pick another --target")
        return target
    for t in RUNNERS:
        if old.command(t) and new.command(t):
            return t
    raise UsageError(f"{old.directory} and {new.directory} share no built program to score with "
                     f"(diff runs {', '.join(RUNNERS)}; built: {', '.join(old.manifest.get('targets', {}))} and "
                     f"{', '.join(new.manifest.get('targets', {}))}); compile both with -t cpp or -t java")


@dataclass
class Scores:
    """One model's answers: header, rows of output texts (None for a refused row), messages."""
    header: list
    rows: list
    refused: dict  # row index (0-based) -> message


def score(command: list, header: list, rows: list) -> Scores:
    """Runs the CSV program on the rows (lists of field texts under `header`). A row the model
    refuses (an unknown level, a value it cannot read) is None in the result, with its message."""
    text = _csv(header, rows)
    proc = _run(command + ["--allow-extra-columns"], text)
    if proc.returncode == 0:
        out = list(csv.reader(io.StringIO(proc.stdout)))
        return Scores(out[0], out[1:], {})
    if proc.returncode != 2 or not ROW_ERROR.match(proc.stderr.splitlines()[0] if proc.stderr else ""):
        raise BuildError(f"{' '.join(command)} failed (exit {proc.returncode}): {proc.stderr.strip()[:2000]}")
    # Bad rows: --stream answers the others and names each bad row on standard error.
    proc = _run(command + ["--allow-extra-columns", "--stream"], text)
    refused = {}
    for line in proc.stderr.splitlines():
        m = ROW_ERROR.match(line)
        if m:
            refused[int(m.group(1)) - 1] = m.group(2)
    if proc.returncode not in (0, 2) or (proc.returncode == 2 and not refused):
        raise BuildError(f"{' '.join(command)} failed (exit {proc.returncode}): {proc.stderr.strip()[:2000]}")
    out = list(csv.reader(io.StringIO(proc.stdout)))
    answers = iter(out[1:])
    return Scores(out[0], [None if i in refused else next(answers) for i in range(len(rows))], refused)


def _csv(header: list, rows: list) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _run(command: list, text: str):
    try:
        return subprocess.run(command, input=text, capture_output=True, text=True, timeout=3600)
    except OSError as e:
        raise BuildError(f"cannot run {command[0]}: {e}") from None


def read_rows(path: Path) -> tuple:
    """(header, rows of field texts) of a CSV file, exactly as written."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            records = list(csv.reader(f))
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise UsageError(f"{path}: not a UTF-8 CSV file ({e})") from None
    if not records or not records[0]:
        raise UsageError(f"{path}: empty; expected a header line naming the input columns, then rows")
    header = records[0]
    # A blank line is a missing value in a one-column file (as the programs read it), else skipped.
    rows = [r if r else [""] for r in records[1:] if r or len(header) == 1]
    for i, r in enumerate(rows):
        if len(r) != len(header):
            raise UsageError(f"{path}: row {i + 1} has {len(r)} fields, the header {len(header)}")
    return header, rows


def rows_for(old: Artifact, new: Artifact, data: Path | None) -> tuple:
    """(header, rows, where they come from): --data, else both artifacts' stored parity rows
    (those that hold every input column either model needs)."""
    needed = list(dict.fromkeys(old.inputs + new.inputs))
    if data is not None:
        header, rows = read_rows(Path(data))
        missing = [c for c in needed if c not in header]
        if missing:
            raise UsageError(f"{data} lacks input columns the models need: {_names(missing)} "
                             f"({old.name} needs {_names(old.inputs)}; {new.name} needs {_names(new.inputs)})")
        return header, rows, str(data)
    header, rows, sources, skipped = needed, [], [], []
    for a in (old, new):
        path = a.directory / "parity" / "inputs.csv"
        if not path.is_file():
            continue
        h, rs = read_rows(path)
        if any(c not in h for c in needed):
            skipped.append(f"{path} (lacks {_names([c for c in needed if c not in h])})")
            continue
        idx = [h.index(c) for c in needed]
        rows += [[r[i] for i in idx] for r in rs]
        sources.append(str(path))
    if not rows:
        why = "; ".join(skipped) if skipped else "neither artifact has stored parity rows"
        raise UsageError(f"no rows to compare on: {why}. The two models' inputs differ "
                         f"({old.name}: {_names(old.inputs)}; {new.name}: {_names(new.inputs)}): "
                         "pass --data with rows holding every column either model needs")
    return header, rows, " + ".join(sources)


def _names(cols) -> str:
    return ", ".join(f'"{c}"' for c in cols)
