"""mgcv::gam and bam from R, checked against predict.gam(type = "response") and
(type = "link") on rows of R's datasets, rows beyond the training range (where each basis
extrapolates in its own way) and the generated parity rows (on the knots, one step beside
them, beyond them, missing values): every basis modelport reads, tensor products, `by`
variables, random effects, offsets and families."""
import pytest

from modelport.errors import UnsupportedError
from r_helpers import fit_and_check

ALL = ("cpp", "java", "onnx", "tvm-llvm")
MGCV = "suppressMessages(library(mgcv)); "
TG = "within(ToothGrowth, dosef <- factor(dose))"
BEYOND = ("rbind(mtcars[, c('mpg', 'wt', 'hp', 'cyl', 'qsec', 'drat', 'disp')], "
          "data.frame(mpg = 20, wt = c(0.5, 1, 6, 8, 12), hp = c(10, 30, 400, 600, 1500), cyl = c(4, 6, 8, 4, 6), "
          "qsec = c(5, 12, 25, 30, 60), drat = c(1, 2.5, 5, 6, 11), disp = c(20, 50, 500, 800, 2000)))")


@pytest.mark.parametrize("fit,data,targets", [
    ("gam(mpg ~ s(wt, k = 4) + s(hp, k = 5, bs = 'cr') + factor(cyl), data = mtcars)", BEYOND, ALL),
    ("gam(mpg ~ s(qsec, bs = 'ps', k = 5) + s(drat, bs = 'cc', k = 4) + te(disp, wt, k = 3), data = mtcars)",
     BEYOND, ("cpp", "java")),
    ("gam(mpg ~ s(wt, hp, k = 8) + s(disp, bs = 'ts', k = 4), data = mtcars)", BEYOND, ("cpp", "tvm-llvm")),
    (f"gam(len ~ s(dosef, bs = 're') + s(dose, by = supp, k = 3) + supp, data = {TG})", TG, ALL),
    ("gam(am ~ s(wt, k = 4) + s(hp, bs = 'cs', k = 5), family = binomial, data = mtcars)", BEYOND, ("cpp", "onnx")),
    ("bam(Ozone ~ s(Temp) + s(Wind, by = Solar.R) + ti(Temp, Wind, k = 4) + offset(log(Month)), "
     "family = poisson, data = airquality)", "airquality", ("cpp", "java")),
    ("gam(Ozone ~ s(Temp, bs = 'ps') + s(Wind, bs = 'cr'), family = Gamma(link = 'log'), data = airquality)",
     "airquality", ("cpp",)),
    ("gam(Ozone ~ s(Temp) + s(Day, bs = 'cc'), family = nb(), data = airquality)", "airquality", ("cpp",)),
    ("gam(Ozone ~ s(Temp) + Wind, family = tw(), data = airquality)", "airquality", ("onnx",)),
], ids=["tp-cr-factor", "ps-cc-te", "tp2d-ts", "re-factor-by", "binomial-cs", "bam-poisson-ti-by-offset",
        "gamma-ps", "negbin-cc", "tweedie"])
def test_gam_link_and_response(fit, data, targets, tmp_path):
    manifest = fit_and_check(MGCV + fit, data, tmp_path, targets=targets)
    assert [c["name"] for c in manifest["schema"]["outputs"]] == ["prediction", "link"]


@pytest.mark.parametrize("fit,match", [
    ("gam(mpg ~ s(wt, bs = 'gp', k = 5), data = mtcars)", "gp.smooth.*supported bases: bs = \"tp\""),
    ("gam(list(mpg ~ s(wt, k = 4), ~ s(hp, k = 4)), family = gaulss(), data = mtcars)",
     "several linear predictors"),
], ids=["gaussian-process-basis", "location-scale-family"])
def test_what_gam_does_not_support_is_named(fit, match, tmp_path):
    with pytest.raises(UnsupportedError, match=match):
        fit_and_check(MGCV + fit, "mtcars", tmp_path, targets=("cpp",))
