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


def _shape_options(input_shape, input_dtype) -> dict:
    """--input-shape NAME=D1,D2,... and --input-dtype NAME=DTYPE -> api shape options."""
    from .errors import UsageError

    def pairs(values, flag):
        out = {}
        for v in values:
            key, sep, val = v.partition("=")
            if not sep or not key or not val:
                raise UsageError(f"{flag} {v!r}: expected NAME=VALUE, e.g. {flag} "
                                 + ("x=3,32,32" if flag == "--input-shape" else "tokens=int64"))
            out[key] = val
        return out

    shapes = {}
    for key, val in pairs(input_shape, "--input-shape").items():
        try:
            shapes[key] = [int(d) for d in val.replace("x", ",").split(",") if d.strip()]
        except ValueError:
            raise UsageError(f"--input-shape {key}={val}: dimensions must be integers, e.g. "
                             f"--input-shape {key}=3,32,32 (the row shape, without the batch dimension)") from None
    dtypes = pairs(input_dtype, "--input-dtype")
    return {"input_shapes": shapes or None, "input_dtypes": dtypes or None}


PRECISION_OPTION = click.option(
    "--precision", type=click.Choice(["float32"]), default=None,
    help="float32: round the inputs of a model that computes in double (R, most scikit-learn models) to "
         "float32, trading exactness for speed; the parity report shows the cost on your unrounded values. "
         "Default: the original model's own precision.")
SHAPE_HELP = ("Row shape of a model input, without the batch dimension (NAME=D1,D2,...), for models "
              "that do not record their input shapes (TorchScript .pt files). Repeatable.")
DTYPE_HELP = "Element type of a model input (NAME=float32|float64|int64|int32), with --input-shape. Repeatable."


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
      modelport diff dist/model-v1 dist/model-v2 --fail-on 'label-flips>0.5%'
    """


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-t", "--targets",
              help="Comma-separated targets: cpp, java, tvm-llvm, tvm-cuda, onnx. Default: cpp,java, or "
                   "tvm-llvm,onnx for models the C++/Java kernels do not cover (convolutions, recurrent layers).")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path),
              help="Artifact directory (default: ./<name>_modelport). Replaced if it holds an earlier build.")
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path),
              help="Rows to check parity on (.csv, .npy, .parquet). Default: rows generated from the model.")
@click.option("--name", help="Model name used for files, classes and symbols (default: the file name).")
@click.option("--trust-pickle", is_flag=True,
              help="Allow .pkl/.joblib files. Loading a pickle runs code stored in it: only for files you trust.")
@click.option("--rows", default=256, show_default=True, help="Number of generated parity rows.")
@click.option("--input-shape", multiple=True, help=SHAPE_HELP)
@click.option("--input-dtype", multiple=True, help=DTYPE_HELP)
@click.option("--tune", type=click.FloatRange(min=0), default=0, show_default=True,
              help="Seconds of MetaSchedule tuning for the tvm targets (records are cached in "
                   "~/.cache/modelport and reused by later builds of the same model).")
@click.option("--batch", type=click.IntRange(min=1),
              help="Compile the tvm targets for exactly this many rows per call (static shapes; needed by "
                   "--tune). Bigger inputs run in chunks. Default: any batch size.")
@click.option("--cuda-arch", help="GPU architectures of tvm-cuda, e.g. sm_80 or sm_80,sm_90 (default: sm_80,sm_90).")
@PRECISION_OPTION
@click.option("--recipe", type=click.Path(dir_okay=False, path_type=Path),
              help="A prep()ed R recipes::recipe (.rds) to compile in front of MODEL, an R model fitted on its "
                   "baked data: the compiled model then takes the recipe's original columns.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def compile(model, targets, out, data, name, trust_pickle, rows, input_shape, input_dtype, tune, batch, cuda_arch,
            precision, recipe, quiet):
    """Compile MODEL to the chosen targets, build them, and check parity."""
    from .api import compile as compile_model
    try:
        manifest = compile_model((recipe, model) if recipe else model, targets=targets, out=out, data=data, name=name,
                                 trust_pickle=trust_pickle, progress=_Progress(quiet), rows=rows,
                                 tune=tune, batch=batch, cuda_arch=cuda_arch, precision=precision,
                                 **_shape_options(input_shape, input_dtype))
    except ModelportError as exc:
        _fail(exc)
    directory = Path(manifest["out"])
    _print_parity(directory)
    click.echo(f"artifacts: {directory}/ ({', '.join(manifest['targets'])})")
    sys.exit(0 if manifest["parity"]["passed"] else 1)


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the .onnx file.")
@click.option("--name", help="Model name.")
@click.option("--trust-pickle", is_flag=True, help="Allow .pkl/.joblib files (runs code stored in them).")
@click.option("--input-shape", multiple=True, help=SHAPE_HELP)
@click.option("--input-dtype", multiple=True, help=DTYPE_HELP)
@PRECISION_OPTION
def convert(model, out, name, trust_pickle, input_shape, input_dtype, precision):
    """Convert MODEL to ONNX (the graph `compile` builds from)."""
    import onnx

    from .api import convert as convert_model
    try:
        proto = convert_model(model, name=name, trust_pickle=trust_pickle, precision=precision,
                              **_shape_options(input_shape, input_dtype))
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


@main.command("spark-jar", epilog=EPILOG)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--spark-jars", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Spark's jars folder to compile against (default: $SPARK_HOME/jars, else pyspark's jars/).")
def spark_jar(directory, spark_jars):
    """Build DIR/spark/<name>-spark.jar: the model's jar plus the Spark function class
    modelport.spark.ModelUdf, for spark-submit --jars (docs/spark.md). Prints its path."""
    from . import spark
    try:
        click.echo(str(spark.build_spark_jar(directory, spark_jars)))
    except ModelportError as exc:
        _fail(exc)


@main.command(epilog="Exit codes: 0 the artifact is as built, 1 something changed or parity fails, 2 bad usage.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--source", type=click.Path(dir_okay=False, path_type=Path),
              help="The original model's file: check it is the one the artifact was compiled from.")
@click.option("--no-parity", is_flag=True, help="Check the files only; do not re-run the stored parity rows.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def verify(directory, source, no_parity, quiet):
    """Check that an artifact DIRECTORY is what was built: every file against the SHA-256 the
    manifest recorded, the source model (--source), and the parity rows stored at compile time."""
    from .verify import verify as verify_dir
    try:
        r = verify_dir(directory, source=source, parity=not no_parity, progress=_Progress(quiet))
    except ModelportError as exc:
        _fail(exc)
    for kind in ("changed", "missing"):
        for p in r[kind]:
            click.echo(f"{kind}: {p}")
    for p in r["added"]:
        click.echo(f"not in the manifest (added after the build, not checked): {p}")
    if r["source"] is not None:
        click.echo(f"source {r['source']['file']}: {r['source']['message']}")
    if r["parity"] is not None:
        p = r["parity"]
        if "table" in p:
            for row in p["table"]:
                verdict = "pass" if row["passed"] else f"FAIL {row.get('error', '')}".rstrip()
                click.echo(f"parity on the stored rows: {row['target']} ({row['runner']}): {verdict}")
            for line in p["not_run"]:
                click.echo(f"parity on the stored rows: not run: {line}")
        else:
            click.echo(f"parity: {p['message']}")
    elif r["changed"] or r["missing"]:
        click.echo("parity: not re-run (files changed)")
    click.echo(f"{directory}: " + ("verified" if r["ok"] else "NOT verified"))
    sys.exit(0 if r["ok"] else 1)


@main.command(epilog="Exit codes: 0 no --fail-on threshold exceeded, 1 one is, 2 bad usage or input, "
                     "3 a program failed.")
@click.argument("old", type=click.Path(file_okay=False, path_type=Path))
@click.argument("new", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data", type=click.Path(dir_okay=False, path_type=Path),
              help="CSV rows to score both models on. Default: the parity rows both artifacts stored.")
@click.option("--target", type=click.Choice(["cpp", "java", "tvm-llvm"]),
              help="Whose programs score the rows (default: the first both artifacts have of cpp, java, tvm-llvm).")
@click.option("--fail-on", multiple=True, metavar="THRESHOLD",
              help="Exit 1 when exceeded: METRIC[OUTPUT]>VALUE with METRIC label-flips, rows-differing, refused "
                   "(a count or a % of rows), max-abs-diff, mean-abs-diff or psi. Repeatable.")
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("modelport-diff"),
              show_default=True, help="Folder for diff.json, diff.md and diff.html.")
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def diff(old, new, data, target, fail_on, out, quiet):
    """Compare two builds of a model (OLD and NEW artifact directories) on the same rows: label
    flips, value differences and the shift of each output's distribution."""
    from .modeldiff import diff as diff_dirs
    try:
        report = diff_dirs(old, new, data=data, target=target, fail_on=fail_on, out=out,
                           progress=_Progress(quiet))
    except ModelportError as exc:
        _fail(exc)
    click.echo((out / "diff.md").read_text())
    sys.exit(0 if report["passed"] else 1)


@main.command(epilog=EPILOG)
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--trust-pickle", is_flag=True, help="Allow .pkl/.joblib files (runs code stored in them).")
@click.option("--input-shape", multiple=True, help=SHAPE_HELP)
@click.option("--input-dtype", multiple=True, help=DTYPE_HELP)
@PRECISION_OPTION
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def inspect(model, trust_pickle, input_shape, input_dtype, precision, as_json):
    """Show MODEL's schema, its ONNX ops, and which targets support it."""
    from .api import inspect as inspect_model
    try:
        info = inspect_model(model, trust_pickle=trust_pickle, precision=precision, **_shape_options(input_shape, input_dtype))
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
