"""R models through tvm-llvm, checked against R's predict() on the rows of R's own datasets:
numeric columns, and factor columns (looked up in the stub's front, backends/tvm_front.py;
TVM computes the numbers)."""
import pytest

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


@pytest.mark.parametrize("fit,data", [
    ("lm(len ~ supp * dose, data = ToothGrowth)", "ToothGrowth"),
    ("rpart::rpart(len ~ supp + dose, data = ToothGrowth, control = rpart::rpart.control(minsplit = 5))",
     "ToothGrowth"),
    ("{d <- iris; d$big <- factor(d$Sepal.Length > 5.8); glm(big ~ Species + Petal.Width, data = d, "
     "family = binomial)}", "{d <- iris; d$big <- factor(d$Sepal.Length > 5.8); d}"),
])
def test_factor_columns_are_looked_up_in_the_stub_and_the_rest_runs_in_tvm(fit, data, tmp_path):
    fit_and_check(fit, data, tmp_path, targets=("tvm-llvm",))
    assert (tmp_path / "out" / "tvm-llvm" / "front.onnx").exists()


def test_the_onnx_target_of_factor_models_is_unchanged(tmp_path):
    fit_and_check("lm(len ~ supp + dose, data = ToothGrowth)", "ToothGrowth", tmp_path, targets=("onnx",))
