"""Batch scoring on Apache Spark: the compiled Java model as a JVM function, no Python workers.

    m = modelport.spark.register(spark, "dist/m")
    df.select(m("age", "income", "city"))      # a struct of the CSV program's output columns
    df.select(m().alias("p")).select("p.*")    # every input column taken by name

`build_spark_jar(dir)` writes `<dir>/spark/<name>-spark.jar`: the model's jar plus the class
`modelport.spark.ModelUdf`, compiled against Spark's API jars (pyspark's `jars/` folder, or
`$SPARK_HOME/jars`). The plain jar built by `modelport compile` keeps no Spark dependency.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import zipfile
from importlib import resources
from pathlib import Path

from .errors import BuildError, UsageError

UDF_CLASS = "modelport.spark.ModelUdf"
ZIP_DATE = (2000, 1, 1, 0, 0, 0)
# Which jar a model class was loaded from, per Spark application: one class name, one jar.
_loaded: dict = {}


def _udf_sources() -> dict:
    """{file name: text} of the Spark-facing Java classes shipped with modelport."""
    folder = resources.files("modelport.runtimes").joinpath("java", "modelport", "spark")
    return {f.name: f.read_text() for f in sorted(folder.iterdir(), key=lambda f: f.name)
            if f.name.endswith(".java")}


def _artifact(artifact_dir) -> tuple:
    """(manifest, model jar path) of a built artifact directory with a java target."""
    d = Path(artifact_dir)
    manifest_path = d / "manifest.json"
    if not manifest_path.is_file():
        raise UsageError(f"{d} is not a modelport artifact directory (no manifest.json): "
                         "pass the folder that `modelport compile -o DIR` wrote")
    manifest = json.loads(manifest_path.read_text())
    java = manifest.get("targets", {}).get("java")
    jar = d / "java" / f"{manifest['name']}.jar"
    if not java or not jar.is_file():
        raise UsageError(f"{d} has no Java target ({jar} is missing): Spark runs the Java model; "
                         "compile with `-t java` (the default targets include it)")
    return manifest, jar


def spark_jars_dir(spark_jars=None) -> Path:
    """The folder of Spark's jars to compile against: `spark_jars`, else $SPARK_HOME/jars,
    else the `jars/` folder of the installed pyspark package."""
    import os
    if spark_jars is None and os.environ.get("SPARK_HOME"):
        spark_jars = Path(os.environ["SPARK_HOME"]) / "jars"
    if spark_jars is None:
        try:
            import pyspark
        except ImportError:
            raise UsageError("building the Spark jar needs Spark's API jars: install pyspark "
                             "(pip install 'modelport[spark]') or set SPARK_HOME") from None
        spark_jars = Path(pyspark.__file__).parent / "jars"
    d = Path(spark_jars)
    if not any(d.glob("spark-sql_*.jar")) or not any(d.glob("spark-sql-api_*.jar")):
        raise UsageError(f"{d} holds no Spark SQL jars (spark-sql_*.jar, spark-sql-api_*.jar): "
                         "point SPARK_HOME or spark_jars at a Spark 3.5+ installation's jars folder")
    return d


def spark_version(jars: Path) -> str:
    """The Spark version of a jars folder, from spark-core_<scala>-<version>.jar."""
    for p in sorted(jars.glob("spark-core_*.jar")):
        m = re.fullmatch(r"spark-core_[0-9.]+-([0-9][^/]*)\.jar", p.name)
        if m:
            return m.group(1)
    raise UsageError(f"{jars} holds no spark-core_*.jar: not a Spark jars folder")


def _java_release(version: str) -> str:
    """Spark 4 runs on Java 17 and newer; Spark 3.5 on 8, 11 or 17 (the model jar needs 11)."""
    return "17" if int(version.split(".")[0]) >= 4 else "11"


def build_spark_jar(artifact_dir, spark_jars=None) -> Path:
    """`<artifact_dir>/spark/<name>-spark.jar`: the model's jar (still a CSV program with
    `java -jar`) plus the Spark function class. Rebuilt only when the model jar, the class's
    source or the Spark version changed. Returns its path."""
    manifest, model_jar = _artifact(artifact_dir)
    jars = spark_jars_dir(spark_jars)
    version = spark_version(jars)
    sources = _udf_sources()
    release = _java_release(version)
    key = hashlib.sha256()
    for part in (model_jar.read_bytes(), version.encode(), release.encode(),
                 *(s.encode() for s in sources.values())):
        key.update(hashlib.sha256(part).digest())
    out_dir = Path(artifact_dir) / "spark"
    out = out_dir / f"{manifest['name']}-spark.jar"
    stamp = out_dir / f"{manifest['name']}-spark.jar.sha256"
    if out.is_file() and stamp.is_file() and stamp.read_text().strip() == key.hexdigest():
        return out
    javac = shutil.which("javac")
    if not javac:
        raise BuildError("no Java compiler found (javac, JDK 17 for Spark 4): install a JDK, e.g. "
                         "`apt-get install default-jdk-headless`")
    out_dir.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for fname, text in sources.items():
            (src / fname).write_text(text)
        classes = Path(tmp) / "classes"
        cmd = [javac, "--release", release, "-encoding", "UTF-8", "-nowarn",
               "-cp", f"{model_jar}:{jars}/*", "-d", str(classes), *sorted(str(p) for p in src.iterdir())]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"compiling the Spark function against Spark {version} ({jars}) "
                             f"failed:\n{proc.stderr[-4000:]}")
        partial = out.with_suffix(".jar.tmp")
        with zipfile.ZipFile(model_jar) as zin, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zout:
            for info in zin.infolist():
                zout.writestr(info, zin.read(info))
            for p in sorted(classes.rglob("*.class")):
                zout.writestr(zipfile.ZipInfo(p.relative_to(classes).as_posix(), ZIP_DATE), p.read_bytes())
        partial.replace(out)
    stamp.write_text(key.hexdigest() + "\n")
    return out


class SparkModel:
    """A model registered in a SparkSession. `m(*cols)` is a Column holding a struct of the
    model's output columns; `m.name` is the SQL function, which takes one struct of the input
    columns in model order: `SELECT m(struct(age, income, city)) FROM t`."""

    def __init__(self, name: str, judf, jar):
        from pyspark.sql.types import StructType
        self.name = name
        self.jar = jar
        self.model_class = judf.modelClass()
        self.input_columns = list(judf.inputColumns())
        self.output_type = StructType.fromJson(json.loads(judf.outputType().json()))
        self.output_columns = self.output_type.fieldNames()

    def __call__(self, *cols, **named):
        """The output struct, aliased to the function's name. Columns are given one per model
        input, in model order (`m.input_columns`), as Columns or DataFrame column names; or by
        keyword, model input name = column; or not at all: the columns named as the inputs."""
        from pyspark.sql import functions as F
        names = self.input_columns
        if cols and named:
            raise UsageError("pass the input columns either by position or by keyword, not both")
        if named:
            unknown = [k for k in named if k not in names]
            missing = [n for n in names if n not in named]
            if unknown or missing:
                raise UsageError(f"model {self.name}: " + "; ".join(
                    ([f"unknown input column(s) {', '.join(map(repr, unknown))}"] if unknown else []) +
                    ([f"missing input column(s) {', '.join(map(repr, missing))}"] if missing else [])) +
                    f" (the model takes {', '.join(map(repr, names))})")
            cols = tuple(named[n] for n in names)
        elif not cols:
            cols = tuple(names)
        elif len(cols) != len(names):
            raise UsageError(f"model {self.name} takes {len(names)} input columns "
                             f"({', '.join(map(repr, names))}), got {len(cols)}: pass one per input in "
                             "this order, or none to take the DataFrame's columns by name")
        fields = []
        for want, c in zip(names, cols):
            if isinstance(c, str):
                if c != want and c in names:
                    raise UsageError(f"model {self.name}: column {c!r} is given where the input "
                                     f"{want!r} goes; pass the columns in model order "
                                     f"({', '.join(map(repr, names))}) or by keyword")
                c = F.col("`" + c.replace("`", "``") + "`")
            fields.append(c.alias(want))
        return F.call_function(self.name, F.struct(*fields)).alias(self.name)

    def __repr__(self):
        return f"SparkModel({self.name!r}, {self.model_class}, inputs={self.input_columns})"


def _plain_path(jar: Path, digest: str) -> Path:
    """`jar`, or a copy of it at a path made of plain characters: Spark's ADD JAR encodes a
    space (or other character a URI escapes) twice, and the class loader misses the file."""
    if re.fullmatch(r"[A-Za-z0-9._/+-]+", str(jar)):
        return jar
    staged = Path(tempfile.gettempdir()) / f"modelport-spark-{digest[:16]}" / jar.name
    if not re.fullmatch(r"[A-Za-z0-9._/+-]+", str(staged)):
        raise UsageError(f"cannot add {jar} to Spark: its path has characters (spaces...) that "
                         "Spark's ADD JAR mangles, and so has the temporary folder; move the "
                         "artifact directory to a plain path")
    if not staged.is_file() or hashlib.sha256(staged.read_bytes()).hexdigest() != digest:
        staged.parent.mkdir(parents=True, exist_ok=True)
        partial = staged.with_suffix(".tmp")
        shutil.copyfile(jar, partial)
        partial.replace(staged)
    return staged


def _java_error(e) -> str:
    """The Java exception's own message, without py4j's stack trace."""
    text = str(getattr(e, "java_exception", e))
    return text.splitlines()[0] if text else repr(e)


def register(spark, artifact_dir=None, name: str | None = None, *, model_class: str | None = None,
             spark_jars=None) -> SparkModel:
    """Registers the compiled model of `artifact_dir` in `spark` (a classic SparkSession) as a
    JVM function named `name` (default: the model's name) and returns it, callable as
    `m(*cols)`. The Spark jar is built if needed and added to the session (ADD JAR: the driver
    and every executor get it). With `model_class` instead of a directory, the class must
    already be on the classpath (`spark-submit --jars NAME-spark.jar`)."""
    from .backends.naming import class_name, identifier
    jspark = getattr(spark, "_jsparkSession", None)
    if jspark is None:
        raise UsageError("modelport.spark needs a classic SparkSession (with a JVM driver): a Spark "
                         "Connect session cannot load JVM functions from Python; add the model's "
                         "Spark jar on the server and call modelport.spark.ModelUdf from Scala/Java")
    jar = None
    if artifact_dir is not None:
        manifest, _ = _artifact(artifact_dir)
        model_class = model_class or manifest["targets"]["java"].get("class") or \
            f"modelport.models.{class_name(manifest['name'])}"
        jar = build_spark_jar(artifact_dir, spark_jars).resolve()
        digest = hashlib.sha256(jar.read_bytes()).hexdigest()
        key = (spark.sparkContext.applicationId, model_class)
        if key in _loaded and _loaded[key] != digest:
            raise UsageError(f"another model with the class {model_class} is already loaded in this "
                             "Spark application: a JVM cannot load two classes of one name; compile "
                             "the models with different names (--name) or use a new SparkSession")
        if key not in _loaded:
            path = str(_plain_path(jar, digest))
            spark.sql("ADD JAR '" + path.replace("\\", "\\\\").replace("'", "\\'") + "'")
            _loaded[key] = digest
        default_name = identifier(manifest["name"])
    elif model_class is None:
        raise UsageError("pass the artifact directory (e.g. 'dist/m'), or model_class= when the "
                         "model's Spark jar is already on the classpath")
    else:
        default_name = identifier(model_class.rsplit(".", 1)[-1])
    name = name or default_name
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise UsageError(f"bad function name {name!r}: use letters, digits and underscores")
    udf_class = spark._jvm.modelport.spark.ModelUdf
    if type(udf_class).__name__ != "JavaClass":
        raise UsageError(f"the class {UDF_CLASS} is not on the Spark driver's classpath: pass the "
                         "artifact directory, or start Spark with the model's Spark jar "
                         "(spark-submit --jars DIR/spark/NAME-spark.jar, or the spark.jars setting)")
    try:
        judf = udf_class.of(model_class)
        judf.register(jspark, name)
    except Exception as e:  # py4j: the JVM's message is the user's answer
        if type(e).__name__ not in ("Py4JJavaError", "Py4JError"):
            raise
        raise UsageError(f"cannot load the model class {model_class} in Spark: {_java_error(e)}") from None
    return SparkModel(name, judf, jar)
