"""The `modelport` command line.

Exit codes: 0 success (parity holds), 1 parity fails, 2 bad usage or input,
3 a toolchain step failed.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from . import __version__
from .errors import ModelportError

EPILOG = "Exit codes: 0 success, 1 parity fails, 2 bad usage or input, 3 build failure."


class _Progress:
    """Progress lines on standard error, with elapsed time."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.t0 = time.time()

    def __call__(self, msg: str):
        if not self.quiet:
            click.echo(f"[{time.time() - self.t0:6.1f}s] {msg}", err=True)


def _fail(exc: ModelportError):
    click.echo(f"error: {exc}", err=True)
    sys.exit(exc.exit_code)


def _print_parity(directory: Path):
    md = (directory / "parity.md").read_text()
    click.echo(md)


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=EPILOG)
@click.version_option(__version__, prog_name="modelport")
def main():
    """Compile trained models into dependency-free C++ and Java, and prove parity.

    \b
    Typical use:
      modelport inspect model.skops
      modelport compile model.skops -t cpp,java -o dist/model
      modelport check dist/model --data rows.csv
    """


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-t", "--targets", default="cpp,java", show_default=True,
              help="Comma-separated targets: cpp, java, onnx.")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path),
              help="Artifact directory (default: ./<name>_modelport). Replaced if it holds an earlier build.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path),
              help="Rows to check parity on (.csv, .npy, .parquet). Default: rows generated from the model.")
@click.option("--name", help="Model name used for files, classes and symbols (default: the file name).")
@click.option("--trust-pickle", is_flag=True,
              help="Allow .pkl/.joblib files. Loading a pickle runs code stored in it: only for files you trust.")
@click.option("--rows", default=256, show_default=True, help="Number of generated parity rows.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def compile(model, targets, out, data, name, trust_pickle, rows, quiet):
    """Compile MODEL to the chosen targets, build them, and check parity."""
    from .api import compile as compile_model
    try:
        manifest = compile_model(model, targets=targets, out=out, data=data, name=name,
                                 trust_pickle=trust_pickle, progress=_Progress(quiet), rows=rows)
    except ModelportError as exc:
        _fail(exc)
    directory = Path(manifest["out"])
    _print_parity(directory)
    click.echo(f"artifacts: {directory}/ ({', '.join(manifest['targets'])})")
    sys.exit(0 if manifest["parity"]["passed"] else 1)


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the .onnx file.")
@click.option("--name", help="Model name.")
@click.option("--trust-pickle", is_flag=True, help="Allow .pkl/.joblib files (runs code stored in them).")
def convert(model, out, name, trust_pickle):
    """Convert MODEL to ONNX (the graph `compile` builds from)."""
    import onnx

    from .api import convert as convert_model
    try:
        proto = convert_model(model, name=name, trust_pickle=trust_pickle)
    except ModelportError as exc:
        _fail(exc)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    onnx.save(proto, tmp)
    tmp.replace(out)
    click.echo(f"wrote {out}")


@main.command(epilog=EPILOG)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path),
              help="Rows to check (.csv, .npy, .parquet). Default: the rows stored at compile time.")
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path), help="Also write the JUnit XML here.")
@click.option("--trust-pickle", is_flag=True, help="Allow reloading a .pkl/.joblib original model.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def check(directory, data, junit, trust_pickle, quiet):
    """Re-run parity on a built artifact DIRECTORY (exit 0 holds, 1 fails, 2 bad input)."""
    from .api import check as check_dir
    try:
        report = check_dir(directory, data=data, junit=junit, trust_pickle=trust_pickle,
                           progress=_Progress(quiet))
    except ModelportError as exc:
        _fail(exc)
    _print_parity(directory)
    sys.exit(0 if report.passed else 1)


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--trust-pickle", is_flag=True, help="Allow .pkl/.joblib files (runs code stored in them).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect(model, trust_pickle, as_json):
    """Show MODEL's schema, its ONNX ops, and which targets support it."""
    from .api import inspect as inspect_model
    try:
        info = inspect_model(model, trust_pickle=trust_pickle)
    except ModelportError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(info, indent=2, default=str))
        return
    click.echo(info["description"])
    click.echo("ONNX ops: " + ", ".join(info["ops"]))
    for target, status in info["targets"].items():
        click.echo(f"  {target:6} {status}")


if __name__ == "__main__":
    main()
