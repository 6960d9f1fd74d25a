"""caret::train objects: the finalModel converted by its own module, fed through caret's
model matrix and preProcess; parity against predict.train."""
import pytest

from r_helpers import fit_and_check, r

NONE = "trControl = trainControl(method = 'none')"


@pytest.fixture(autouse=True, scope="module")
def caret():
    r("suppressPackageStartupMessages(library(caret))")


def test_caret_lm_formula_with_factor_center_scale(tmp_path):
    r("d_cl <- transform(mtcars, cyl = factor(cyl))")
    fit_and_check(f"{{ set.seed(1); train(mpg ~ ., data = d_cl, method = 'lm', {NONE}, "
                  "preProcess = c('center', 'scale')) }", "d_cl", tmp_path)


def test_caret_lm_xy_range(tmp_path):
    fit_and_check(f"{{ set.seed(1); train(x = mtcars[, -1], y = mtcars$mpg, method = 'lm', {NONE}, "
                  "preProcess = 'range') }", "mtcars[, -1]", tmp_path)


def test_caret_glm_two_classes(tmp_path):
    r("d_cg <- transform(mtcars, am = factor(am, labels = c('auto', 'manual')))")
    fit_and_check(f"{{ set.seed(1); train(am ~ wt + hp, data = d_cg, method = 'glm', family = binomial, {NONE}) }}",
                  "d_cg", tmp_path)


def test_caret_unsupported_preprocess_is_named(tmp_path):
    import modelport
    from modelport.errors import UnsupportedError
    fit = r(f"{{ set.seed(1); train(x = mtcars[, -1], y = mtcars$mpg, method = 'lm', {NONE}, "
            "preProcess = 'BoxCox') }")
    with pytest.raises(UnsupportedError, match="BoxCox.*supported: zv, nzv"):
        modelport.compile(fit, targets=["cpp"], out=tmp_path / "out")


@pytest.mark.parametrize("fit,data", [
    ("train(Species ~ ., data = iris, method = 'rf', ntree = 30, {none})", "iris"),
    ("train(x = iris[, 1:4], y = iris$Species, method = 'rpart', {none})", "iris[, 1:4]"),
    ("train(Species ~ ., data = iris, method = 'glmnet', trControl = trainControl(method = 'cv', number = 3))", "iris"),
    ("train(Species ~ ., data = iris, method = 'lda', {none}, preProcess = c('center', 'scale', 'pca'))", "iris"),
    ("train(Species ~ ., data = iris, method = 'nnet', trace = FALSE, {none}, tuneGrid = data.frame(size = 3, decay = 0.01))", "iris"),
    ("train(Species ~ ., data = iris, method = 'svmLinear2', probability = TRUE, {none}, tuneGrid = data.frame(cost = 1))", "iris"),
    ("train(mpg ~ ., data = d_cf, method = 'ranger', num.trees = 30, {none}, tuneGrid = data.frame(mtry = 3, splitrule = 'variance', min.node.size = 5))", "d_cf"),
    ("train(mpg ~ ., data = d_cf, method = 'gbm', verbose = FALSE, {none}, tuneGrid = data.frame(n.trees = 40, interaction.depth = 2, shrinkage = 0.1, n.minobsinnode = 5))", "d_cf"),
    ("train(x = d_cf[, -1], y = d_cf$mpg, method = 'rf', ntree = 30, {none}, preProcess = 'medianImpute')", "d_cf[, -1]"),
])
def test_caret_wrapping(fit, data, tmp_path):
    r("d_cf <- transform(mtcars, cyl = factor(cyl), am = factor(am))")
    fit_and_check("{ set.seed(3); " + fit.format(none=NONE) + " }", data, tmp_path)
