"""survival::coxph and survival::survreg from R, checked against predict.coxph (type = "lp",
"risk"), survfit.coxph's survival at given times, and predict.survreg (type = "lp",
"response", "quantile") on the rows of survival's lung (NA in covariates, strata(sex)) and
veteran (the factor celltype) data sets; the refusals name what is supported."""
import numpy as np
import pytest

from modelport.errors import UnsupportedError, UsageError
from r_helpers import fit_and_check, r

ALL = ("cpp", "java", "onnx", "tvm-llvm")
LIB = "suppressPackageStartupMessages(library(survival)); "


def outputs(manifest):
    return [c["name"] for c in manifest["schema"]["outputs"]]


def test_coxph_strata_every_target(tmp_path):
    # lp centred on the row's own stratum's means (predict.coxph's reference = "strata");
    # survival at the quartiles of the event times; rows with NA give NA.
    m = fit_and_check(LIB + "coxph(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lung)", "lung",
                      tmp_path, targets=ALL)
    assert outputs(m) == ["lp", "risk", "survival_140.25", "survival_227.5", "survival_387.75"]


def test_coxph_factor_interaction_breslow_times_from_rds(tmp_path):
    m = fit_and_check(LIB + "local({f <- coxph(Surv(time, status) ~ karno * log(age) + celltype, data = veteran, "
                      "ties = 'breslow'); attr(f, 'modelport.times') <- c(30, 100, 365); f})", "veteran", tmp_path,
                      targets=ALL, save_rds=True)
    assert outputs(m) == ["lp", "risk", "survival_30", "survival_100", "survival_365"]


@pytest.mark.parametrize("fit,data", [
    ("coxph(Surv(time, status) ~ karno + trt + strata(celltype), data = veteran)", "veteran"),
    ("coxph(Surv(time, status) ~ age + wt.loss + strata(sex) + strata(ph.ecog), data = lung, "
     "weights = pat.karno / 100)", "lung"),
    ("coxph(Surv(time, status) ~ age + strata(sex, ph.ecog), data = lung, ties = 'exact')", "lung"),
    ("coxph(Surv(time, status) ~ poly(age, 2) + sex, data = lung, model = TRUE, subset = ph.ecog < 3)", "lung"),
    ("coxph(Surv(start, stop, event) ~ age + year + transplant + cluster(id), data = heart)", "heart"),
], ids=["factor-strata", "two-strata-weights", "two-column-strata-exact", "poly-subset", "counting-cluster"])
def test_coxph_variants(fit, data, tmp_path):
    fit_and_check(LIB + fit, data, tmp_path, targets=("cpp",))


def test_survreg_weibull_strata_every_target(tmp_path):
    # per-stratum scales: the quantiles use the row's own stratum's scale
    m = fit_and_check(LIB + "survreg(Surv(time, status) ~ age + ph.ecog + strata(sex), data = lung)", "lung",
                      tmp_path, targets=ALL)
    assert outputs(m) == ["response", "lp", "quantile_0.1", "quantile_0.9"]  # predict.survreg's default p


@pytest.mark.parametrize("dist", ["exponential", "rayleigh", "lognormal", "loglogistic", "gaussian", "logistic", "t"])
def test_survreg_distributions(dist, tmp_path):
    fit_and_check(LIB + f"survreg(Surv(time, status) ~ karno * log(age) + celltype, data = veteran, dist = '{dist}')",
                  "veteran", tmp_path, targets=("cpp",))


def test_survreg_probabilities_option_and_factor_strata(tmp_path):
    m = fit_and_check(LIB + "local({f <- survreg(Surv(time, status) ~ karno + trt + strata(celltype), data = veteran, "
                      "dist = 'lognormal'); attr(f, 'modelport.p') <- 0.25; f})", "veteran", tmp_path,
                      targets=("cpp", "java"))
    assert outputs(m) == ["response", "lp", "quantile_0.25"]


def test_numeric_strata_match_as_r_writes_the_number():
    # strata() matches a number by its text at 15 significant digits: the interval of doubles
    # with the same text, and none just beyond it
    from rpy2.robjects import FloatVector

    from modelport.frontends.r.coxph import text_interval
    text = r("function(x) as.character(x)")
    for v in (1.0, 2.0, 0.1 + 0.2, 1234.5678, 0.0, -3.25):
        lo, hi = text_interval(v)
        assert lo <= v <= hi
        same = list(text(FloatVector([v, lo, hi])))
        assert same[1:] == [same[0]] * 2
        assert not set(text(FloatVector([np.nextafter(lo, -np.inf), np.nextafter(hi, np.inf)]))) & {same[0]}


@pytest.mark.parametrize("fit,match", [
    ("coxph(Surv(time, status) ~ age + tt(karno), data = veteran, tt = function(x, t, ...) x * log(t))",
     "tt\\(\\) terms is not supported; supported: coxph with numeric and factor covariates"),
    ("coxph(Surv(time, status) ~ karno + offset(log(age)), data = veteran)", "offsets is not supported"),
    ("coxph(Surv(time, status) ~ age + sex, data = lung[lung$age > 50, ])",
     "holds expressions other than column names.*model = TRUE"),
    ("survreg(Surv(time, status) ~ karno + offset(log(age)), data = veteran)",
     "offsets .* not supported; supported: survreg .* the distributions weibull, exponential"),
    ("survreg(Surv(time, status) ~ karno, data = veteran, dist = survreg.distributions$weibull)",
     "custom distribution .* not supported; supported: survreg"),
    ("coxph(Surv(time, status) ~ karno + strata(age > 60), data = veteran)",
     "strata\\(\\) of an expression .* not supported; strata\\(\\) takes plain columns"),
], ids=["coxph-tt", "coxph-offset", "coxph-unsafe-call", "survreg-offset", "survreg-custom-dist",
        "strata-of-an-expression"])
def test_refusals_name_what_is_supported(fit, match, tmp_path):
    with pytest.raises(UnsupportedError, match=match):
        fit_and_check(LIB + fit, "veteran", tmp_path, targets=("cpp",))


def test_bad_times_option_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="modelport.times.*distinct finite times"):
        fit_and_check(LIB + "local({f <- coxph(Surv(time, status) ~ karno, data = veteran); "
                      "attr(f, 'modelport.times') <- c(10, 10); f})", "veteran", tmp_path, targets=("cpp",))
