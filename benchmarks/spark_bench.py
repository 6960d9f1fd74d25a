#!/usr/bin/env python3
"""Spark batch scoring: rows per second of the compiled Java model as a JVM function
(modelport.spark) against a pandas UDF running the original scikit-learn model, on the same
cached DataFrame in Spark local mode, with the same number of task slots for both.

The model: a pipeline of a SimpleImputer on 20 numbers and a one-hot encoded city (a string
column with missing values and an unseen level) before a 100-tree random forest classifier.
Each runner computes the whole output struct (label and class probabilities) of every row,
written to Spark's `noop` sink so that nothing is collected to the driver; the time is the
median of `--repeats` runs after one warm-up run. The labels of both runners are checked
against scikit-learn's on a sample first.

    python benchmarks/spark_bench.py [--rows 500000] [--trees 100] [--cores 2] [--repeats 3]
"""
import os

# One thread per task: Spark runs one task per core, scikit-learn must not add its own pools.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402  (pandas UDF type hints are resolved in this module)

WORK = Path(__file__).resolve().parent / ".work" / "spark"
N_FEATURES = 20
N_TRAIN = 5_000
CITIES = ["Oslo", "Lima", "Pune", "Rome", "Kiev"]
CLASSES = np.array(["low", "mid", "high"], dtype=object)


def frame(n: int, seed: int, unseen: bool):
    """n rows: f0..f19 (about 2% missing), city (5% missing; 'Cairo', never seen, when unseen)."""
    rng = np.random.RandomState(seed)
    X = rng.standard_normal((n, N_FEATURES))
    X[rng.rand(n, N_FEATURES) < 0.02] = np.nan
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(N_FEATURES)])
    city = rng.choice(CITIES + (["Cairo"] if unseen else []), n).astype(object)
    city[rng.rand(n) < 0.05] = None
    df["city"] = city
    return df


def train(trees: int):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder
    df = frame(N_TRAIN, 0, unseen=False)
    X = df.iloc[:, :N_FEATURES].fillna(0).to_numpy()
    score = X[:, 0] + 0.8 * X[:, 1] * X[:, 2] - 0.5 * X[:, 3] + (df["city"] == "Lima")
    y = CLASSES[np.digitize(score, [-0.5, 0.7])]
    prep = ColumnTransformer([
        ("num", SimpleImputer(), [f"f{i}" for i in range(N_FEATURES)]),
        ("cat", make_pipeline(SimpleImputer(strategy="constant", fill_value="none"),
                              OneHotEncoder(handle_unknown="ignore", sparse_output=False)), ["city"])])
    return Pipeline([("prep", prep), ("rf", RandomForestClassifier(n_estimators=trees, max_depth=10, n_jobs=1,
                                                                   random_state=0))]).fit(df, y)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up: JIT, Python workers, caches
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=500_000)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--cores", type=int, default=2, help="Spark local[N]: task slots for both runners")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need scikit-learn

    import modelport
    import modelport.spark as mspark
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql.functions import pandas_udf
    from pyspark.sql.types import StructField, StructType

    say = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    say(f"training a {args.trees}-tree forest and compiling it (java)")
    est = train(args.trees)
    out = WORK / f"forest{args.trees}"
    modelport.compile(est, targets=("java",), out=out, name="forest", rows=256)

    spark = (SparkSession.builder.master(f"local[{args.cores}]").appName("modelport-spark-bench")
             .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", str(args.cores))
             .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    try:
        data = frame(args.rows, 1, unseen=True)
        df = spark.createDataFrame(data).repartition(args.cores).cache()
        df.count()
        m = mspark.register(spark, out)
        cols = list(data.columns)
        # the same fields; nullable, as pandas UDFs return them
        out_type = StructType([StructField(f.name, f.dataType, True) for f in m.output_type.fields])
        names = out_type.fieldNames()

        @pandas_udf(out_type)
        def sklearn_udf(X: pd.DataFrame) -> pd.DataFrame:
            X["city"] = X["city"].astype(object).where(X["city"].notna(), np.nan)
            proba = est.predict_proba(X)
            res = pd.DataFrame({names[0]: est.classes_[proba.argmax(axis=1)].astype(str)})
            for k, c in enumerate(est.classes_):
                res[f"prob_{c}"] = proba[:, k].astype(np.float32)
            return res[names]

        runners = {"modelport JVM UDF (Java model)": m(*cols),
                   "pandas UDF (scikit-learn model)": sklearn_udf(F.struct(*cols))}
        sample = df.limit(2000)
        want = est.predict(sample.toPandas()[cols].replace({None: np.nan}))
        for label, col in runners.items():
            got = np.array([r[0] for r in sample.select(col.alias("p")).select("p.label").collect()])
            agree = float((got == want).mean())
            say(f"{label}: labels agree with scikit-learn on {agree:.2%} of {len(want)} rows")
            if agree < 0.999:
                raise SystemExit(f"{label} disagrees with scikit-learn")

        results = {}
        for label, col in runners.items():
            say(f"timing {label}")
            results[label] = timed(lambda: df.select(col.alias("p")).write.format("noop").mode("overwrite").save(),
                                   args.repeats)
    finally:
        spark.stop()

    base = results["pandas UDF (scikit-learn model)"]
    print(f"Spark local[{args.cores}], {args.rows:,} rows, {N_FEATURES} numbers + 1 string column, "
          f"RandomForestClassifier ({args.trees} trees, max_depth 10); median of {args.repeats} runs\n")
    print("| runner | rows/s | seconds | vs pandas UDF |")
    print("| --- | ---: | ---: | ---: |")
    for label, sec in results.items():
        print(f"| {label} | {args.rows / sec:,.0f} | {sec:.2f} | {base / sec:.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
