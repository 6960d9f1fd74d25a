"""recipes: a prep()ed recipe compiled in front of an R model fitted on its baked data,
checked against R's predict(model, bake(recipe, new_data = rows)) on generated rows (the
recipe's training values, knots and clipping points, values beyond them, missing values,
every level) through every built artifact; the (recipe, model) pair from Python and
`--recipe` on the command line; refusals naming what is supported."""
import subprocess
import sys

import pytest

from helpers import compile_and_check
from r_helpers import r

ALL = ("cpp", "java", "onnx", "tvm-llvm")
MODELPORT = [sys.executable, "-m", "modelport.cli"]

# A small data frame with a rare level (step_other), NA factor values (step_unknown,
# step_impute_mode), a character column (step_novel), NA numbers and a binary outcome.
SETUP = r"""
suppressPackageStartupMessages(library(recipes))
set.seed(1)
rare <- data.frame(x = rnorm(80, 5), y = rexp(80) + 0.1, z = rnorm(80) * 3,
                   s = sample(c("u", "v", "w"), 80, TRUE),
                   f = factor(sample(c("a", "b", "c", "d"), 80, TRUE, prob = c(.5, .3, .15, .05))),
                   o = factor(sample(c("lo", "mid", "hi"), 80, TRUE), levels = c("lo", "mid", "hi"), ordered = TRUE),
                   out = rnorm(80), stringsAsFactors = FALSE)
rare$f[c(3, 7)] <- NA
rare$x[c(5, 11)] <- NA
rare$yes <- factor(ifelse(rare$out + rare$z / 3 > 0, "yes", "no"))
aq <- airquality; aq[] <- lapply(aq, as.numeric)
"""


@pytest.fixture(scope="module", autouse=True)
def setup():
    r(SETUP)


def pair(recipe_code: str, fit_code: str):
    """(prep()ed recipe, model fitted on its baked training data `d`) as R objects."""
    rec = r(f"rec <- prep({recipe_code}); rec")
    fit = r(f"local({{ d <- as.data.frame(bake(rec, new_data = NULL)); {fit_code} }})")
    return rec, fit


def check(recipe_code, fit_code, tmp_path, targets=("cpp",)):
    return compile_and_check(pair(recipe_code, fit_code), tmp_path, targets=targets, name="rec")


@pytest.mark.parametrize("recipe,fit,targets", [
    ("recipe(mpg ~ ., data = mtcars) %>% step_normalize(all_numeric_predictors()) %>% "
     "step_poly(hp, degree = 3) %>% step_ns(wt, deg_free = 4)", "lm(mpg ~ ., data = d)", ALL),
    ("recipe(yes ~ x + s + f + o + z, data = rare) %>% step_unknown(f) %>% step_novel(s) %>% "
     "step_other(f, threshold = 0.1) %>% step_impute_median(x) %>% step_dummy(f, s) %>% "
     "step_dummy(o, one_hot = TRUE) %>% step_range(z, clipping = TRUE)",
     "glm(yes ~ ., data = d, family = binomial)", ALL),
    ("recipe(Species ~ ., data = iris) %>% step_normalize(all_numeric_predictors()) %>% "
     "step_pca(all_numeric_predictors(), num_comp = 3)", "nnet::multinom(Species ~ ., data = d, trace = FALSE)", ALL),
], ids=["lm-normalize-poly-ns", "glm-factors", "multinom-pca"])
def test_recipe_then_model_all_targets(recipe, fit, targets, tmp_path):
    rec, model = pair(recipe, fit)
    manifest = compile_and_check((rec, model), tmp_path, targets=targets, name="rec")
    # the compiled model takes the recipe's original predictors, not the baked columns
    predictors = r("function(rec) rec$var_info$variable[rec$var_info$role == 'predictor']")(rec)
    assert {c["name"] for c in manifest["schema"]["inputs"]} == set(predictors)
    assert manifest["source"]["estimator"].startswith("recipes::recipe")


@pytest.mark.parametrize("recipe,fit", [
    # NA numbers imputed, log (base, offset), Box-Cox, Yeo-Johnson, interactions
    ("recipe(Ozone ~ ., data = aq) %>% step_impute_mean(Solar.R) %>% step_impute_median(Wind) %>% "
     "step_log(Temp, base = 10, offset = 1) %>% step_BoxCox(Wind) %>% step_YeoJohnson(Month) %>% "
     "step_interact(~ Solar.R:Wind) %>% step_rm(Day)", "lm(Ozone ~ ., data = d)"),
    # orthogonal and raw poly, ns with knots read from the step, clipping, scale/center, nzv
    ("recipe(len ~ ., data = ToothGrowth) %>% step_dummy(supp) %>% step_center(dose) %>% "
     "step_scale(dose) %>% step_poly(dose, degree = 2, options = list(raw = TRUE)) %>% "
     "step_interact(~ supp_VC:dose_poly_1) %>% step_nzv(all_predictors())", "lm(len ~ ., data = d)"),
    ("recipe(yes ~ ., data = rare) %>% step_rm(out) %>% step_impute_mode(f, s) %>% step_impute_mean(x) %>% "
     "step_other(f, threshold = 0.2) %>% step_log(z, signed = TRUE) %>% step_sqrt(y) %>% step_zv(all_predictors())",
     "rpart::rpart(yes ~ ., data = d, control = rpart::rpart.control(minsplit = 5, cp = 0.001))"),
    ("recipe(Species ~ ., data = iris) %>% step_YeoJohnson(all_numeric_predictors()) %>% "
     "step_range(all_numeric_predictors(), clipping = TRUE) %>% step_ns(Petal.Width, deg_free = 3)",
     "MASS::lda(Species ~ ., data = d)"),
    ("recipe(mpg ~ disp + wt + qsec + am, data = transform(mtcars, am = factor(am, labels = c('auto', 'manual')))) %>% "
     "step_ns(disp, deg_free = 2) %>% "
     "step_dummy(am) %>% step_select(-qsec)", "lm(mpg ~ ., data = d)"),
], ids=["airquality-impute-transforms", "toothgrowth-dummy-poly-interact", "rpart-factor-other",
        "lda-yeojohnson-range-ns", "select"])
def test_recipe_steps(recipe, fit, tmp_path):
    check(recipe, fit, tmp_path)


def test_lambdas_near_zero_and_two(tmp_path):
    """bc_trans and yj_transform switch to logs within 0.001 of lambda 0 (and 2 for negative x)."""
    rec, fit = pair("recipe(mpg ~ disp + qsec + drat + wt, data = transform(mtcars, drat = drat - 3.6)) %>% "
                    "step_BoxCox(disp, qsec) %>% step_YeoJohnson(drat, wt)", "lm(mpg ~ ., data = d)")
    rec = r("function(rec) { rec$steps[[1]]$lambdas[] <- c(0.0004, -0.5); "
            "rec$steps[[2]]$lambdas[] <- c(1.9995, 0.0002); rec }")(rec)
    fit = r("function(rec) lm(mpg ~ ., data = as.data.frame(bake(rec, new_data = NULL)))")(rec)
    compile_and_check((rec, fit), tmp_path, targets=("cpp",), name="rec")


def test_cli_recipe_option(tmp_path):
    rec, fit = pair("recipe(mpg ~ ., data = mtcars) %>% step_normalize(all_numeric_predictors()) %>% "
                    "step_ns(hp, deg_free = 3)", "lm(mpg ~ ., data = d)")
    save = r("function(x, p) saveRDS(x, p)")
    save(rec, str(tmp_path / "recipe.rds"))
    save(fit, str(tmp_path / "model.rds"))
    out = tmp_path / "out"
    proc = subprocess.run([*MODELPORT, "compile", str(tmp_path / "model.rds"), "--recipe", str(tmp_path / "recipe.rds"),
                           "-t", "cpp", "-o", str(out), "-q"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    csv = "cyl,disp,hp,drat,wt,qsec,vs,am,gear,carb\n6,160,110,3.9,2.62,16.46,0,1,4,4\n"
    run = subprocess.run([str(out / "cpp" / "bin" / "model")], input=csv, capture_output=True, text=True, timeout=60)
    want = float(r("function(f, rec) predict(f, bake(rec, new_data = mtcars[1, ]))")(fit, rec)[0])
    assert abs(float(run.stdout.splitlines()[1]) - want) <= 1e-9 * abs(want), run.stdout + run.stderr
    # `check --data` reloads the pair: R computes the reference again, through the recipe
    (tmp_path / "rows.csv").write_text("mpg," + csv.splitlines()[0] + "\n21," + csv.splitlines()[1] + "\n")
    chk = subprocess.run([*MODELPORT, "check", str(out), "--data", str(tmp_path / "rows.csv")], capture_output=True,
                         text=True, timeout=600)
    assert chk.returncode == 0, chk.stdout + chk.stderr
    assert "reloading the original model" in chk.stderr and "reference: R" in chk.stdout, chk.stdout + chk.stderr


def test_cli_unprepped_recipe_is_a_usage_error(tmp_path):
    r("function(p, q) { saveRDS(recipe(mpg ~ ., data = mtcars) %>% step_center(wt), p); "
      "saveRDS(lm(mpg ~ ., data = mtcars), q) }")(str(tmp_path / "recipe.rds"), str(tmp_path / "model.rds"))
    proc = subprocess.run([*MODELPORT, "compile", str(tmp_path / "model.rds"), "--recipe", str(tmp_path / "recipe.rds"),
                           "-t", "cpp", "-o", str(tmp_path / "out")], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "not prepped" in proc.stderr and "prep(" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_unsupported_step_is_named_with_the_supported_ones(tmp_path):
    from modelport.errors import UnsupportedError
    with pytest.raises(UnsupportedError, match=r"step_spatialsign is not supported; supported steps: .*step_BoxCox.*"
                                               r"step_YeoJohnson.*step_normalize"):
        check("recipe(mpg ~ ., data = mtcars) %>% step_normalize(all_numeric_predictors()) %>% "
              "step_spatialsign(all_numeric_predictors())", "lm(mpg ~ ., data = d)", tmp_path)


def test_unprepped_recipe_from_python(tmp_path):
    import modelport
    from modelport.errors import UsageError
    rec = r("recipe(mpg ~ ., data = mtcars) %>% step_center(wt)")
    fit = r("lm(mpg ~ ., data = mtcars)")
    with pytest.raises(UsageError, match="not prepped.*prep"):
        modelport.compile((rec, fit), targets=("cpp",), out=tmp_path / "out")
