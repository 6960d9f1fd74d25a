"""modelport.spark on Spark in local mode: the compiled Java model as a JVM function scores a
100,000-row DataFrame of typed columns (double, float, int, string; nulls, NaN, infinities, an
unseen level, an empty string) with exactly the outputs that the same jar's CSV program prints
for the text of the same values; the Java API runs under spark-submit --jars."""
from __future__ import annotations

import csv
import io
import math
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

from helpers import compile_and_check, midpoint_texts

pytestmark = pytest.mark.skipif(shutil.which("java") is None or shutil.which("javac") is None,
                                reason="needs a JDK")
pyspark = pytest.importorskip("pyspark", reason="the Spark tests run pyspark in local mode")
pa = pytest.importorskip("pyarrow")

import modelport.spark as mspark  # noqa: E402
from modelport.errors import UsageError  # noqa: E402

N = 100_000
CITIES = ["Oslo", "Lima", "Pune", "Rome"]
NUMBERS = ["age", "income", "rooms"]
JAVA = ["java", "-XX:+UseSerialGC"]


def training_frame(n=1500, seed=0) -> pd.DataFrame:
    rng = np.random.RandomState(seed)
    df = pd.DataFrame({"age": rng.uniform(18, 80, n), "income": rng.lognormal(10, 1, n),
                       "rooms": rng.randint(1, 9, n).astype(float),
                       "city": rng.choice(CITIES, n).astype(object)})
    for c, p in (("age", .05), ("income", .05), ("rooms", .05), ("city", .08)):
        df.loc[rng.rand(n) < p, c] = np.nan
    return df


def prep():
    return ColumnTransformer([
        ("num", SimpleImputer(strategy="median"), NUMBERS),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="missing"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ["city"])])


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict:
    """A random forest classifier with string labels (float32 inputs) and a
    HistGradientBoosting regressor (float64 inputs), both over three numbers and a city."""
    df = training_frame()
    score = (df["age"].fillna(40) / 20 + np.log(df["income"].fillna(2e4)) / 3
             + (df["city"] == "Lima") - (df["rooms"].fillna(4) > 5))
    labels = np.array(["low", "mid, \"quoted\"", "high"], dtype=object)[np.digitize(score, [5.5, 6.5])]
    clf = Pipeline([("prep", prep()), ("rf", RandomForestClassifier(n_estimators=12, max_depth=8,
                                                                    random_state=0))]).fit(df, labels)
    reg = Pipeline([("prep", prep()), ("hgb", HistGradientBoostingRegressor(max_iter=30, random_state=0))]
                   ).fit(df, score)
    root = tmp_path_factory.mktemp("spark_models") / "a folder"  # Spark's ADD JAR mangles spaces
    out = {}
    for name, est in (("clf", clf), ("reg", reg)):
        compile_and_check(est, root / name, targets=("java",), name=name)
        out[name] = root / name / "out"
    return out


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession
    session = (SparkSession.builder.master("local[2]").appName("modelport-spark-test")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2")
               .getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def scoring_table(n=N, seed=7) -> "pa.Table":
    """Typed columns as Spark holds them: age double (values float32 cannot hold, midpoints of
    float32 neighbours, -0.0, infinities, NaN, null), income float (NaN, inf, null), rooms int
    (null), city string (null, an unseen level, an empty string, quotes and a comma)."""
    rng = np.random.RandomState(seed)
    age = rng.uniform(10, 90, n)
    texts, _ = midpoint_texts(np.random.default_rng(seed), 40)
    special = [float(t) for t in texts] + [-0.0, math.inf, -math.inf, 1e300, 5e-324, 40.0]
    age[:len(special)] = special
    age[rng.rand(n) < .01] = np.nan
    age_mask = rng.rand(n) < .02  # null
    income = rng.lognormal(10, 1.2, n).astype(np.float32)
    income[rng.rand(n) < .01] = np.nan
    income[3] = np.float32(np.inf)
    income_mask = rng.rand(n) < .02
    rooms = rng.randint(0, 12, n).astype(np.int32)
    rooms_mask = rng.rand(n) < .02
    city = rng.choice(CITIES + ["Cairo", ""], n, p=[.3, .25, .2, .15, .07, .03]).astype(object)
    city[5] = 'Lima, "old"'
    city_mask = rng.rand(n) < .03
    return pa.table({
        "id": pa.array(np.arange(n, dtype=np.int64)),
        "age": pa.array(age, pa.float64(), mask=age_mask),
        "income": pa.array(income, pa.float32(), mask=income_mask),
        "rooms": pa.array(rooms, pa.int32(), mask=rooms_mask),
        "city": pa.array(list(city), pa.string(), mask=city_mask),
    })


def csv_text(table) -> str:
    """The table as the CSV program reads it: each value's exact text, null an empty field."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["age", "income", "rooms", "city"])
    cols = [table.column(c).to_pylist() for c in ("age", "income", "rooms", "city")]
    for age, income, rooms, city in zip(*cols):
        w.writerow(["" if v is None else repr(float(v)) if isinstance(v, float) else str(v)
                    for v in (age, income, rooms, city)])
    return buf.getvalue()


def run_csv_program(jar: Path, text: str) -> list:
    proc = subprocess.run([*JAVA, "-jar", str(jar)], input=text, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.reader(io.StringIO(proc.stdout)))
    return rows


def assert_same(spark_rows: dict, header: list, rows: list, types: dict):
    """Spark's output columns equal the CSV program's, exactly: strings as printed, float32
    columns after float() then float32 (how the program's text reads back), doubles by float()."""
    assert list(spark_rows) == header
    for k, name in enumerate(header):
        got = spark_rows[name]
        texts = [r[k] for r in rows]
        assert len(got) == len(texts)
        if types[name] == "string":
            assert got == texts, name
            continue
        want = np.array([float(t) for t in texts], dtype=np.float32 if types[name] == "float" else np.float64)
        have = np.array(got, dtype=want.dtype)
        bad = ~((have == want) | (np.isnan(have) & np.isnan(want)))
        assert not bad.any(), (name, np.flatnonzero(bad)[:5], have[bad][:5], want[bad][:5])


@pytest.fixture(scope="module")
def table():
    return scoring_table()


@pytest.fixture(scope="module")
def table_csv(table):
    return csv_text(table)


@pytest.fixture(scope="module")
def frame(spark, table):
    df = spark.createDataFrame(table).cache()
    assert df.count() == N
    return df


@pytest.mark.parametrize("name, types", [
    ("clf", {"label": "string", "prob_low": "float", "prob_mid, \"quoted\"": "float", "prob_high": "float"}),
    ("reg", {"prediction": "double"}),
])
def test_100k_rows_match_the_csv_program(spark, models, frame, table_csv, name, types):
    m = mspark.register(spark, models[name])
    assert m.input_columns == ["age", "income", "rooms", "city"]
    assert {f.name: f.dataType.typeName() for f in m.output_type.fields} == types
    out = frame.select("id", m("age", "income", "rooms", "city")).select("id", f"{name}.*").toArrow()
    assert out.column("id").to_pylist() == list(range(N))
    header, *rows = run_csv_program(models[name] / "java" / f"{name}.jar", table_csv)
    assert len(rows) == N
    assert_same({c: out.column(c).to_pylist() for c in out.column_names[1:]}, header, rows, types)
    if name == "clf":  # the rows the program read as an unseen level, empty, null
        labels = set(out.column("label").to_pylist())
        assert labels == {"low", "mid, \"quoted\"", "high"}


def test_every_call_form_gives_the_same_struct(spark, models, frame):
    m = mspark.register(spark, models["clf"], name="clf_forms")
    assert m.name == "clf_forms" and m.model_class == "modelport.models.Clf"
    part = frame.limit(2000)
    part.createOrReplaceTempView("rows")
    from pyspark.sql import functions as F
    forms = {
        "positional names": m("age", "income", "rooms", "city"),
        "positional columns": m(part.age, F.col("income"), part["rooms"], F.col("city")),
        "by name": m(),
        "by keyword": m(city="city", rooms=F.col("rooms"), age="age", income=part.income),
    }
    want = part.select("id", forms.pop("by name").alias("p")).orderBy("id").collect()
    for form, col in forms.items():
        assert part.select("id", col.alias("p")).orderBy("id").collect() == want, form
    sql = spark.sql("SELECT id, clf_forms(struct(age, income, rooms, city)) AS p FROM rows ORDER BY id")
    assert sql.collect() == want
    # a column computed in Spark and renamed goes in by position
    renamed = part.select("id", (F.col("age") * 1).alias("years"), "income", "rooms", "city")
    assert renamed.select("id", m("years", "income", "rooms", "city").alias("p")).orderBy("id").collect() == want
    # the class already on the classpath (as spark-submit --jars puts it), no artifact folder
    by_class = mspark.register(spark, model_class="modelport.models.Clf", name="clf_by_class")
    assert part.select("id", by_class().alias("p")).orderBy("id").collect() == want


def test_call_mistakes_are_refused_with_the_columns_named(spark, models):
    m = mspark.register(spark, models["clf"])
    with pytest.raises(UsageError, match=r"takes 4 input columns \('age', 'income', 'rooms', 'city'\), got 2"):
        m("age", "income")
    with pytest.raises(UsageError, match=r"column 'city' is given where the input 'age' goes"):
        m("city", "age", "income", "rooms")
    with pytest.raises(UsageError, match=r"unknown input column\(s\) 'town'; missing input column\(s\) 'city'"):
        m(age="age", income="income", rooms="rooms", town="city")


def test_a_value_of_the_wrong_type_fails_the_query_naming_the_column(spark, models):
    m = mspark.register(spark, models["clf"])
    bad = spark.createDataFrame([(30.0, 1.0, 2, "Oslo")], "age double, income double, rooms int, city string")
    bad = bad.withColumn("age", bad.age.cast("string"))
    with pytest.raises(Exception) as info:
        bad.select(m()).collect()
    assert 'column "age": got String "30.0", expected a number' in str(info.value)
    assert 'col.cast("double")' in str(info.value)


def test_register_refuses_what_is_not_an_artifact_with_a_java_target(spark, models, tmp_path):
    with pytest.raises(UsageError, match="not a modelport artifact directory"):
        mspark.register(spark, tmp_path)
    shutil.copytree(models["reg"], tmp_path / "nojava", ignore=shutil.ignore_patterns("java"))
    with pytest.raises(UsageError, match="has no Java target"):
        mspark.register(spark, tmp_path / "nojava")
    with pytest.raises(UsageError, match="bad function name"):
        mspark.register(spark, models["reg"], name="no such")
    with pytest.raises(UsageError, match="cannot load the model class modelport.models.Nope"):
        mspark.register(spark, model_class="modelport.models.Nope")
    # another model of the same class name cannot join the classes this JVM loaded
    mspark.register(spark, models["reg"])
    other = tmp_path / "other"
    shutil.copytree(models["reg"], other, ignore=shutil.ignore_patterns("spark"))
    with zipfile.ZipFile(other / "java" / "reg.jar", "a") as z:
        z.writestr("note.txt", "a different build")
    with pytest.raises(UsageError, match="another model with the class modelport.models.Reg is already loaded"):
        mspark.register(spark, other)


def test_the_spark_jar_is_the_model_jar_plus_the_function_and_is_reused(models):
    plain = models["reg"] / "java" / "reg.jar"
    jar = mspark.build_spark_jar(models["reg"])
    assert jar == models["reg"] / "spark" / "reg-spark.jar"
    stamp = jar.stat().st_mtime_ns
    assert mspark.build_spark_jar(models["reg"]).stat().st_mtime_ns == stamp  # not rebuilt
    with zipfile.ZipFile(plain) as z:
        plain_names = set(z.namelist())
    with zipfile.ZipFile(jar) as z:
        names = set(z.namelist())
    assert not any(n.startswith("modelport/spark/") for n in plain_names)  # no Spark dependency
    assert "modelport/spark/ModelUdf.class" in names and plain_names <= names
    text = "age,income,rooms,city\n30,1e4,3,Oslo\n,,,\n"
    assert run_csv_program(jar, text) == run_csv_program(plain, text)


JAVA_APP = """
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.expr;
import modelport.spark.ModelUdf;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

public final class ScoreApp {
  public static void main(String[] args) {
    SparkSession spark = SparkSession.builder().appName("score").getOrCreate();
    ModelUdf m = ModelUdf.of(args[0]);
    m.register(spark, "clf");
    Dataset<Row> df = spark.read().parquet(args[1]);
    df.select(col("id"),
        m.apply().as("by_name"),
        m.apply(col("age"), col("income"), col("rooms"), col("city")).as("positional"),
        expr("clf(struct(age, income, rooms, city))").as("sql"))
      .write().parquet(args[2]);
    spark.stop();
  }
}
"""


def test_java_api_under_spark_submit_with_jars(models, tmp_path):
    """The cluster-mode steps: the Spark jar passed with --jars, the Java API in the driver."""
    import pyarrow.parquet as pq
    jar = tmp_path / "clf-spark.jar"  # the file a deployment ships, at a plain path
    shutil.copyfile(mspark.build_spark_jar(models["clf"]), jar)
    jars = mspark.spark_jars_dir()
    (tmp_path / "ScoreApp.java").write_text(JAVA_APP)
    subprocess.run(["javac", "--release", "17", "-cp", f"{jar}:{jars}/*", "-d", str(tmp_path / "classes"),
                    str(tmp_path / "ScoreApp.java")], check=True)
    subprocess.run(["jar", "--create", "--file", str(tmp_path / "app.jar"), "-C", str(tmp_path / "classes"), "."],
                   check=True)
    table = scoring_table(3000, seed=3)
    pq.write_table(table, tmp_path / "in.parquet")
    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    env = {k: v for k, v in os.environ.items() if k != "SPARK_HOME"}
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    proc = subprocess.run([str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false",
                           "--jars", str(jar), "--class", "ScoreApp", str(tmp_path / "app.jar"),
                           "modelport.models.Clf", str(tmp_path / "in.parquet"), str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    header, *rows = run_csv_program(models["clf"] / "java" / "clf.jar", csv_text(table))
    types = {"label": "string", **{h: "float" for h in header[1:]}}
    out = pq.read_table(tmp_path / "out").sort_by("id")
    assert out.column("id").to_pylist() == list(range(3000))
    for form in ("by_name", "positional", "sql"):
        struct = out.column(form).combine_chunks()
        assert_same({f.name: struct.field(f.name).to_pylist() for f in struct.type}, header, rows, types)


def test_spark_jar_command(models, tmp_path):
    """`modelport spark-jar DIR` (for spark-submit users): prints the jar's path; a folder that
    is no artifact gets exit 2 and a message, no traceback."""
    cmd = [sys.executable, "-m", "modelport.cli", "spark-jar"]
    r = subprocess.run([*cmd, str(models["reg"])], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    jar = Path(r.stdout.strip())
    assert jar == models["reg"] / "spark" / "reg-spark.jar" and jar.is_file()
    with zipfile.ZipFile(jar) as z:
        assert "modelport/spark/ModelUdf.class" in z.namelist()
    r = subprocess.run([*cmd, str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 2 and "not a modelport artifact directory" in r.stderr and "Traceback" not in r.stderr
