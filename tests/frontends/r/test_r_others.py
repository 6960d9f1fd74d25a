"""glmnet, cv.glmnet, e1071::svm, nnet, MASS::lda, kmeans and prcomp from R, checked against
R's predict() on the rows of R's own datasets. The main variant of each class runs every
target; further variants run ONNX Runtime only (the same ops, to keep the file fast)."""
import json

import pytest

import modelport
from modelport.errors import UnsupportedError
from r_helpers import fit_and_check, r

ONNX = ("onnx",)


def sub(tmp_path, name):
    """A second directory for a second model in one test."""
    (tmp_path / name).mkdir()
    return tmp_path / name


@pytest.fixture(scope="module", autouse=True)
def packages():
    r("suppressPackageStartupMessages({library(glmnet); library(e1071); library(nnet); library(MASS)})")
    r("d_mt <- transform(mtcars, am = factor(am, labels = c('auto', 'manual')), cyl = factor(cyl), "
      "gear = factor(gear))")


# ---- glmnet -----------------------------------------------------------------------------
def test_glmnet_gaussian_last_lambda(tmp_path):
    fit_and_check("glmnet(as.matrix(mtcars[, -1]), mtcars$mpg)", "mtcars[, -1]", tmp_path)


def test_glmnet_binomial_chosen_s_from_rds(tmp_path):
    r("f_gb <- glmnet(as.matrix(Pima.tr[, 1:7]), Pima.tr$type, family = 'binomial'); "
      "attr(f_gb, 'modelport.s') <- 0.013")  # between two lambdas of the path: interpolated
    m = fit_and_check("f_gb", "Pima.te[, 1:7]", tmp_path, save_rds=True)
    assert [c["name"] for c in m["schema"]["outputs"]] == ["label", "prob_No", "prob_Yes"]


def test_glmnet_binomial_without_class_names(tmp_path):
    # y as an unnamed two-column matrix: no class names, so the probability as `prediction`
    m = fit_and_check("glmnet(as.matrix(mtcars[, c('wt', 'hp')]), cbind(mtcars$am, 1 - mtcars$am), "
                      "family = 'binomial')", "mtcars", tmp_path, targets=ONNX)
    assert [c["name"] for c in m["schema"]["outputs"]] == ["prediction"]


def test_cv_glmnet_multinomial_lambda_min_unnamed_x(tmp_path):
    r("set.seed(2); f_cm <- cv.glmnet(unname(as.matrix(iris[, 1:4])), iris$Species, family = 'multinomial', "
      "nfolds = 5)")
    fit_and_check("f_cm", "setNames(iris[, 1:4], paste0('V', 1:4))", tmp_path, targets=ONNX)


def test_cv_glmnet_poisson_lambda_1se(tmp_path):
    r("set.seed(3); x_wb <- model.matrix(~ wool + tension, warpbreaks)[, -1]; "
      "f_cp <- cv.glmnet(x_wb, warpbreaks$breaks, family = 'poisson', nfolds = 5); "
      "attr(f_cp, 'modelport.s') <- 'lambda.1se'")
    fit_and_check("f_cp", "as.data.frame(x_wb)", tmp_path)


# ---- e1071::svm -------------------------------------------------------------------------
def test_svm_radial_probabilities_three_classes(tmp_path):
    # shuffled rows: libsvm's class order (fit$labels) is not the order of the levels
    r("set.seed(4); d_ir <- iris[sample(150), ]")
    m = fit_and_check("svm(Species ~ ., data = d_ir, probability = TRUE, cost = 4)", "iris", tmp_path)
    assert [c["name"] for c in m["schema"]["outputs"]][:4] == ["label", "prob_setosa", "prob_versicolor",
                                                              "prob_virginica"]
    # libsvm's coupling in double, as R computes it: compared within 1e-9
    assert m["precision"]["model"] == "float64" and m["precision"]["outputs"]["probabilities"] == "float64"
    checks = json.loads((tmp_path / "out" / "parity.json").read_text())["checks"]
    assert {c["precision"] for c in checks} == {"float64"}
    assert "modelport.libsvm:MulticlassProbability" in m["onnx"]["ops"]


def test_svm_linear_two_classes_factors_probabilities(tmp_path):
    # the first factor (cyl) is coded by all its levels: svm formulas have no intercept
    fit_and_check("svm(am ~ wt + cyl + hp + gear, data = d_mt, probability = TRUE, kernel = 'linear')",
                  "d_mt", tmp_path)


def test_svm_polynomial_votes_matrix(tmp_path):
    fit_and_check("svm(as.matrix(iris[, 1:4]), iris$Species, kernel = 'polynomial', degree = 3, coef0 = 1)",
                  "iris[, 1:4]", tmp_path, targets=ONNX)


def test_svm_level_without_rows(tmp_path):
    # a level with no training rows is no class of libsvm's, nor of predict()'s probabilities
    r("d_u <- transform(iris, Species = factor(Species, levels = c('none', levels(Species))))")
    m = fit_and_check("svm(Species ~ ., data = d_u, probability = TRUE)", "d_u", tmp_path, targets=ONNX)
    assert [c["name"] for c in m["schema"]["outputs"]][1:4] == ["prob_setosa", "prob_versicolor", "prob_virginica"]


def test_svm_regression_sigmoid_and_nu(tmp_path):
    fit_and_check("svm(mpg ~ wt + cyl + hp, data = d_mt, kernel = 'sigmoid', gamma = 0.1)", "d_mt", tmp_path)
    fit_and_check("svm(Fertility ~ ., data = swiss, type = 'nu-regression')", "swiss", sub(tmp_path, "nu"),
                  targets=ONNX)


def test_svm_one_class(tmp_path):
    fit_and_check("svm(as.matrix(iris[1:100, 1:4]), type = 'one-classification', nu = 0.1)", "iris[, 1:4]",
                  tmp_path, targets=ONNX)


# ---- nnet -------------------------------------------------------------------------------
def test_nnet_softmax_skip_layer(tmp_path):
    fit_and_check("set.seed(5); nnet(Species ~ ., data = iris, size = 3, skip = TRUE, trace = FALSE, maxit = 300)",
                  "iris", tmp_path)


def test_nnet_binary_entropy_with_factors(tmp_path):
    fit_and_check("set.seed(6); nnet(am ~ wt + hp + cyl, data = d_mt, size = 2, decay = 0.01, trace = FALSE)",
                  "d_mt", tmp_path, targets=ONNX)


def test_nnet_x_interface_linout_and_class_ind(tmp_path):
    fit_and_check("set.seed(7); nnet(as.matrix(mtcars[, c('wt', 'hp', 'disp')]), mtcars$mpg, size = 2, "
                  "linout = TRUE, skip = TRUE, trace = FALSE)", "mtcars", tmp_path)
    fit_and_check("set.seed(8); nnet(as.matrix(iris[, 1:4]), class.ind(iris$Species), size = 2, softmax = TRUE, "
                  "trace = FALSE)", "iris", sub(tmp_path, "ci"), targets=ONNX)


def test_multinom(tmp_path):
    fit_and_check("multinom(Species ~ ., data = iris, trace = FALSE)", "iris", tmp_path, targets=ONNX)
    fit_and_check("multinom(am ~ wt + cyl, data = d_mt, trace = FALSE)", "d_mt", sub(tmp_path, "bin"), targets=ONNX)


# ---- MASS::lda --------------------------------------------------------------------------
def test_lda_formula_with_prior(tmp_path):
    fit_and_check("lda(cyl ~ mpg + log(disp) + am, data = d_mt, prior = c(0.2, 0.3, 0.5))", "d_mt", tmp_path)


def test_lda_matrix(tmp_path):
    fit_and_check("lda(as.matrix(Pima.tr[, 1:7]), Pima.tr$type)", "Pima.te", tmp_path, targets=ONNX)


# ---- MASS::qda --------------------------------------------------------------------------
def test_qda_formula_with_factor_and_transforms_every_target(tmp_path):
    fit_and_check("qda(Species ~ Sepal.Length + log(Petal.Length) + Petal.Width, data = iris)", "iris", tmp_path,
                  targets=("cpp", "java", "onnx", "tvm-llvm"))


def test_qda_matrix_with_prior(tmp_path):
    fit_and_check("qda(as.matrix(Pima.tr[, 1:7]), Pima.tr$type, prior = c(0.4, 0.6))", "Pima.te", tmp_path,
                  targets=("cpp", "onnx"))


# ---- kmeans and prcomp ------------------------------------------------------------------
def test_kmeans(tmp_path):
    m = fit_and_check("set.seed(9); kmeans(USArrests, 4, nstart = 5)", "USArrests", tmp_path)
    assert [c["name"] for c in m["schema"]["outputs"]] == ["label"] + [f"distance_{k}" for k in range(1, 5)]


def test_prcomp(tmp_path):
    m = fit_and_check("prcomp(USArrests, scale. = TRUE, rank. = 3)", "USArrests", tmp_path)
    assert [c["name"] for c in m["schema"]["outputs"]] == ["PC1", "PC2", "PC3"]
    # a formula fit reads its terms as columns named like them, as predict.prcomp does
    r("d_ua <- transform(USArrests, 'log(UrbanPop)' = log(UrbanPop), check.names = FALSE)")
    fit_and_check("prcomp(~ Murder + Assault + log(UrbanPop), data = USArrests)", "d_ua", sub(tmp_path, "f"),
                  targets=ONNX)


# ---- what is refused --------------------------------------------------------------------
@pytest.mark.parametrize("fit,message", [
    ("glmnet(as.matrix(mtcars[, 2:4]), as.matrix(mtcars[, 5:6]), family = 'mgaussian')", "mrelnet"),
    ("glmnet(as.matrix(mtcars[, 2:4]), mtcars$mpg, offset = log(mtcars$wt))", "offset"),
    ("nnet(as.matrix(mtcars[, 2:4]), cbind(mtcars$mpg > 20, 1), size = 1, censored = TRUE, softmax = TRUE, "
     "trace = FALSE)", "censored"),
    ("local({d_gone <- d_mt; f <- svm(am ~ cyl + wt, data = d_gone); rm(d_gone); f})", "training data"),
])
def test_unsupported(fit, message):
    with pytest.raises(UnsupportedError, match=message):
        modelport.convert(r(fit))
