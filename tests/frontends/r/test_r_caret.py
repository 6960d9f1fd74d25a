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
