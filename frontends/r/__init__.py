"""R frontend: fitted R models (.rds files or R objects from rpy2) to SourceModel.

No public converter turns R models into ONNX, so these are ours: one module per R model
class, registered below, each reading the fitted parameters through R itself and building
the ONNX graph; `terms` rebuilds formulas and data frames (factors, contrasts,
interactions, transforms). R's own predict() is the reference for parity.
"""
from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import numpy as np

from modelport.errors import UnsupportedError, UsageError
from modelport.schema import Column, Schema
from modelport.source_model import SourceModel

from . import bridge

# R class (the first of class(model) found here) -> (module in this package, R package)
CLASSES = {
    "lm": ("lm", "stats"),
    "glm": ("glm", "stats"),
    "gam": ("gam", "mgcv"),
    "bam": ("gam", "mgcv"),
    "rpart": ("rpart", "rpart"),
    "randomForest": ("random_forest", "randomForest"),
    "ranger": ("ranger", "ranger"),
    "gbm": ("gbm", "gbm"),
    "cv.glmnet": ("cv_glmnet", "glmnet"),
    "glmnet": ("glmnet", "glmnet"),
    "svm": ("svm", "e1071"),
    "nnet": ("nnet", "nnet"),
    "multinom": ("nnet", "nnet"),
    "lda": ("lda", "MASS"),
    "polr": ("polr", "MASS"),
    "qda": ("qda", "MASS"),
    "earth": ("earth", "earth"),
    "kmeans": ("kmeans", "stats"),
    "prcomp": ("prcomp", "stats"),
    "coxph": ("coxph", "survival"),
    "survreg": ("survreg", "survival"),
    "mvr": ("mvr", "pls"),
    "smooth.spline": ("smooth_spline", "stats"),
    "nls": ("nls", "stats"),
    "train": ("caret_train", "caret"),
    "ksvm": ("ksvm", "kernlab"),
    "constparty": ("ctree", "partykit"),
    "cforest": ("cforest", "partykit"),
}


def _available(module: str) -> bool:
    from importlib.util import find_spec
    return find_spec(f"{__package__}.{module}") is not None


def supported() -> str:
    return ", ".join(sorted(c for c, (m, _) in CLASSES.items() if _available(m)))


def load(path: Path):
    """An R object from an .rds file."""
    return bridge.read_rds(path)


def is_r_object(obj) -> bool:
    return bridge.is_r_object(obj)


def converter(obj):
    classes = bridge.classes(obj)
    for c in classes:
        if c in CLASSES and _available(CLASSES[c][0]):
            module, package = CLASSES[c]
            return c, importlib.import_module(f".{module}", __package__), package
    what = "an R " + "/".join(classes)
    if any(c in ("data.frame", "matrix", "numeric", "character", "list", "function") for c in classes):
        raise UsageError(f"the R object is {what}, not a fitted model; save the fitted model with "
                         f"saveRDS(). Supported model classes: {supported()}")
    raise UnsupportedError(f"the R model class {'/'.join(classes)} is not supported; supported classes: "
                           f"{supported()} (see docs/support-matrix.md)")


def to_source(obj, name: str = "model", source_file: Path | None = None, precision: str | None = None,
              recipe=None, recipe_file: Path | None = None) -> SourceModel:
    """`precision`: None (R's own: double) or "float32" (inputs and outputs rounded to
    float32 on purpose, for speed; the parity report shows what that costs). `recipe`: a
    prep()ed recipes::recipe whose baked columns the model reads (see recipe.py)."""
    from .graph import Graph
    rclass, module, package = converter(obj)
    if package not in ("stats", "base"):
        bridge.require(package, f"the R class {rclass}")
    precision = precision or "float64"
    g = Graph(name, precision)
    try:
        if recipe is None:
            conv = module.convert(obj, g)
        else:
            from . import recipe as recipes
            conv = recipes.convert(recipe, obj, module, g)
    except bridge.RError as exc:
        raise UnsupportedError(f"cannot read the {rclass} model through R: {exc}") from None
    proto = g.model()
    frame = conv.frame
    cols = list(frame.columns.values())
    inputs = [Column(c.name, c.tensor, 0, c.kind, list(c.levels)) for c in cols]
    for col in inputs:
        if col.kind == "string" and col.levels:
            col.closed = True
    schema = Schema(inputs, conv.outputs, conv.task, conv.classes)
    kinds = {c.name: c.kind for c in cols}
    levels = {c.name: c.levels for c in cols if c.kind == "string" and c.levels}

    def reference(feed):
        table = {c.name: np.asarray(feed[c.tensor]).reshape(-1) for c in cols}
        try:
            df = bridge.data_frame(table, kinds, levels)
            return conv.reference(df)
        except bridge.RError as exc:
            raise UsageError(f"R's predict() failed on these rows: {exc}") from None

    digest = hashlib.sha256(Path(source_file).read_bytes()).hexdigest() if source_file else None
    with_recipe = {}
    if recipe is not None:
        # `check --data` reloads source_file alone: with a recipe it must not, so the files are
        # recorded under their own keys.
        with_recipe = {"model_file": str(source_file) if source_file else None, "model_sha256": digest,
                       "recipe_file": str(recipe_file) if recipe_file else None,
                       "recipe_sha256": hashlib.sha256(Path(recipe_file).read_bytes()).hexdigest()
                       if recipe_file else None,
                       "recipes_version": bridge.package_version("recipes")}
        source_file = digest = None
    provenance = {
        "framework": "R",
        "framework_version": bridge.r_version(),
        "converter": "modelport R frontend",
        "r_class": rclass,
        "r_package": package,
        "r_package_version": bridge.package_version(package),
        "estimator": conv.description or rclass,
        "source_file": str(source_file) if source_file else None,
        "source_sha256": digest,
        **with_recipe,
    }
    why = ("R computes in double" if precision == "float64" else
           "float32 asked for (--precision float32): R computes in double, so inputs are rounded to float32")
    return SourceModel(proto, schema, reference, provenance, name,
                       {"levels": levels, "samples": frame.samples(obj) if recipe is None else
                        recipes.samples(recipe, frame),
                        "thresholds": {k: list(v) for k, v in conv.thresholds.items()}}, precision=precision,
                       precision_reason=why, reference_float64=True)
