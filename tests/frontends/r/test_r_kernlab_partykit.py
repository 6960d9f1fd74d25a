"""kernlab::ksvm and partykit::ctree / cforest from R, checked against their own predict()
through the built artifacts: ksvm classification (votes, decision values, Platt sigmoids and
kernlab's minpair coupling) and regression with every supported kernel, formula and matrix
interfaces; ctree and cforest on numeric and factor splits, surrogates and majority
directions for missing values (generated rows include them where R's answer is not random),
cforest's weighted terminal-node means."""
import pytest

from helpers import compile_and_check
from modelport.errors import UnsupportedError
from r_helpers import fit_and_check, r

ALL = ("cpp", "java", "onnx", "tvm-llvm")
AQN = "aqn <- as.data.frame(lapply(subset(airquality, !is.na(Ozone)), as.numeric))"


@pytest.mark.parametrize("fit,data,targets", [
    ("set.seed(1); kernlab::ksvm(Species ~ ., data = iris, prob.model = TRUE)", "iris", ALL),
    ("set.seed(1); kernlab::ksvm(as.matrix(mtcars[, -1]), mtcars$mpg, type = 'eps-svr', kernel = 'polydot', "
     "kpar = list(degree = 2, scale = 0.1, offset = 1))", "mtcars", ("cpp", "java")),
    ("set.seed(1); kernlab::ksvm(mpg ~ log(hp) + wt + qsec, data = mtcars, kernel = 'laplacedot', type = 'nu-svr')",
     "mtcars", ("cpp",)),
    ("set.seed(1); kernlab::ksvm(Species ~ ., data = iris, kernel = 'vanilladot', type = 'nu-svc', scaled = FALSE)",
     "iris", ("cpp",)),
    ("set.seed(1); kernlab::ksvm(Species ~ ., data = iris, kernel = 'tanhdot', kpar = list(scale = 0.2, offset = 0.1))",
     "iris", ("cpp",)),
], ids=["rbf-prob-all-targets", "polydot-eps-svr-matrix", "laplacedot-nu-svr", "vanilladot-nu-svc", "tanhdot"])
def test_ksvm(fit, data, targets, tmp_path):
    fit_and_check(fit, data, tmp_path, targets=targets)


@pytest.mark.parametrize("fit", [
    # four classes: kernlab fills the coupling matrix's upper triangle out of the pairs' order
    "set.seed(2); kernlab::ksvm(cut(Sepal.Length, 4) ~ Petal.Length + Petal.Width + Sepal.Width, data = iris, "
    "prob.model = TRUE, kernel = 'laplacedot')",
    "set.seed(2); kernlab::ksvm(factor(am) ~ wt + hp, data = mtcars, prob.model = TRUE, kernel = 'polydot', "
    "kpar = list(degree = 3, scale = 0.5, offset = 1))",
], ids=["four-classes-laplacedot", "two-classes-polydot"])
def test_ksvm_probabilities_on_generated_rows(fit, tmp_path):
    compile_and_check(r(fit), tmp_path, targets=("cpp",))


@pytest.mark.parametrize("fit,match", [
    ("kernlab::ksvm(Species ~ ., data = iris, type = 'spoc-svc')", "spoc-svc.*C-svc, nu-svc, eps-svr, nu-svr"),
    ("kernlab::ksvm(Species ~ ., data = iris, kernel = 'besseldot')", "besselkernel.*rbfdot, laplacedot, polydot"),
    ("kernlab::ksvm(mpg ~ wt + factor(cyl), data = mtcars)", "factor predictors.*factor\\(cyl\\)"),
], ids=["spoc-svc", "besseldot", "factor-predictor"])
def test_ksvm_refusals(fit, match, tmp_path):
    with pytest.raises(UnsupportedError, match=match):
        compile_and_check(r(fit), tmp_path, targets=("cpp",))


@pytest.mark.parametrize("fit,targets", [
    ("partykit::ctree(Species ~ ., data = iris, control = partykit::ctree_control(majority = TRUE))", ALL),
    ("partykit::ctree(Ozone ~ ., data = aqn, control = partykit::ctree_control(maxsurrogate = 2, majority = TRUE))",
     ("cpp", "java")),
    ("partykit::ctree(mpg ~ ., data = mtcars, control = partykit::ctree_control(mincriterion = 0.5, minsplit = 5))",
     ("cpp",)),
], ids=["iris-majority-all-targets", "airquality-surrogates", "mtcars"])
def test_ctree_on_generated_rows(fit, targets, tmp_path):
    r(AQN)
    manifest = compile_and_check(r(fit), tmp_path, targets=targets)
    assert manifest["schema"]["outputs"]


@pytest.mark.parametrize("fit,data", [
    ("partykit::ctree(breaks ~ wool + tension, data = warpbreaks, control = partykit::ctree_control("
     "mincriterion = 0.01, minsplit = 5, minbucket = 2))", "warpbreaks"),
    ("partykit::ctree(Ozone ~ ., data = subset(airquality, !is.na(Ozone)))",
     "subset(airquality, complete.cases(airquality))"),
    ("partykit::ctree(Species ~ ., data = iris)", "iris"),
], ids=["factor-splits", "airquality-integers", "iris"])
def test_ctree_on_data_rows(fit, data, tmp_path):
    fit_and_check(fit, data, tmp_path, targets=("cpp",))


@pytest.mark.parametrize("fit,targets", [
    ("set.seed(1); partykit::cforest(Species ~ ., data = iris, ntree = 10)", ALL),
    ("set.seed(2); partykit::cforest(mpg ~ ., data = mtcars, ntree = 15)", ("cpp",)),
    ("set.seed(3); partykit::cforest(Ozone ~ ., data = aqn, ntree = 10, control = partykit::ctree_control("
     "majority = TRUE, mincriterion = 0, teststat = 'quadratic', testtype = 'Univariate', saveinfo = FALSE))",
     ("cpp",)),
], ids=["iris-all-targets", "mtcars", "airquality-majority"])
def test_cforest(fit, targets, tmp_path):
    r(AQN)
    compile_and_check(r(fit), tmp_path, targets=targets)


def test_cforest_with_random_training_paths_is_refused(tmp_path):
    r(AQN)
    with pytest.raises(UnsupportedError, match="random.*majority = TRUE"):
        compile_and_check(r("set.seed(3); partykit::cforest(Ozone ~ ., data = aqn, ntree = 10)"), tmp_path,
                          targets=("cpp",))


def test_ctree_multivariate_response_is_refused(tmp_path):
    with pytest.raises(UnsupportedError, match="data.frame.*numeric, integer, factor"):
        compile_and_check(r("partykit::ctree(Sepal.Length + Sepal.Width ~ Petal.Length, data = iris)"), tmp_path,
                          targets=("cpp",))
