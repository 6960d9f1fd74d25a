"""pls::plsr / pls::pcr (class mvr), stats::smooth.spline and stats::nls from R, checked against
R's predict() on the rows of R's own datasets (and on generated rows: the spline's knots, one
step beside them and beyond its range). One main variant per class runs every target."""
import pytest

import modelport
from modelport.errors import UnsupportedError, UsageError
from helpers import compile_and_check
from r_helpers import fit_and_check, r

ALL = ("cpp", "java", "onnx", "tvm-llvm")


@pytest.fixture(scope="module", autouse=True)
def packages():
    r("suppressPackageStartupMessages(library(pls))")


def outputs(manifest):
    return [c["name"] for c in manifest["schema"]["outputs"]]


# ---- pls: plsr, pcr (class mvr) ---------------------------------------------------------
def test_plsr_scaled_with_factor_interaction_and_transform(tmp_path):
    m = fit_and_check("plsr(Sepal.Length ~ Species * Petal.Width + log(Sepal.Width), data = iris, ncomp = 4, "
                      "scale = TRUE)", "iris", tmp_path, targets=ALL)
    assert outputs(m) == ["prediction"]
    assert m["source"]["estimator"] == "mvr (kernelpls, 4 of 4 components)"


def test_pcr_two_responses_one_output_each(tmp_path):
    m = fit_and_check("pcr(cbind(mpg, qsec) ~ wt + poly(hp, 2) + factor(cyl) + am:disp, data = mtcars, ncomp = 5)",
                      "mtcars", tmp_path, targets=("cpp", "java"))
    assert outputs(m) == ["prediction_mpg", "prediction_qsec"]


def test_plsr_ncomp_chosen_by_attribute_from_rds(tmp_path):
    r("f_pl <- plsr(mpg ~ wt + hp + disp + drat + qsec, data = mtcars, ncomp = 5, method = 'simpls', scale = TRUE); "
      "attr(f_pl, 'modelport.ncomp') <- 2")
    m = fit_and_check("f_pl", "mtcars", tmp_path, targets=("cpp",), save_rds=True)
    assert m["source"]["estimator"] == "mvr (simpls, 2 of 5 components)"


@pytest.mark.parametrize("value", ["7", "1.5", "'all'"])
def test_plsr_ncomp_attribute_out_of_range_is_refused(value, tmp_path):
    f = r(f"f_bad <- plsr(mpg ~ wt + hp, data = mtcars, ncomp = 2); attr(f_bad, 'modelport.ncomp') <- {value}; f_bad")
    with pytest.raises(UsageError, match="whole number from 1 to 2"):
        modelport.convert(f)


def test_plsr_matrix_variable_is_refused_naming_it():
    with pytest.raises(UnsupportedError, match="matrix variable NIR.*supported are formulas of data-frame columns"):
        modelport.convert(r("plsr(octane ~ NIR, data = gasoline, ncomp = 3)"))


# ---- smooth.spline ----------------------------------------------------------------------
def test_smooth_spline_on_knots_and_beyond_range(tmp_path):
    # generated rows: the knots (in speed units), one step beside each, values beyond both ends
    fit = r("with(cars, smooth.spline(speed, dist))")
    m = compile_and_check(fit, tmp_path, targets=ALL)
    assert [c["name"] for c in m["schema"]["inputs"]] == ["speed"]


def test_smooth_spline_airquality_rows_outside_and_on_knots(tmp_path):
    r("f_ss <- with(na.omit(airquality), smooth.spline(Temp, Ozone, df = 10))")
    fit_and_check("f_ss", "rbind(airquality['Temp'], data.frame(Temp = c(20, 56, 56.5, 97, 97.25, 130, "
                  "with(f_ss$fit, min + knot * range))))", tmp_path, targets=("cpp", "java"))


def test_smooth_spline_unnamed_x_reads_column_x(tmp_path):
    m = fit_and_check("smooth.spline(faithful$eruptions, faithful$waiting, nknots = 30, spar = 0.6)",
                      "data.frame(x = c(faithful$eruptions, 0, 1.5, 5.2, 9))", tmp_path, targets=("cpp",))
    assert [c["name"] for c in m["schema"]["inputs"]] == ["x"]


# ---- nls --------------------------------------------------------------------------------
def test_nls_michaelis_menten_selfstart(tmp_path):
    fit_and_check("nls(rate ~ SSmicmen(conc, Vm, K), data = Puromycin, subset = state == 'treated')",
                  "Puromycin", tmp_path, targets=ALL)


def test_nls_hand_formula(tmp_path):
    m = fit_and_check("nls(mpg ~ a * exp(b * wt) + c / sqrt(hp), data = mtcars, start = list(a = 40, b = -0.3, c = 1))",
                      "mtcars", tmp_path, targets=("cpp", "java"))
    assert [c["name"] for c in m["schema"]["inputs"]] == ["wt", "hp"]


@pytest.mark.parametrize("fit,data,targets", [
    ("nls(density ~ SSlogis(log(conc), Asym, xmid, scal), data = DNase, subset = Run == 1)", "DNase", ("cpp",)),
    ("nls(conc ~ SSfol(Dose, Time, lKe, lKa, lCl), data = Theoph, subset = Subject == 1)", "Theoph", ("cpp",)),
    ("nls(height ~ SSasymp(age, Asym, R0, lrc), data = Loblolly, subset = Seed == 329)", "Loblolly", ("onnx",)),
    ("nls(uptake ~ SSasympOff(conc, Asym, lrc, c0), data = CO2, subset = Plant == 'Qn1')", "CO2", ("onnx",)),
    ("nls(height ~ SSasympOrig(age, Asym, lrc), data = Loblolly, subset = Seed == 329)", "Loblolly", ("onnx",)),
    ("nls(conc ~ SSbiexp(time, A1, lrc1, A2, lrc2), data = Indometh, subset = Subject == 1)", "Indometh",
     ("onnx",)),
    ("nls(weight ~ SSfpl(Time, A, B, xmid, scal), data = ChickWeight, subset = Chick == 1)", "ChickWeight",
     ("onnx",)),
    ("nls(density ~ SSgompertz(log(conc), Asym, b2, b3), data = DNase, subset = Run == 1)", "DNase", ("onnx",)),
    ("nls(weight ~ SSweibull(Time, Asym, Drop, lrc, pwr), data = ChickWeight, subset = Chick == 6 & Time > 0)",
     "ChickWeight", ("onnx",)),
], ids=["SSlogis", "SSfol", "SSasymp", "SSasympOff", "SSasympOrig", "SSbiexp", "SSfpl", "SSgompertz", "SSweibull"])
def test_nls_selfstart_models(fit, data, targets, tmp_path):
    fit_and_check(fit, data, tmp_path, targets=targets)


@pytest.mark.parametrize("fit,message", [
    ("nls(mpg ~ a * sin(b * wt), data = mtcars, start = list(a = 20, b = 0.3))",
     r"sin\(\) in the nls formula is not supported; supported: .*exp.*SSlogis"),
    ("nls(mpg ~ cbind(1, exp(b * wt)), data = mtcars, start = list(b = -0.3), algorithm = 'plinear')",
     "plinear"),
    ("nls(mpg ~ a[cyl / 2 - 1] * exp(b * wt), data = mtcars, start = list(a = c(40, 40, 40), b = -0.3))",
     "indexed parameters"),
    ("{k_env <- 2; nls(mpg ~ a * exp(b * wt / k_env), data = mtcars, start = list(a = 40, b = -0.3))}",
     "'k_env', which is neither a parameter .* nor a data column"),
], ids=["function", "plinear", "indexed", "environment"])
def test_nls_refusals_name_what_is_supported(fit, message):
    with pytest.raises(UnsupportedError, match=message):
        modelport.convert(r(fit))
