"""lm and glm from R: formulas with factors, interactions, transforms and offsets, checked
against R's predict() on the rows of R's own datasets."""
import pytest

from helpers import compile_and_check
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


def test_glm_probit_is_r_pnorm_in_double_in_every_range(tmp_path):
    # eta = x exactly (an offset-only model), on values across R's pnorm ranges (central,
    # Cody's rational in |x|, the asymptotic tail, 0 and 1 beyond) and one double either side
    # of each boundary: the artifacts give R's pnorm bit for bit.
    import subprocess

    import numpy as np
    from rpy2.robjects import FloatVector

    r("set.seed(1); d_pn <- data.frame(x = rnorm(200)); d_pn$y <- as.integer(d_pn$x + rnorm(200) > 0)")
    fit = r("glm(y ~ -1 + offset(x), data = d_pn, family = binomial(link = 'probit'))")
    xs = [*np.linspace(-40, 10, 801), 0.0, -0.0, 1e-300, 5e-324]
    for b in (0.67448975, 32 ** 0.5, 37.5193, 8.2924, 1.0):
        xs += [v for s in (1, -1) for v in (s * b, np.nextafter(s * b, -np.inf), np.nextafter(s * b, np.inf))]
    rows = tmp_path / "rows.csv"
    rows.write_text("x\n" + "\n".join(repr(float(v)) for v in xs) + "\n")
    m = compile_and_check(fit, tmp_path, targets=("cpp", "java"), data=rows, name="probit")
    assert m["precision"]["outputs"]["prediction"] == "float64"
    out = subprocess.run([str(tmp_path / "out" / "cpp" / "bin" / "probit")], stdin=rows.open(),
                         capture_output=True, text=True, check=True).stdout.split()
    got = np.array([float(line.split(",")[0]) for line in out[1:]])
    want = np.array(r("pnorm")(FloatVector(xs)))
    assert np.array_equal(got, want), [(x, w, g) for x, w, g in zip(xs, want, got) if w != g][:5]
