"""The R part of `make bench` (called by benchmarks/run.py): models fitted in R through rpy2,
compiled with modelport's R frontend, and the generated C++ and Java (and ONNX Runtime on
model.onnx) timed against R's own predict() in the embedded R, on one pinned core.

Cases: a 500-tree randomForest classifier (3 classes) and regressor on 20 numeric columns,
a binomial glm (logit) with factor and numeric columns, a binomial mgcv gam with smooths
of four bases, and a survival coxph (relative risk); all data generated in R with
set.seed. R is timed inside R (see R_TIMER), so that rpy2's call overhead is left out; the
C++ library and the jar run in the drivers of run.py through their typed entry points
(`Model::run`, Java `run`), with string tensors for the factor columns.

Interface for run.py: prepare() fits and compiles (before the process is pinned), bench()
checks the outputs and measures, sections() and method() give the markdown.
"""
from __future__ import annotations

import os
import statistics
import struct
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_TREES = 500
N_TRAIN_FOREST = 3_000
N_TRAIN_GLM = 5_000
R_BATCH_MIN_S = 0.2   # R's batch reps repeat predict() until a rep lasts this long (proc.time() counts ms)
R_GROUP_MIN_S = 0.1   # R's single-row groups have at least SINGLE_GROUP calls, and last at least this long
R_SELF_CHECK = 20     # rows R also predicts one at a time, to check its batch against its single rows

# The data, generated in R, as R has it: doubles (the artifacts compute in double, as R does).
R_SETUP = r"""
mp_forest_x <- function(n) {
  x <- as.data.frame(matrix(rnorm(n * 20), n, 20))
  names(x) <- sprintf("x%02d", 1:20)
  x
}
mp_forest_score <- function(x)
  x$x01 + 2 * sin(x$x02) + x$x03 * x$x04 + 0.5 * x$x05^2 - 0.5 + 0.3 * rowSums(x[, 6:10])

mp_glm_data <- function(n) {
  d <- data.frame(
    region = factor(sample(c("north", "south", "east", "west", "central"), n, TRUE, prob = c(.25, .2, .2, .2, .15))),
    plan = factor(sample(c("basic", "plus", "pro", "enterprise"), n, TRUE, prob = c(.4, .3, .2, .1))),
    channel = factor(sample(c("web", "store", "phone", "partner"), n, TRUE, prob = c(.4, .3, .2, .1))),
    device = factor(sample(c("ios", "android", "desktop", "tablet", "other"), n, TRUE)),
    age = round(runif(n, 18, 80)),
    income = round(exp(rnorm(n, 10.5, 0.5))),
    tenure = round(rexp(n, 1 / 24), 1),
    visits = as.double(rpois(n, 6)),
    spend = round(rgamma(n, 2, 1 / 50), 2))
  eta <- -1 + 0.4 * (d$plan == "pro") + 0.8 * (d$plan == "enterprise") - 0.3 * (d$channel == "phone") +
    0.2 * (d$region == "west") - 0.1 * (d$device == "other") + 0.02 * (d$age - 45) - 0.0004 * (d$age - 45)^2 +
    0.5 * (log(d$income) - 10.5) - 0.01 * d$tenure + 0.08 * d$visits + 0.002 * d$spend
  d$churn <- rbinom(n, 1, plogis(eta))
  d
}
"""

# The shape of a randomForest's trees: nodes, deepest leaf, mean leaf depth (per tree, averaged;
# the deepest over all trees). A node's children come after it in randomForest's node order.
R_FOREST_SHAPE = r"""
function(f) {
  fo <- f$forest
  left <- if (is.null(fo$treemap)) fo$leftDaughter else fo$treemap[, 1, ]
  right <- if (is.null(fo$treemap)) fo$rightDaughter else fo$treemap[, 2, ]
  per <- vapply(seq_len(fo$ntree), function(t) {
    n <- fo$ndbigtree[t]
    st <- fo$nodestatus[seq_len(n), t]
    d <- integer(n)
    for (i in seq_len(n)) if (st[i] != -1) d[c(left[i, t], right[i, t])] <- d[i] + 1L
    c(n, max(d[st == -1]), mean(d[st == -1]))
  }, numeric(3))
  c(rowMeans(per), max(per[2, ]))
}
"""

# The timer, in R: predict() of the model on the test frame (batch) or on single-row frames
# built beforehand (a list of data[i, , drop = FALSE]), timed by R's own clocks.
R_TIMER = r"""
function(model, data, type) {
  pred <- function(d) predict(model, newdata = d, type = type)
  n <- nrow(data)
  rows <- lapply(seq_len(n), function(i) data[i, , drop = FALSE])
  pos <- 0L
  now <- function() as.numeric(Sys.time())
  cpu <- function() sum(proc.time()[1:2])
  list(
    predict = function(d) pred(d),
    single_rows = function(k) lapply(rows[seq_len(k)], pred),
    # ns per call of one predict(data): wall clock, CPU time; k calls per rep
    batch = function(reps, k) {
      out <- numeric(2 * reps)
      for (i in seq_len(reps)) {
        c0 <- cpu(); t0 <- now()
        for (j in seq_len(k)) p <- pred(data)
        t1 <- now(); c1 <- cpu()
        out[2 * i - 1] <- (t1 - t0) * 1e9 / k
        out[2 * i] <- (c1 - c0) * 1e9 / k
      }
      out
    },
    # ns per group of `group` one-row calls on consecutive rows: CPU times, then wall-clock times
    single = function(group, max_groups, budget_s) {
      out <- numeric(2 * max_groups)
      g <- 0L
      end <- now() + budget_s
      while (g < max_groups && (g < 3L || now() < end)) {
        c0 <- cpu(); t0 <- now()
        for (j in seq_len(group)) {
          pos <<- pos %% n + 1L
          p <- pred(rows[[pos]])
        }
        t1 <- now(); c1 <- cpu()
        g <- g + 1L
        out[2 * g - 1] <- (c1 - c0) * 1e9
        out[2 * g] <- (t1 - t0) * 1e9
      }
      out[seq_len(2 * g)]
    })
}
"""


@dataclass
class RCase:
    key: str
    title: str
    kind: str          # "forest" | "glm" (a probability: labels p > 0.5 compared too) | "value"
    classifier: bool
    r_type: str        # the predict() type R is timed with
    package: str       # the R package the model class needs
    fit_code: str      # R code: set.seed, data, fit (the value of the last expression)
    test_code: str     # R code: the 10k-row test frame
    converter: str     # module of modelport.frontends.r
    fit: object = None
    test: object = None
    fit_s: float = 0.0
    built: object = None
    built32: object = None  # the same model compiled with --precision float32
    skipped: str | None = None
    shape: str = ""    # what the fitted model looks like, for the report
    output: str = "prediction"  # the output compared and timed (regressors)


def cases() -> list:
    forest_fit = ("set.seed(11); mp_tr <- mp_forest_x({n}); "
                  "mp_s <- mp_forest_score(mp_tr) + 0.3 * rnorm({n}); {target}; "
                  "suppressPackageStartupMessages(library(randomForest)); "
                  "randomForest(y ~ ., data = mp_tr, ntree = {trees})")
    cls_target = ("mp_tr$y <- cut(mp_s, quantile(mp_s, c(0, 1/3, 2/3, 1)), include.lowest = TRUE, "
                  "labels = c('low', 'mid', 'high'))")
    return [
        RCase("r_forest_classifier",
              f"R randomForest classifier: {N_TREES} trees, 20 numeric columns, 3 classes",
              "forest", True, "prob", "randomForest",
              forest_fit.format(n=N_TRAIN_FOREST, target=cls_target, trees=N_TREES),
              "set.seed(12); mp_forest_x(10000)", "random_forest"),
        RCase("r_forest_regressor", f"R randomForest regressor: {N_TREES} trees, 20 numeric columns",
              "forest", False, "response", "randomForest",
              forest_fit.format(n=N_TRAIN_FOREST, target="mp_tr$y <- mp_s", trees=N_TREES),
              "set.seed(14); mp_forest_x(10000)", "random_forest"),
        RCase("r_glm", "R glm (binomial, logit): 4 factor and 5 numeric columns",
              "glm", False, "response", "stats",
              f"set.seed(21); mp_tr <- mp_glm_data({N_TRAIN_GLM}); "
              "glm(churn ~ region + plan + channel + device + age + I(age^2) + log(income) + tenure + visits "
              "+ spend, data = mp_tr, family = binomial)",
              "set.seed(22); mp_te <- mp_glm_data(10000); mp_te$churn <- NULL; mp_te", "glm"),
        RCase("r_gam", "R mgcv gam (binomial, logit): 2 factors, smooths tp, cr, ps and a te() tensor product",
              "glm", False, "response", "mgcv",
              f"set.seed(21); mp_tr <- mp_glm_data({N_TRAIN_GLM}); suppressPackageStartupMessages(library(mgcv)); "
              "gam(churn ~ region + plan + s(age) + s(income, bs = 'cr') + s(spend, bs = 'ps') + te(tenure, visits), "
              "data = mp_tr, family = binomial)",
              "set.seed(22); mp_te <- mp_glm_data(10000); mp_te$churn <- NULL; mp_te", "gam"),
        RCase("r_coxph", "R survival coxph (relative risk): 2 factors, 3 numeric columns, a transform",
              "value", False, "risk", "survival",
              f"set.seed(31); mp_tr <- mp_glm_data({N_TRAIN_GLM}); "
              "mp_tr$time <- rexp(nrow(mp_tr), exp(-3 + 0.02 * (mp_tr$age - 45) + 0.3 * (mp_tr$plan == 'pro'))); "
              "mp_tr$status <- rbinom(nrow(mp_tr), 1, 0.8); suppressPackageStartupMessages(library(survival)); "
              "coxph(Surv(time, status) ~ region + plan + age + log(income) + tenure, data = mp_tr)",
              "set.seed(32); mp_te <- mp_glm_data(10000); mp_te$churn <- NULL; mp_te", "coxph", output="risk"),
    ]


# --------------------------------------------------------------------------- R


def _ro():
    import rpy2.robjects as ro
    return ro


def r_unavailable() -> str | None:
    """Why the R part cannot run (None when it can)."""
    try:
        import rpy2.rinterface_lib.callbacks as callbacks
        import rpy2.robjects as ro
        callbacks.consolewrite_print = lambda s: None
        callbacks.consolewrite_warnerror = lambda s: None
        ro.r("invisible(1)")
    except Exception as exc:  # noqa: BLE001 - ImportError, or R itself failing to start
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        return f"R or rpy2 could not be loaded ({first}); `make setup` installs them"
    return None


def r_has_package(package: str) -> bool:
    return bool(_ro().r(f"isTRUE(suppressWarnings(requireNamespace('{package}', quietly = TRUE)))")[0])


def versions() -> dict:
    ro = _ro()
    import rpy2
    out = {"R": str(ro.r("paste(R.version$major, R.version$minor, sep = '.')")[0]), "rpy2": rpy2.__version__}
    if r_has_package("randomForest"):
        out["randomForest"] = str(ro.r("as.character(utils::packageVersion('randomForest'))")[0])
    return out


# --------------------------------------------------------------------------- preparing


def prepare(selected: list, h, say) -> list:
    """Fit every selected case in R and compile it; the ones that cannot be have .skipped."""
    import importlib.util
    chosen = [c for c in cases() if c.key in selected]
    if not chosen:
        return []
    reason = r_unavailable()
    if reason:
        for c in chosen:
            c.skipped = f"skipped: {reason}"
        say(f"  R models skipped: {reason}")
        return chosen
    _ro().r(R_SETUP)
    for c in chosen:
        if c.package != "stats" and not r_has_package(c.package):
            c.skipped = f"skipped: the R package {c.package} is not installed in R"
        elif importlib.util.find_spec(f"modelport.frontends.r.{c.converter}") is None:
            c.skipped = (f"skipped: modelport's R frontend has no converter for this class yet "
                         f"(frontends/r/{c.converter}.py does not exist)")
        if c.skipped:
            say(f"  {c.key} {c.skipped}")
            continue
        say(f"fitting {c.key} in R")
        try:
            t0 = time.perf_counter()
            c.fit = _ro().r(c.fit_code)
            c.fit_s = time.perf_counter() - t0
            c.test = _ro().r(c.test_code)
            if c.kind == "forest":
                shape = [float(v) for v in _ro().r(R_FOREST_SHAPE)(c.fit)]
                c.shape = (f"trees of {shape[0]:,.0f} nodes on average; per tree, mean leaf depth {shape[2]:.1f} "
                           f"and deepest leaf {shape[1]:.1f} on average ({shape[3]:.0f} at most)")
            else:
                formula = _ro().r("function(f) paste(trimws(deparse(formula(f))), collapse = ' ')")(c.fit)
                c.shape = f"formula `{formula[0]}`"
        except Exception as exc:  # noqa: BLE001
            c.skipped = f"skipped: fitting in R failed ({str(exc).strip()[:300]})"
            say(f"  {c.skipped}")
            continue
        say(f"compiling {c.key}")
        try:
            c.built = h.compile_case(c, c.fit)
            say(f"compiling {c.key} with --precision float32")
            c.built32 = h.compile_case(c, c.fit, "float32")
        except Exception as exc:  # noqa: BLE001 - reported, not fatal
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            c.skipped = f"skipped: not supported yet: `modelport.compile` failed ({type(exc).__name__}: {first})"
            say(f"  {c.skipped}")
    return chosen


# --------------------------------------------------------------------------- data and specs


CTYPES = {"float": "f32", "double": "f64", "int64_t": "i64", "std::string": "str"}
NP = {"f32": np.float32, "f64": np.float64, "i64": np.int64}


def tensor_spec(hpp: Path, struct_name: str) -> list:
    """[(tensor, dtype, size)] from the generated header's Inputs or Outputs struct."""
    import re
    body = hpp.read_text().split(f"struct {struct_name} {{", 1)[1].split("};", 1)[0]
    out = []
    for line in body.strip().splitlines():
        m = re.match(r"\s*(?:const )?([\w:]+)\* (\w+);\s*//\s*(\d+) per row", line)
        if not m or m.group(1) not in CTYPES:
            raise RuntimeError(f"cannot read {struct_name} in {hpp.name}: {line.strip()!r}")
        out.append((m.group(2), CTYPES[m.group(1)], int(m.group(3))))
    return out


def spec_text(spec: list) -> str:
    return ",".join(f"{dt}:{size}" for _, dt, size in spec)


def frame_columns(df, names: list) -> dict:
    """Columns of an R data frame as numpy arrays: numbers as float64, the rest as str."""
    get = _ro().r("function(d, c) if (is.numeric(d[[c]])) as.double(d[[c]]) else as.character(d[[c]])")
    out = {}
    for n in names:
        v = get(df, n)
        out[n] = (np.asarray(v, dtype=np.float64) if isinstance(v, _ro().vectors.FloatVector)
                  else np.array([str(x) for x in v], dtype=object))
    return out


def input_tensors(schema_inputs: list, spec: list, cols: dict, n: int) -> dict:
    """{tensor: [n, size] array in its dtype (object for str)} from the frame's columns."""
    out = {}
    for tensor, dt, size in spec:
        arr = np.empty((n, size), dtype=object if dt == "str" else NP[dt])
        for c in schema_inputs:
            if c["tensor"] == tensor:
                v = cols[c["name"]]
                arr[:, c["offset"]] = v.astype(str) if dt == "str" else v
        out[tensor] = arr
    return out


def write_tensors(path: Path, spec: list, tensors: dict):
    """The TENSORS file of the drivers (see benchmarks/driver.cpp)."""
    with open(path, "wb") as f:
        for tensor, dt, _ in spec:
            a = tensors[tensor]
            if dt != "str":
                f.write(np.ascontiguousarray(a, dtype=np.dtype(NP[dt]).newbyteorder("<")).tobytes())
                continue
            for v in a.reshape(-1):
                b = str(v).encode("utf-8")
                f.write(struct.pack("<I", len(b)))
                f.write(b)


# --------------------------------------------------------------------------- outputs


@dataclass
class Outs:
    """A runner's outputs over the batch rows then the single-call rows: values [M, k]
    (probabilities or predictions) and labels [M] (str; classifiers only)."""
    values: np.ndarray
    labels: np.ndarray | None = None


def compiled_outs(table: np.ndarray, names: list, strs: list | None, str_names: list, case: RCase,
                  schema: dict) -> Outs:
    """Outputs of a compiled runner: `table` [M, n_out] with columns `names`; the columns
    `str_names` are NaN there, and their values are in `strs`, row by row."""
    if case.classifier:
        vcols = [c["name"] for c in schema["outputs"] if c["kind"] == "probability"]
    else:
        vcols = [case.output]
    values = table[:, [names.index(c) for c in vcols]].astype(np.float64)
    labels = None
    if case.classifier:
        if "label" in str_names:
            if strs is None or len(strs) != len(table) * len(str_names):
                raise RuntimeError("the driver wrote no (or too few) string outputs")
            labels = np.array(strs, dtype=object).reshape(-1, len(str_names))[:, str_names.index("label")]
        else:  # a numeric label: a class index
            classes = [str(c) for c in schema["classes"]]
            labels = np.array([classes[int(v)] for v in table[:, names.index("label")]], dtype=object)
    return Outs(values, labels)


def compare(ref: Outs, got: Outs, case: RCase, tol: float, relative: bool = False) -> dict:
    """Max abs difference of the values (ok within `tol`, relative to max(1, |R's value|) when
    `relative`); label mismatches outside ties (R breaks a tie of votes at random, the
    generated code takes the first class)."""
    if got.values.shape != ref.values.shape:
        return {"diff": float("inf"), "bad": -1, "ties": 0, "ok": False}
    err = np.abs(ref.values - got.values)
    finite = np.all(np.isfinite(got.values))
    diff = float(np.max(err)) if finite else float("inf")
    rel = float(np.max(err / np.maximum(1.0, np.abs(ref.values)))) if finite else float("inf")
    if case.classifier:
        p = np.sort(ref.values, axis=1)
        tie = p[:, -1] - p[:, -2] < 1e-9
        wrong = (ref.labels != got.labels) if got.labels is not None else np.ones(len(tie), bool)
    else:  # binomial glm: the label is p > 0.5
        tie = np.abs(ref.values[:, 0] - 0.5) < 1e-6
        wrong = (ref.values[:, 0] > 0.5) != (got.values[:, 0] > 0.5)
    bad = int((wrong & ~tie).sum()) if case.classifier or case.kind == "glm" else 0
    return {"diff": diff, "bad": bad, "ties": int(tie.sum()) if case.classifier else 0,
            "ok": (rel if relative else diff) <= tol and bad == 0}


def agreement_text(a: dict, case: RCase, by_choice: bool = False) -> str:
    if a["bad"] < 0:
        return "**WRONG**: shape mismatch"
    text = f"{a['diff']:.1e}" if np.isfinite(a["diff"]) else "NaN"
    if case.classifier or case.kind == "glm":
        what = "labels" if case.classifier else "labels (p > 0.5)"
        text += f", {a['bad']} {what} differ" if a["bad"] else f", {what} equal"
        if a["ties"]:
            text += f" ({a['ties']} tied votes left out)"
    if by_choice:
        return f"{text} (rounds to float32)"
    return text if a["ok"] else f"**WRONG**: {text}"


# --------------------------------------------------------------------------- runners


def r_runner(case: RCase, h, cols_order: list | None):
    """R's predict() in the embedded R, timed inside R: (Runner, its outputs, the largest difference
    of its single-row outputs from its batch, timing details)."""
    ro = _ro()
    timer = ro.r(R_TIMER)(case.fit, case.test, case.r_type)
    fns = {k: timer.rx2(k) for k in ("predict", "single_rows", "batch", "single")}

    def values(res) -> np.ndarray:
        a = np.asarray(res, dtype=np.float64)
        if case.classifier:
            names = [str(x) for x in ro.r("function(m) colnames(m)")(res)]
            a = a.reshape(len(names), -1).T if a.ndim == 1 else a
            a = a[:, [names.index(c) for c in cols_order]]
        return a.reshape(a.shape[0], -1)

    batch_vals = values(fns["predict"](case.test))
    labels = None
    if case.classifier:
        resp = ro.r("function(m, d) as.character(predict(m, newdata = d, type = 'response'))")(case.fit, case.test)
        labels = np.array(list(resp), dtype=object)
    # R's own single-row outputs on the first rows, against its batch.
    singles = fns["single_rows"](R_SELF_CHECK)
    self_diff = max(float(np.max(np.abs(values(s) - batch_vals[i:i + 1]))) for i, s in enumerate(singles))

    # Batch reps repeat predict() k times (proc.time() counts whole milliseconds).
    one = np.asarray(fns["batch"](1, 1))
    k = max(1, int(np.ceil(R_BATCH_MIN_S / max(one[0], one[1], 1e6) * 1e9)))

    def batch(reps):
        v = np.asarray(fns["batch"](reps, k))
        return [(int(v[2 * i]), int(v[2 * i + 1])) for i in range(reps)]

    # Single rows: groups of `group` calls timed by CPU time (see method()); returned per
    # SINGLE_GROUP calls, as measure() expects.
    per_call = np.asarray(fns["single"](5, 1, 0.0))[0] / 5
    group = max(h.SINGLE_GROUP, int(np.ceil(R_GROUP_MIN_S * 1e9 / max(per_call, 1e5))))
    wall_cpu = []

    def single(budget_s, max_groups):
        v = np.asarray(fns["single"](group, max_groups, budget_s))
        cpu, wall = v[0::2], v[1::2]
        wall_cpu.extend(w / c for w, c in zip(wall, cpu) if c > 0)
        return [int(c / group * h.SINGLE_GROUP) for c in cpu]

    label = f"R `predict(type = \"{case.r_type}\")`"
    runner = h.Runner(label, "r", batch=batch, single=single)
    return runner, Outs(batch_vals, labels), self_diff, {"batch_k": k, "group": group, "wall_cpu": wall_cpu}


def ort_runner(case: RCase, h, path: Path, tensors: dict, out_cols: list):
    sess = h.ort_session(path)
    feed = {i.name: tensors[i.name] for i in sess.get_inputs()}
    n = len(next(iter(feed.values())))
    rows = [{k: v[r:r + 1] for k, v in feed.items()} for r in range(n)]
    out_names = [o.name for o in sess.get_outputs()]

    def call(f):
        return sess.run(out_names, f)
    batch, single = h.timed_batch(call, feed), h.timed_single(call, rows)

    def outs(res_list: list) -> Outs:
        res = dict(zip(out_names, res_list))
        m = len(next(iter(res.values())))
        values = (np.asarray(res["probabilities"], dtype=np.float64) if case.classifier
                  else np.asarray(res[case.output], dtype=np.float64).reshape(m, -1))
        labels = np.asarray(res["label"]).reshape(-1).astype(object) if case.classifier else None
        return Outs(values, labels)

    parts = [outs(call(feed))] + [outs(call(rows[i])) for i in range(h.CHECK_SINGLE)]
    got = Outs(np.vstack([p.values for p in parts]),
               np.concatenate([p.labels for p in parts]) if case.classifier else None)
    return h.Runner("ONNX Runtime (Python API) on `model.onnx`", "ort", batch=batch, single=single), got


def driver_runners(drv, paths: list, check_file: Path, h, case: RCase, schema: dict, str_names: list):
    """Runners for a driver's paths [(path, label, key, diagnostic, column names)], in the
    order the driver writes them, with their outputs."""
    missing = [p[0] for p in paths if p[0] not in drv.paths]
    if missing:
        raise RuntimeError(f"the {drv.what} driver has no {', '.join(missing)} path (it has {', '.join(drv.paths)})")
    drv.ask(f"check {check_file} {h.CHECK_SINGLE}")
    m = h.N_ROWS + h.CHECK_SINGLE
    data = np.fromfile(check_file, dtype=np.float64)
    strs_file = Path(f"{check_file}.str")
    strs = strs_file.read_text(encoding="utf-8").split("\n")[:-1] if strs_file.exists() else None
    per_path = m * drv.n_out
    out = []
    for path, label, key, diagnostic, names in paths:
        i = drv.paths.index(path)

        def batch(reps, path=path):
            return [tuple(int(v) for v in rep.split(",")) for rep in drv.ask(f"batch {path} {reps}").split()]

        def single(budget_s, max_groups, path=path):
            return drv.numbers(f"single {path} {h.SINGLE_GROUP} {max_groups} {int(budget_s * 1000)}")

        r = h.Runner(label, key, diagnostic, batch=batch, single=single)
        table = data[i * per_path:(i + 1) * per_path].reshape(m, drv.n_out)
        # Only the run path has str outputs, and then it is the only path.
        out.append((r, compiled_outs(table, names, strs if path == "run" else None,
                                     str_names if path == "run" else [], case, schema)))
    return out


# --------------------------------------------------------------------------- one case


def compiled_runners(built, case: RCase, cols: dict, args, h, drivers, java_flags, tag: str = "", suffix: str = "",
                     abi: bool = True) -> tuple:
    """The generated C++ and Java of `built` on the test frame's columns: ([(Runner, Outs)],
    driver processes). The typed entry points (`Model::run`, Java `run`) always; with `abi`,
    for models whose columns and outputs are all numbers, also the double-row C ABI and Java
    `predict(double[][])`."""
    name, d = built.name, built.directory
    schema = built.manifest["schema"]
    hpp = d / "cpp" / f"{name}.hpp"
    in_spec, out_spec = tensor_spec(hpp, "Inputs"), tensor_spec(hpp, "Outputs")
    in_names = [c["name"] for c in schema["inputs"]]
    tensors_file = d / "rows.tensors"
    write_tensors(tensors_file, in_spec, input_tensors(schema["inputs"], in_spec, cols, h.N_ROWS))
    has_abi = abi and f"int {name}_predict_f64(const double* x" in hpp.read_text()
    rows_file = "-"
    if has_abi:
        rows_file = d / "rows.f64"
        np.column_stack([cols[c] for c in in_names]).astype(np.float64).tofile(rows_file)
    out_names = [c["name"] for c in schema["outputs"]]
    run_names, str_names = [], []  # output columns in tensor order (what the run paths write); the strings
    for tensor, dt, size in out_spec:
        for off in range(size):
            run_names.append(next(c["name"] for c in schema["outputs"]
                                  if c["tensor"] == tensor and c["offset"] == off))
            if dt == "str":
                str_names.append(run_names[-1])
    exe, classes = drivers
    spec_in, spec_out = spec_text(in_spec), spec_text(out_spec)
    runners, procs = [], []
    n_feat = len(in_names) if has_abi else 0
    try:
        cpp = h.DriverProcess(["taskset", "-c", str(args.cpu), str(exe), str(d / "cpp" / f"lib{name}.so"), name,
                               str(rows_file), str(h.N_ROWS), str(n_feat), spec_out, spec_in, str(tensors_file)],
                              "C++")
        procs.append(cpp)
        paths = ([("abi64", f"generated C++{tag}, C ABI `{name}_predict_f64` (double rows)", "cpp_abi" + suffix,
                   False, out_names)] if has_abi else [])
        paths.append(("run", f"generated C++{tag}, `Model::run` (typed tensors)", "cpp" + suffix, False, run_names))
        runners += driver_runners(cpp, paths, d / "cpp_out.f64", h, case, schema, str_names)
    except Exception as exc:  # noqa: BLE001 - reported in the table, and the run fails at the end
        runners.append((h.Runner(f"generated C++{tag}", "cpp" + suffix, error=str(exc)[:300]), None))
    try:
        cls = built.manifest["targets"]["java"]["class"]
        jar = d / "java" / f"{name}.jar"
        java = h.DriverProcess(["taskset", "-c", str(args.cpu), "java", *java_flags, f"-Dbench.class={cls}",
                                "-cp", f"{jar}{os.pathsep}{classes}", "Driver", str(rows_file), str(h.N_ROWS),
                                str(n_feat), spec_out, spec_in, str(tensors_file)], "Java")
        procs.append(java)
        paths = ([("predict64", f"generated Java{tag}, `predict` / `predictRow` (double rows)",
                   "java_predict" + suffix, False, out_names)] if has_abi else [])
        paths.append(("run", f"generated Java{tag}, `run` (typed arrays)", "java" + suffix, False, run_names))
        runners += driver_runners(java, paths, d / "java_out.f64", h, case, schema, str_names)
    except Exception as exc:  # noqa: BLE001
        runners.append((h.Runner(f"generated Java{tag}", "java" + suffix, error=str(exc)[:300]), None))
    return runners, procs


def bench_case(case: RCase, args, h, drivers, java_flags, say) -> dict:
    built = case.built
    d = built.directory
    schema = built.manifest["schema"]
    res = {"case": case, "built": built, "runners": [], "agreement": {}, "notes": []}
    in_names = [c["name"] for c in schema["inputs"]]
    cols = frame_columns(case.test, in_names)
    n = len(next(iter(cols.values())))
    if n != h.N_ROWS:
        raise RuntimeError(f"the test frame has {n} rows, not {h.N_ROWS}")
    in_spec = tensor_spec(d / "cpp" / f"{built.name}.hpp", "Inputs")
    tensors = input_tensors(schema["inputs"], in_spec, cols, n)
    out_names = [c["name"] for c in schema["outputs"]]
    prob_cols = [c["name"].removeprefix("prob_") for c in schema["outputs"] if c["kind"] == "probability"]

    say("  checking outputs")
    r, ref, self_diff, timing = r_runner(case, h, [str(c) for c in schema["classes"]] or prob_cols)
    res["r_self_diff"], res["r_timing"] = self_diff, timing
    ref = Outs(np.vstack([ref.values, ref.values[:h.CHECK_SINGLE]]),
               np.concatenate([ref.labels, ref.labels[:h.CHECK_SINGLE]]) if ref.labels is not None else None)
    runners = [(r, ref)]
    ort_r, ort_out = ort_runner(case, h, d / "model.onnx", tensors, out_names)
    runners.append((ort_r, ort_out))
    more, procs = compiled_runners(built, case, cols, args, h, drivers, java_flags)
    runners += more
    if case.built32 is not None:
        # The same model compiled with --precision float32: what double costs, and what it buys.
        more, p = compiled_runners(case.built32, case, cols, args, h, drivers, java_flags, h.FLOAT32_TAG,
                                   "_float32", abi=False)
        runners += more
        procs += p
    double = built.manifest.get("precision", {}).get("model") == "float64"

    ok = True
    for run_, outs in runners:
        if run_.error:
            ok = False
            continue
        by_choice = run_.key.endswith("_float32")
        exact = double and run_.key != "ort" and not by_choice
        a = compare(ref, outs, case, h.DOUBLE_RTOL if exact else h.VALUE_TOL, relative=exact)
        res["agreement"][run_.key] = agreement_text(a, case, by_choice)
        ok &= a["ok"] or by_choice
        say(f"    {run_.label}: {res['agreement'][run_.key]}")
    res["ok"] = ok
    live = [x for x, _ in runners]
    res["runners"] = live

    try:
        say("  warming up")
        r.batch(1)
        r.single(0.1, 3)
        ort_r.batch(2)
        ort_r.single(0.2, 50)
        for p in procs:
            p.ask(f"warm {int((args.java_warm_s if p.what == 'Java' else 0.5) * 1000)}")
        say(f"  measuring ({args.rounds} rounds)")
        h.measure([x for x in live if not x.error], args.rounds, args.batch_reps, args.single_s, say)
    finally:
        for p in procs:
            p.close()
    return res


def bench(chosen: list, args, h, drivers, java_flags, say) -> list:
    results = []
    for case in chosen:
        if case.built is None:
            results.append({"case": case, "skipped": case.skipped})
            continue
        say(f"benchmarking {case.key}")
        try:
            results.append(bench_case(case, args, h, drivers, java_flags, say))
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            results.append({"case": case, "skipped": f"benchmark failed: {type(exc).__name__}: {exc}"[:400],
                            "ok": False, "built": case.built})
    return results


# --------------------------------------------------------------------------- reporting


def fmt_ratio(stats: tuple) -> str:
    def f(v):
        return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 0.1 else f"{v:.2g}"
    med, lo, hi = stats
    return f"**{f(med)}x** ({f(lo)}–{f(hi)})"


def table(res: dict, h) -> list:
    runners = res["runners"]
    base = next(r for r in runners if r.key == "r")
    lines = ["| Runner | single row, µs/call | vs R | batch of 10k, rows/s | ns/row | vs R | max abs diff vs R |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for r in runners:
        if r.error:
            lines.append(f"| {r.label} | failed | | | | | {r.error} |")
            continue
        single = statistics.median(r.single_ns)
        batch = statistics.median(r.batch_ns)
        lines.append(
            f"| {r.label} | {h.fmt_us(single)} | {fmt_ratio(h.ratio_stats(r.round_single, base.round_single))} "
            f"| {h.fmt_rate(h.N_ROWS / batch * 1e9)} | {batch / h.N_ROWS:,.0f} "
            f"| {fmt_ratio(h.ratio_stats(r.round_batch, base.round_batch))} | {res['agreement'].get(r.key, '')} |")
    return lines


def sections(results: list, h) -> list:
    out = []
    for res in results:
        case = res["case"]
        out += [f"## {case.title}", ""]
        if res.get("skipped"):
            out += [res["skipped"], ""]
            continue
        out += table(res, h) + [""]
        b = res["built"]
        what = ("`predict(type = \"prob\")` (vote fractions) for the timing and the probabilities, "
                "`type = \"response\"` for the labels" if case.classifier else
                f"`predict(type = \"{case.r_type}\")`")
        t = res["r_timing"]
        busy = f"{statistics.median(t['wall_cpu']):.2f}x" if t["wall_cpu"] else "-"
        out += [f"Model: {case.shape}. R: {what}; fitted in {case.fit_s:.1f} s; `modelport.compile` (C++ and "
                f"Java, with its parity check) {b.compile_s:.1f} s. R timing: {t['batch_k']} `predict()` call"
                f"{'s' if t['batch_k'] != 1 else ''} per batch rep, {t['group']} per single-row group (whose "
                f"wall-clock time was on median {busy} its CPU time in this run); R's own single-row outputs on "
                f"the first {R_SELF_CHECK} rows differ from its batch by at most {res['r_self_diff']:.1e}.", ""]
    return out


def method(results: list, h, args) -> list:
    if not results:
        return []
    return [
        "- R models, data: fitted in R through rpy2 with `set.seed` (randomForest: "
        f"{N_TREES} trees, default `mtry` and `nodesize`, formula interface, on {N_TRAIN_FOREST:,} rows of 20 "
        "standard normal columns; the classifier's 3 classes are the tertiles of a noisy non-linear score, the "
        "regressor's target is that score; glm: binomial, logit link, on "
        f"{N_TRAIN_GLM:,} rows of 4 factor and 5 numeric columns, with `I(age^2)` and `log(income)` in the "
        f"formula), and benchmarked on {h.N_ROWS:,} other rows generated in R from the same distribution, "
        "as R has them: doubles, not rounded.",
        "- R models, runners: R's `predict()` runs embedded in this process (pinned like the rest). ONNX "
        "Runtime gets the artifact's `model.onnx`, one [N, 1] tensor per column (strings for factors). The C++ "
        "library and the jar run in-process in the same drivers, through their typed entry points: "
        "`Model::run` (found by its mangled name) with a `std::string` tensor per factor column and a `double` "
        "one per numeric column, and Java `run(Object[], Object[], int)` with `String[]` and `double[]` "
        "arrays (for a single row: one-row arrays filled from the row); for models whose columns and outputs "
        "are all numbers, also through the double-row C ABI `<name>_predict_f64` and Java "
        "`predict(double[][])` / `predictRow(double[])`. Rows marked `--precision float32` run the same "
        "model compiled with that option (`float` tensors) through the same typed entry points.",
        "- R models, timing: R is timed inside R, which leaves out rpy2's call overhead, by `proc.time()` "
        "(user + system CPU time of the process, in whole milliseconds): as for the batches above, this "
        "leaves out the time R waited while other processes had the core, which the wall clock would count "
        "since R's calls last longer than the scheduler's time slices. Single rows: groups of one-row "
        f"`predict()` calls on consecutive rows (at least {h.SINGLE_GROUP} calls and {R_GROUP_MIN_S} s a group), "
        "each on a one-row data frame `data[i, , drop = FALSE]` built beforehand (a list); batch: `predict()` "
        f"on the {h.N_ROWS:,}-row data frame, repeated within a rep until the rep lasts {R_BATCH_MIN_S} s. "
        "Per-call times are a group's or a rep's time divided by its calls; the other runners are timed as "
        "above. Rounds and warm-up as above; \"vs R\" is the median over rounds of R's time divided by the "
        "runner's time in the same round.",
        f"- R models, agreement: before timing, every runner predicts all {h.N_ROWS:,} rows in one batch and "
        f"the first {h.CHECK_SINGLE:,} rows one at a time; against R's batch output (R's own single-row "
        f"outputs are checked against it on the first {R_SELF_CHECK} rows), the largest difference of the "
        f"probabilities or predictions must be at most {h.DOUBLE_RTOL:g} relative (to max(1, |R's value|)) "
        f"for the generated code (ONNX Runtime: {h.VALUE_TOL:g} absolute; the `--precision float32` builds "
        "show theirs and are not held to it), and labels must be equal: "
        "for randomForest classifiers against `predict(type = \"response\")`, leaving out rows whose top two "
        "vote fractions tie (R breaks such a tie at random, the generated code takes the first class); for "
        "the glm, p > 0.5. Otherwise the row says WRONG and `make bench` fails.",
    ]


def json_results(results: list) -> list:
    return [{"model": r["case"].key, "skipped": r.get("skipped"),
             "runners": [{"key": x.key, "label": x.label, "error": x.error, "batch_ns": x.batch_ns,
                          "single_ns_per_call": x.single_ns, "round_batch_ns": x.round_batch,
                          "round_single_ns": x.round_single, "agreement": r.get("agreement", {}).get(x.key)}
                         for x in r.get("runners", [])]} for r in results]
