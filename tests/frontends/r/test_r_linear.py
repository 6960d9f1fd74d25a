"""lm and glm from R: formulas with factors, interactions, transforms and offsets, checked
against R's predict() on the rows of R's own datasets."""
import pytest

from r_helpers import fit_and_check, r


@pytest.mark.parametrize("formula,data", [
    ("mpg ~ wt + hp", "mtcars"),
    ("mpg ~ log(disp) + poly(hp, 2) + factor(cyl) * wt + I(qsec^2) + scale(drat)", "mtcars"),
    ("len ~ supp * dose", "ToothGrowth"),
    ("breaks ~ wool:tension + tension", "warpbreaks"),
    ("uptake ~ Type + Treatment + log(conc) + poly(conc, 3, raw = TRUE)", "as.data.frame(CO2)"),
    ("Sepal.Length ~ .", "iris"),
])
def test_lm(formula, data, tmp_path):
    fit_and_check(f"lm({formula}, data = {data})", data, tmp_path)


def test_lm_ordered_factor_and_character_column(tmp_path):
    r("d_ord <- transform(mtcars, gearf = factor(gear, ordered = TRUE), carbc = ifelse(carb > 2, 'many', 'few'))")
    fit_and_check("lm(mpg ~ gearf + carbc + wt, data = d_ord)", "d_ord", tmp_path)


def test_lm_offset_argument_and_rds_file(tmp_path):
    m = fit_and_check("lm(mpg ~ wt, offset = log(hp), data = mtcars)", "mtcars", tmp_path, save_rds=True)
    assert m["source"]["r_class"] == "lm"
    assert m["source"]["source_sha256"]


@pytest.mark.parametrize("family", [
    "binomial", "binomial(link = 'probit')", "binomial(link = 'cloglog')",
])
def test_glm_binomial(family, tmp_path):
    r("d_bin <- transform(mtcars, am = factor(am, labels = c('auto', 'manual')))")
    fit_and_check(f"glm(vs ~ wt + am + log(disp), data = d_bin, family = {family})", "d_bin", tmp_path)


def test_glm_binomial_counts_esoph(tmp_path):
    fit_and_check("glm(cbind(ncases, ncontrols) ~ agegp + tobgp + alcgp, data = esoph, family = binomial)",
                  "esoph", tmp_path)


def test_glm_poisson_with_offset(tmp_path):
    r("d_pois <- transform(warpbreaks, hours = 1 + as.numeric(tension))")
    fit_and_check("glm(breaks ~ wool * tension + offset(log(hours)), data = d_pois, family = poisson)",
                  "d_pois", tmp_path)


def test_glm_gamma(tmp_path):
    fit_and_check("glm(mpg ~ wt + factor(cyl), data = mtcars, family = Gamma)", "mtcars", tmp_path)
    

def test_glm_gaussian_missing_values(tmp_path):
    # airquality has NA in Ozone and Solar.R: predict() gives NA for those rows, and so do we.
    fit_and_check("glm(Temp ~ Ozone + Solar.R + Wind, data = airquality)", "airquality", tmp_path)


@pytest.mark.parametrize("formula", [
    "mpg ~ splines::ns(hp, df = 4) + wt",
    "mpg ~ splines::bs(disp, df = 5) + splines::ns(log(wt), knots = c(1, 1.2))",
])
def test_lm_splines_inside_and_beyond_the_boundary_knots(formula, tmp_path):
    # Rows scaled past the training range check the extrapolation (linear for ns, the end
    # polynomial for bs) as well as the pieces inside.
    r("d_spl <- rbind(mtcars, transform(mtcars, hp = hp * 1.7, disp = disp * 0.4, wt = wt * 1.5))")
    fit_and_check(f"lm({formula}, data = mtcars)", "d_spl", tmp_path)


def test_numeric_factor_value_that_is_not_a_level_gives_nan(tmp_path):
    import subprocess

    import modelport
    out = tmp_path / "out"
    modelport.compile(r("lm(mpg ~ factor(cyl) + wt, data = mtcars)"), targets=["cpp"], out=out, name="cylm")
    run = subprocess.run([str(out / "cpp" / "bin" / "cylm")], input="cyl,wt\n6,3\n5,3\n,3\n",
                         capture_output=True, text=True, check=True)
    rows = run.stdout.split()
    assert rows[0] == "prediction"
    assert float(rows[1]) == pytest.approx(float(r("predict(lm(mpg ~ factor(cyl) + wt, data = mtcars), "
                                                   "data.frame(cyl = 6, wt = 3))")[0]), rel=1e-6)
    assert rows[2].lower() == "nan" and rows[3].lower() == "nan"


def test_lm_without_intercept_codes_the_first_factor_fully(tmp_path):
    fit_and_check("lm(mpg ~ factor(cyl) + wt - 1, data = mtcars)", "mtcars", tmp_path)
