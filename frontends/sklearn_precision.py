"""The precision a fitted scikit-learn estimator computes in, and why.

scikit-learn's trees (DecisionTree, RandomForest, ExtraTrees, GradientBoosting's trees,
IsolationForest) cast X to float32 before they compare, so their artifacts read float32
(numbers parsed as double, then rounded as numpy rounds). Everything else keeps X in float64
(linear models, naive Bayes, k-NN, MLPs, scalers, PCA, k-means, HistGradientBoosting): their
artifacts compute in double. Where skl2onnx (or ONNX Runtime) has no double form, a converter in
front of skl2onnx's builds one (frontends/sklearn.py: DOUBLE_CONVERTERS; SVMs, LinearSVC,
RidgeClassifier, SimpleImputer, HistGradientBoosting, PolynomialFeatures, KBinsDiscretizer,
PowerTransformer, BernoulliNB). What still has none is listed in FLOAT32_CONVERSIONS, with why;
any other failure of the double conversion falls back to float32 in frontends/sklearn.py, the
reason saying what failed.
"""
from __future__ import annotations

FLOAT32_TREES = ("DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier", "ExtraTreeRegressor",
                 "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier", "ExtraTreesRegressor",
                 "GradientBoostingClassifier", "GradientBoostingRegressor", "IsolationForest",
                 "AdaBoostClassifier", "AdaBoostRegressor", "BaggingClassifier", "BaggingRegressor",
                 "RandomTreesEmbedding")

# Estimators of other libraries (with scikit-learn wrappers) that compute in float32: why.
XGBOOST = "XGBoost stores its input as float32 and compares and sums in float32"
FLOAT64_LIBRARIES = {"LGBMClassifier": "LightGBM compares and sums in double",
                     "LGBMRegressor": "LightGBM compares and sums in double"}
FLOAT32_LIBRARIES = {"XGBClassifier": XGBOOST, "XGBRegressor": XGBOOST, "XGBRFClassifier": XGBOOST,
                     "XGBRFRegressor": XGBOOST}

# Estimators that scikit-learn computes in float64 but that compile in float32: why.
FLOAT32_CONVERSIONS = {
    "KNNImputer": "skl2onnx converts KNNImputer in float32 only",
    "CategoricalNB": "skl2onnx's CategoricalNB graph mixes float32 into its double form, which ONNX Runtime "
                     "refuses",
}


def _steps(est):
    """Every estimator inside `est` (pipelines, column transformers, ensembles' templates)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import FeatureUnion, Pipeline
    yield est
    if isinstance(est, Pipeline):
        for _, s in est.steps:
            yield from _steps(s)
    elif isinstance(est, ColumnTransformer):
        for _, t, _ in est.transformers_:
            if not isinstance(t, str):
                yield from _steps(t)
    elif isinstance(est, FeatureUnion):
        for _, t in est.transformer_list:
            yield from _steps(t)
    for attr in ("estimator", "base_estimator", "final_estimator_"):
        inner = getattr(est, attr, None)
        if inner is not None and hasattr(inner, "fit"):
            yield from _steps(inner)
    if type(est).__name__.startswith(("Voting", "Stacking")):  # their fitted members
        for inner in getattr(est, "estimators_", None) or []:
            if hasattr(inner, "fit"):
                yield from _steps(inner)


FITTED = ("coef_", "cluster_centers_", "components_", "mean_", "means_", "scale_", "theta_", "coefs_")


def fitted_on_float32(est) -> bool:
    """Fitted on float32 data: scikit-learn then keeps float32 parameters and computes in float32
    (k-means even refuses float64 rows)."""
    import numpy as np
    for s in _steps(est):
        for a in FITTED:
            v = getattr(s, a, None)
            for arr in (v if isinstance(v, list) else [v]):
                if isinstance(arr, np.ndarray) and arr.dtype == np.float32:
                    return True
    return False


def precision(est) -> tuple:
    """("float64" | "float32", why)."""
    if fitted_on_float32(est):
        return "float32", "the model was fitted on float32 data: scikit-learn computes it in float32"
    names = [type(s).__name__ for s in _steps(est)]
    library = [n for n in names if n in FLOAT32_LIBRARIES]
    if library:
        return "float32", f"{library[0]}: {FLOAT32_LIBRARIES[library[0]]}"
    trees = [n for n in names if n in FLOAT32_TREES]
    if trees:
        return "float32", f"scikit-learn's {trees[0]} casts its input to float32 before comparing"
    single = [n for n in names if n in FLOAT32_CONVERSIONS]
    if single:
        return "float32", (f"scikit-learn computes {single[0]} in float64, but {FLOAT32_CONVERSIONS[single[0]]}: "
                           "inputs are rounded to float32 (the parity report shows the cost)")
    library = [n for n in names if n in FLOAT64_LIBRARIES]
    if library:
        return "float64", f"{library[0]}: {FLOAT64_LIBRARIES[library[0]]}"
    return "float64", "scikit-learn computes this model in float64"
