"""rpart, randomForest, ranger and gbm from R, checked against R's predict() on R's own
datasets: rows resampled from them, a third of each numeric value moved onto a split
threshold of the model or one float32 step either side, and missing values where the
model takes them."""
import json
import time

import numpy as np
import pytest

from r_helpers import fit_and_check, r

from modelport.errors import UnsupportedError

# R: (variable, threshold) of every numeric split of a fitted model.
R_THRESHOLDS = r"""
function(f) {
  if (inherits(f, "rpart")) {
    s <- f$splits[abs(f$splits[, "ncat"]) == 1, , drop = FALSE]
    return(data.frame(var = rownames(s), value = s[, "index"]))
  }
  if (inherits(f, "randomForest")) {
    fo <- f$forest
    nd <- fo$ndbigtree
    idx <- cbind(unlist(lapply(nd, seq_len)), rep(seq_along(nd), nd))
    st <- matrix(fo$nodestatus, nrow = fo$nrnodes)[idx]
    v <- matrix(fo$bestvar, nrow = fo$nrnodes)[idx]
    x <- matrix(fo$xbestsplit, nrow = fo$nrnodes)[idx]
    keep <- st != -1 & fo$ncat[pmax(v, 1)] == 1
    return(data.frame(var = names(fo$ncat)[v[keep]], value = x[keep]))
  }
  if (inherits(f, "ranger")) {
    fo <- f$forest
    internal <- unlist(lapply(fo$child.nodeIDs, `[[`, 1)) != 0
    return(data.frame(var = fo$independent.variable.names[unlist(fo$split.varIDs)[internal] + 1],
                      value = unlist(fo$split.values)[internal]))
  }
  if (inherits(f, "gbm")) {
    t <- do.call(rbind, lapply(f$trees[seq_len(f$n.trees)], function(t) data.frame(v = t[[1]], x = t[[2]])))
    t <- t[t$v >= 0, ]
    t <- t[f$var.type[t$v + 1] == 0, ]
    return(data.frame(var = f$var.names[t$v + 1], value = t$x))
  }
  stop("no thresholds for ", class(f)[1])
}
"""


def edge_rows(name: str, data: str, fit: str, n: int = 300, na: float = 0.0, na_columns=(), seed: int = 0):
    """Define the R data frame `name`: n rows of `data` resampled, a third of the values of
    each numeric column a split threshold of the R model `fit` (a variable name) or the
    float32 just below or above it, then a fraction `na` of the `na_columns` values NA."""
    from r_helpers import _ro
    ro = _ro()
    r(f"set.seed({seed}); {name} <- {data}[sample(nrow({data}), {n}, TRUE), , drop = FALSE]; "
      f"rownames({name}) <- NULL")
    th = r(R_THRESHOLDS)(r(fit))
    names = [str(v) for v in th.rx2("var")]
    values = np.asarray(th.rx2("value"), dtype=np.float64)
    numeric = set(r(f"names({name})[vapply({name}, is.numeric, TRUE)]"))
    rng = np.random.RandomState(seed)
    put = r("function(d, c, i, v) { d[[c]][i] <- v; d }")
    for col in sorted(set(names) & numeric):
        t = np.float32(values[[i for i, v in enumerate(names) if v == col]])
        rows = np.where(rng.rand(n) < 1 / 3)[0]
        picks = t[rng.randint(0, len(t), len(rows))]
        step = rng.randint(-1, 2, len(rows))
        picks = np.where(step < 0, np.nextafter(picks, np.float32(-np.inf)),
                         np.where(step > 0, np.nextafter(picks, np.float32(np.inf)), picks))
        ro.globalenv[name] = put(r(name), col, ro.IntVector((rows + 1).tolist()),
                                 ro.FloatVector(picks.astype(np.float64).tolist()))
    for col in na_columns:
        r(f"{name}[[{col!r}]][sample({n}, {int(na * n)})] <- NA")


def check(fit: str, data: str, tmp_path, n: int = 300, na: float = 0.0, na_columns=(), **kw):
    """Fit in R (kept as `fit_`), build edge rows from `data`, compile and check parity."""
    r(f"fit_ <- {fit}")
    edge_rows("rows_", data, "fit_", n=n, na=na, na_columns=na_columns)
    return fit_and_check("fit_", "rows_", tmp_path, **kw)


def test_float32_thresholds():
    from modelport.frontends.r.trees import float32_threshold
    t = np.array([2.45, 0.5, 1e300, -1e300, 8.5, 1 / 3])
    x = np.float32(t)
    xs = np.concatenate([x, np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(-np.inf))])
    for strict in (False, True):
        u = float32_threshold(t, strict)
        for xv in xs:
            want = (xv.astype(np.float64) < t) if strict else (xv.astype(np.float64) <= t)
            assert np.array_equal(xv <= u, want)


# ---- rpart ----------------------------------------------------------------------------
def test_rpart_classification_surrogates(tmp_path):
    # kyphosis with missing values: surrogate splits, then the majority direction
    check("rpart::rpart(Kyphosis ~ Age + Number + Start, data = rpart::kyphosis, "
          "control = rpart::rpart.control(cp = 0.005, minsplit = 8))", "rpart::kyphosis", tmp_path,
          na=0.3, na_columns=("Age", "Number", "Start"))


def test_rpart_regression_airquality(tmp_path):
    check("rpart::rpart(Ozone ~ ., data = airquality)", "airquality", tmp_path,
          na=0.2, na_columns=("Solar.R", "Wind", "Temp"))


@pytest.mark.parametrize("method,response,surrogate,targets", [
    ("anova", "mpg", 1, ("cpp", "java", "onnx")),
    ("poisson", "carb", 0, ("cpp", "onnx")),
])
def test_rpart_factors_logical_and_stops(method, response, surrogate, targets, tmp_path):
    # Unordered, ordered and logical predictors; with usesurrogate < 2 a row with a missing
    # value stops in an internal node, as it does when its factor level never reached a split.
    r("set.seed(9); d_rp <- transform(mtcars, cyl = factor(cyl), gear = factor(gear, ordered = TRUE), am = am == 1, "
      "grp = factor(sample(c('a', 'b', 'c', 'd', 'e'), 32, TRUE)))")
    check(f"rpart::rpart({response} ~ cyl + gear + grp + wt + hp + am, data = d_rp, method = '{method}', "
          f"control = rpart::rpart.control(cp = 0.001, minsplit = 4, minbucket = 2, usesurrogate = {surrogate}))",
          "d_rp", tmp_path, na=0.2, na_columns=("cyl", "gear", "grp", "wt", "hp", "am"), targets=targets)


# ---- randomForest -----------------------------------------------------------------------
def test_random_forest_classification_rds(tmp_path):
    m = check("{set.seed(1); randomForest::randomForest(Species ~ ., data = iris, ntree = 40)}", "iris", tmp_path,
              save_rds=True)
    assert m["source"]["r_class"] == "randomForest"


def test_random_forest_regression_matrix(tmp_path):
    check("{set.seed(2); randomForest::randomForest(x = as.matrix(mtcars[, -1]), y = mtcars$mpg, ntree = 30)}",
          "mtcars[, -1]", tmp_path)


def test_random_forest_factors(tmp_path):
    # esoph's ordered factors split on level codes; an unordered factor on level sets
    r("set.seed(3); d_rf <- transform(esoph, site = factor(sample(c('n', 's', 'e', 'w', 'c'), 88, TRUE)))")
    check("{set.seed(3); randomForest::randomForest(ncases ~ agegp + tobgp + alcgp + ncontrols + site, "
          "data = d_rf, ntree = 30)}", "d_rf", tmp_path)


def test_random_forest_500_trees_converts_fast(tmp_path):
    from modelport.frontends import load_source
    r("set.seed(4); fit_rf500 <- randomForest::randomForest(Species ~ ., data = iris, ntree = 500)")
    start = time.time()
    src = load_source(r("fit_rf500"), "rf500")
    assert time.time() - start < 5
    assert len(src.onnx.graph.node) < 40
    check("fit_rf500", "iris", tmp_path)


def test_random_forest_bias_correction(tmp_path):
    check("{set.seed(5); randomForest::randomForest(mpg ~ ., data = mtcars, ntree = 20, corr.bias = TRUE)}",
          "mtcars", tmp_path, targets=("onnx",))


# ---- ranger -----------------------------------------------------------------------------
def test_ranger_classification(tmp_path):
    check("ranger::ranger(Species ~ ., data = iris, num.trees = 40, seed = 1)", "iris", tmp_path)


@pytest.mark.parametrize("mode", ["ignore", "order", "partition"])
def test_ranger_probability_factor_modes(mode, tmp_path):
    r("set.seed(5); d_rg <- transform(iris, Species = factor(Species, levels = c('virginica', 'setosa', "
      "'versicolor')), g = factor(sample(letters[1:8], 150, TRUE))); "
      "d_rg$Sepal.Length <- d_rg$Sepal.Length + 2 * (as.integer(d_rg$g) %% 2)")
    check(f"ranger::ranger(Species ~ ., data = d_rg, num.trees = 30, seed = 1, probability = TRUE, "
          f"respect.unordered.factors = '{mode}')", "d_rg", tmp_path,
          targets=("cpp", "java", "onnx") if mode == "partition" else ("onnx",))


def test_ranger_regression(tmp_path):
    check("ranger::ranger(breaks ~ wool + tension, data = warpbreaks, num.trees = 30, seed = 1, "
          "respect.unordered.factors = 'order')", "warpbreaks", tmp_path)


def test_ranger_matrix_interface(tmp_path):
    check("ranger::ranger(x = as.matrix(mtcars[, -1]), y = mtcars$mpg, num.trees = 20, seed = 1)",
          "mtcars[, -1]", tmp_path, targets=("onnx",))


# ---- gbm --------------------------------------------------------------------------------
def test_gbm_gaussian_missing_values(tmp_path):
    check("{set.seed(6); gbm::gbm(Ozone ~ ., data = subset(airquality, !is.na(Ozone)), distribution = 'gaussian', "
          "n.trees = 50, interaction.depth = 3, n.minobsinnode = 3)}", "airquality", tmp_path,
          na=0.2, na_columns=("Solar.R", "Wind", "Temp"))


def test_gbm_bernoulli_factors(tmp_path):
    r("set.seed(7); d_gb <- transform(warpbreaks, x = rnorm(54), y = as.numeric(breaks > 26)); "
      "d_gb$tension[sample(54, 8)] <- NA")
    check("{set.seed(7); gbm::gbm(y ~ wool + tension + x, data = d_gb, distribution = 'bernoulli', "
          "n.trees = 40, interaction.depth = 3, n.minobsinnode = 3)}", "d_gb", tmp_path,
          na=0.15, na_columns=("wool", "tension", "x"))


def test_gbm_poisson_matrix_interface(tmp_path):
    check("{set.seed(8); gbm::gbm.fit(x = esoph[, c(1:3, 5)], y = esoph$ncases, distribution = 'poisson', "
          "n.trees = 40, interaction.depth = 2, n.minobsinnode = 3, verbose = FALSE)}", "esoph", tmp_path)


def test_gbm_transformed_variables_compare_in_double(tmp_path):
    # log(hp) and I(wt^2) are computed in double, as in R: the trees then read doubles
    import onnx
    check("{set.seed(9); gbm::gbm(mpg ~ log(hp) + I(wt^2) + factor(cyl), data = mtcars, distribution = 'gaussian', "
          "n.trees = 40, interaction.depth = 2, n.minobsinnode = 3)}", "mtcars", tmp_path)
    model = onnx.load(str(tmp_path / "out" / "model.onnx"))
    trees = [n for n in model.graph.node if n.op_type == "TreeEnsemble"]
    splits = [a for a in trees[0].attribute if a.name == "nodes_splits"]
    assert splits and splits[0].t.data_type == onnx.TensorProto.DOUBLE


# ---- what is refused ----------------------------------------------------------------------
@pytest.mark.parametrize("fit,words", [
    ("{set.seed(1); randomForest::randomForest(iris[, 1:4], ntree = 5)}", "unsupervised"),
    ("{set.seed(1); suppressWarnings(gbm::gbm(Species ~ ., data = iris, distribution = 'multinomial', "
     "n.trees = 5))}", "multinomial"),
    ("ranger::ranger(x = iris[, 1:4], y = iris$Sepal.Length, num.trees = 5, write.forest = FALSE)", "write.forest"),
])
def test_unsupported(fit, words):
    from modelport.frontends import load_source
    with pytest.raises(UnsupportedError, match=words):
        load_source(r(fit), "m")


def test_generated_rows_include_missing_values(tmp_path):
    # without --data, parity rows come from the model; rpart takes missing values, and the
    # conversion reproduces what it does with them, so they are checked too
    from helpers import compile_and_check
    compile_and_check(r("rpart::rpart(Ozone ~ ., data = airquality)"), tmp_path, targets=("onnx",), name="rp")
    report = json.loads((tmp_path / "out" / "parity.json").read_text())
    assert "missing values included" in json.dumps(report)
