"""R models through tvm-llvm: numeric columns only (TVM computes on numbers), checked against
R's predict() on the rows of R's own datasets; factor columns are refused with the reason."""
import pytest

from modelport.errors import UnsupportedError
from r_helpers import fit_and_check

TVM = ("tvm-llvm", "onnx")


@pytest.mark.parametrize("fit,data", [
    ("lm(mpg ~ log(disp) + poly(hp, 2) + wt + I(qsec^2), data = mtcars)", "mtcars"),
    ("glm(vs ~ wt + log(disp), data = mtcars, family = binomial)", "mtcars"),
    ("{set.seed(1); randomForest::randomForest(x = mtcars[, -1], y = mtcars$mpg, ntree = 30)}", "mtcars[, -1]"),
    ("rpart::rpart(Ozone ~ ., data = airquality)", "airquality"),
])
def test_numeric_r_models(fit, data, tmp_path):
    fit_and_check(fit, data, tmp_path, targets=TVM)


def test_factor_columns_are_refused_with_the_reason(tmp_path):
    with pytest.raises(UnsupportedError, match="holds strings.*cpp or java"):
        fit_and_check("lm(len ~ supp + dose, data = ToothGrowth)", "ToothGrowth", tmp_path, targets=TVM)
