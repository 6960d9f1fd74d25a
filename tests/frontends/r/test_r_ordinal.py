"""MASS::polr (ordinal regression) from R, checked against predict(type = "probs") and
predict(type = "class") on the rows of R's own datasets: factors (housing), transforms and a
numeric response cut into levels (mtcars), every supported method, every target (factor
columns reach tvm-llvm through the stub's front)."""
import pytest

from modelport.errors import UnsupportedError
from r_helpers import fit_and_check

ALL = ("cpp", "java", "onnx", "tvm-llvm")


@pytest.mark.parametrize("fit,data,targets", [
    ("MASS::polr(Sat ~ Infl + Type + Cont, weights = Freq, data = MASS::housing)", "MASS::housing", ALL),
    ("MASS::polr(Sat ~ Infl * Type + Cont, weights = Freq, data = MASS::housing, method = 'probit')",
     "MASS::housing", ("cpp", "java")),
    ("MASS::polr(Sat ~ Infl + Type + Cont, weights = Freq, data = MASS::housing, method = 'loglog')",
     "MASS::housing", ("cpp", "onnx")),
    ("MASS::polr(cut(mpg, 3) ~ wt + log(hp), data = mtcars, method = 'probit')", "mtcars", ("cpp", "java")),
    ("MASS::polr(cut(mpg, 3) ~ wt + log(hp), data = mtcars, method = 'cloglog')", "mtcars", ("cpp", "onnx")),
], ids=["logistic-factors", "probit-interaction", "loglog", "probit-transforms", "cloglog"])
def test_polr_probabilities_and_class(fit, data, targets, tmp_path):
    manifest = fit_and_check(fit, data, tmp_path, targets=targets)
    assert [c["name"] for c in manifest["schema"]["outputs"]][0] == "label"


def test_polr_cauchit_is_refused_naming_the_methods(tmp_path):
    with pytest.raises(UnsupportedError, match="cauchit.*logistic, probit, loglog, cloglog"):
        fit_and_check("MASS::polr(cut(mpg, 3) ~ wt, data = mtcars, method = 'cauchit')", "mtcars", tmp_path,
                      targets=("cpp",))
