"""`modelport verify DIR`: is this artifact the one that was built? The manifest records the
SHA-256 of every file of the build; verify rechecks them, the source model's hash when given
the file, and re-runs the parity rows stored at compile time against the stored reference."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from .errors import UsageError

# Written again by `modelport check`: not part of the build's fingerprint.
REPORT_FILES = ("manifest.json", "parity.json", "parity.xml", "parity.md", "parity.html")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hash_files(directory: Path) -> dict:
    """{relative path: SHA-256} of every file of an artifact directory but its reports."""
    directory = Path(directory)
    out = {}
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for f in sorted(files):
            p = Path(root) / f
            rel = p.relative_to(directory).as_posix()
            if rel in REPORT_FILES or p.is_symlink():
                continue
            out[rel] = _sha256(p)
    return out


def verify(directory, source=None, parity: bool = True, progress=None) -> dict:
    """Checks the artifact `directory`: its files against the manifest, `source` (the original
    model's file, optional) against the recorded hash, and (unless parity=False) the stored
    parity rows. Returns {"ok", "changed", "missing", "added", "source", "parity"}."""
    directory = Path(directory)
    path = directory / "manifest.json"
    if not path.is_file():
        raise UsageError(f"{directory} is not a modelport artifact directory (no manifest.json)")
    try:
        manifest = json.loads(path.read_text())
    except ValueError as e:
        raise UsageError(f"{path}: not valid JSON ({e}): the manifest was damaged; rebuild the artifact") from None
    recorded = manifest.get("files")
    if not isinstance(recorded, dict):
        raise UsageError(f"{path} records no file hashes (built by a modelport older than `verify`): rebuild the "
                         "artifact to verify it")
    say = progress or (lambda msg: None)
    say(f"hashing {len(recorded)} files")
    present = hash_files(directory)
    result = {
        "changed": sorted(p for p, h in recorded.items() if p in present and present[p] != h),
        "missing": sorted(p for p in recorded if p not in present),
        "added": sorted(p for p in present if p not in recorded),
        "source": None, "parity": None,
    }
    if source is not None:
        result["source"] = _check_source(manifest.get("source") or {}, Path(source))
    if parity and not result["changed"] and not result["missing"]:
        result["parity"] = _stored_parity(directory, say)
    result["ok"] = (not result["changed"] and not result["missing"]
                    and (result["source"] is None or result["source"]["ok"])
                    and (result["parity"] is None or result["parity"]["passed"]))
    return result


def _check_source(prov: dict, source: Path) -> dict:
    if not source.is_file():
        raise UsageError(f"--source {source}: no such file")
    digest = _sha256(source)
    recorded = {k: v for k, v in prov.items() if k.endswith("sha256") and v}
    if not recorded:
        return {"ok": False, "file": str(source), "sha256": digest,
                "message": "the manifest records no source hash (the model was compiled from an object in memory, "
                           "not from a file)"}
    ok = digest in recorded.values()
    return {"ok": ok, "file": str(source), "sha256": digest, "recorded": recorded,
            "message": "matches the recorded source" if ok else
            f"differs from the recorded source ({', '.join(f'{k} {v[:16]}...' for k, v in recorded.items())})"}


def _stored_parity(directory: Path, say) -> dict:
    """Parity of every built program on the stored rows against the stored reference, run in
    a scratch folder that links to the artifact (the artifact's own reports are left as they
    are)."""
    from .parity import run_parity
    if not (directory / "parity" / "inputs.csv").is_file():
        return {"passed": False, "message": "no stored parity rows (parity/inputs.csv)"}
    with tempfile.TemporaryDirectory(prefix="modelport-verify-") as tmp:
        scratch = Path(tmp)
        for entry in directory.iterdir():
            if entry.name in REPORT_FILES:
                continue
            (scratch / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
        shutil.copy(directory / "manifest.json", scratch / "manifest.json")
        say("re-running the stored parity rows")
        report = run_parity(scratch, progress=say)
        return {"passed": report.passed, "rows": report.rows,
                "table": report.table(), "not_run": report.summary()["not_run"]}
