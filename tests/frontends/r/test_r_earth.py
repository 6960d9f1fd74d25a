"""earth::earth (MARS) from R, checked against predict.earth on the rows of R's own datasets
(plus rows on and one step beside every knot): hinges, linear predictors, interactions of
degree 1 to 3, factor predictors (treatment and polynomial contrasts), NA rows (airquality),
formula and x/y interfaces, several responses, offsets, and glm fits (binomial on a factor
response: label and probabilities; poisson; probit link)."""
import pytest

from modelport.errors import UnsupportedError
from helpers import compile_and_check
from r_helpers import fit_and_check, r

ALL = ("cpp", "java", "onnx", "tvm-llvm")
IRIS2 = "transform(iris, big = factor(Sepal.Length > 5.8, labels = c('no', 'yes')))"


@pytest.mark.parametrize("fit,data,targets", [
    ("earth::earth(mpg ~ ., data = mtcars, degree = 2)", "mtcars", ALL),
    ("earth::earth(len ~ supp + dose, data = ToothGrowth, degree = 2)", "ToothGrowth", ALL),
    ("earth::earth(Sepal.Length ~ ., data = iris, degree = 3)", "iris", ("cpp",)),
    ("earth::earth(mpg ~ ., data = mtcars, degree = 3, nk = 40, thresh = 0, penalty = -1, nprune = 20)",
     "mtcars", ("cpp", "java")),
    ("earth::earth(Ozone ~ ., data = na.omit(airquality), degree = 2)", "airquality", ("cpp",)),
    ("earth::earth(Volume ~ ., data = trees, degree = 3, minspan = 1, endspan = 1, thresh = 0)", "trees", ("cpp",)),
    ("earth::earth(mpg ~ ., data = mtcars, linpreds = c('wt', 'qsec'), degree = 2)", "mtcars", ("cpp",)),
    ("earth::earth(log(mpg) ~ log(hp) + wt:disp + factor(cyl), data = mtcars, degree = 2)", "mtcars", ("cpp",)),
    ("earth::earth(Fertility ~ Agriculture + Education + offset(log(Examination)), data = swiss)", "swiss",
     ("cpp",)),
    ("earth::earth(mtcars[, c('wt', 'hp', 'disp')], mtcars$mpg, degree = 2)", "mtcars[, c('wt', 'hp', 'disp')]",
     ("cpp",)),
    ("earth::earth(unname(as.matrix(mtcars[, c('wt', 'hp')])), mtcars$mpg)",
     "setNames(mtcars[, c('wt', 'hp')], c('x1', 'x2'))", ("cpp",)),
], ids=["mtcars-degree2", "toothgrowth-factor", "iris-degree3-factor", "mtcars-degree3-linear-factors",
        "airquality-na", "trees-degree3", "linpreds", "transforms", "offset", "xy-data-frame", "xy-matrix"])
def test_earth_regression(fit, data, targets, tmp_path):
    manifest = fit_and_check(fit, data, tmp_path, targets=targets)
    assert [c["name"] for c in manifest["schema"]["outputs"]] == ["prediction"]


@pytest.mark.parametrize("fit,data,outputs", [
    ("earth::earth(cbind(mpg, qsec) ~ wt + hp, data = mtcars, degree = 2)", "mtcars",
     ["prediction_mpg", "prediction_qsec"]),
    ("earth::earth(mpg + qsec ~ wt + hp + factor(am), data = mtcars)", "mtcars", ["prediction_mpg", "prediction_qsec"]),
    ("earth::earth(count ~ spray, data = InsectSprays, glm = list(family = poisson))", "InsectSprays",
     ["prediction", "link"]),
    ("earth::earth(cbind(ncases, ncontrols) ~ agegp + alcgp, data = esoph, glm = list(family = binomial))",
     "esoph", ["prediction", "link"]),
], ids=["several-responses", "formula-several-responses", "poisson", "binomial-counts-ordered-factors"])
def test_earth_several_responses_and_glm(fit, data, outputs, tmp_path):
    manifest = fit_and_check(fit, data, tmp_path, targets=("cpp",))
    assert [c["name"] for c in manifest["schema"]["outputs"]] == outputs


@pytest.mark.parametrize("fit,data,targets,outputs", [
    ("earth::earth(big ~ Sepal.Width + Petal.Length + Species, data = d, degree = 2, "
     "glm = list(family = binomial))", IRIS2, ALL, ["label", "prob_no", "prob_yes", "link"]),
    # a factor response of 3 levels needs earth attached (its contrasts are looked up by name)
    ("library(earth); earth(Species ~ ., data = iris, glm = list(family = binomial))", "iris", ("cpp", "java"),
     ["label", "prob_setosa", "prob_versicolor", "prob_virginica", "link_setosa", "link_versicolor",
      "link_virginica"]),
    ("library(earth); earth(Species ~ ., data = iris, degree = 2)", "iris", ("cpp",),
     ["label", "prediction_setosa", "prediction_versicolor", "prediction_virginica"]),
    ("earth::earth(am ~ wt + hp + qsec, data = mtcars, degree = 2, glm = list(family = binomial(link = 'probit')))",
     "mtcars", ("cpp",), ["label", "prob_0", "prob_1", "link"]),
], ids=["binomial-binary-factor", "binomial-three-classes", "three-classes-no-glm", "probit"])
def test_earth_classifier(fit, data, targets, outputs, tmp_path):
    if "data = d" in fit:
        fit = f"local({{ d <- {data}; {fit} }})"
    manifest = fit_and_check(fit, data, tmp_path, targets=targets)
    assert manifest["schema"]["task"] == "classifier"
    assert [c["name"] for c in manifest["schema"]["outputs"]] == outputs


@pytest.mark.parametrize("fit", [
    "earth::earth(Ozone ~ ., data = na.omit(airquality), degree = 2)",
    "earth::earth(Sepal.Length ~ ., data = iris, degree = 3)",
    f"local({{ d <- {IRIS2}; earth::earth(big ~ Sepal.Width + Petal.Length + Species, data = d, degree = 2, "
    "glm = list(family = binomial)) })",
], ids=["airquality", "iris-factor", "binomial"])
def test_earth_on_generated_rows(fit, tmp_path):
    """Rows generated from the model: on every knot and one step beside it, beyond the knots,
    NA cells and empty factor levels (R gives NA there; type = "class" stops, so the
    classifier gets no NA rows)."""
    compile_and_check(r(fit), tmp_path, targets=("cpp",))


@pytest.mark.parametrize("fit,message", [
    ("earth::earth(iris[, 2:5], iris[, 1])", "x/y interface on a data frame with factor columns.*formula interface"),
    ("earth::earth(Sepal.Width ~ Sepal.Length, data = iris, nprune = 1)", "intercept alone"),
    ("earth::earth(am ~ wt, data = mtcars, glm = list(family = binomial(link = 'cauchit')))",
     "cauchit.*supported links: identity, log, logit, probit"),
], ids=["xy-factors", "intercept-only", "cauchit"])
def test_earth_refusals_name_what_is_supported(fit, message, tmp_path):
    with pytest.raises(UnsupportedError, match=message):
        fit_and_check(fit, "iris", tmp_path, targets=("cpp",))
