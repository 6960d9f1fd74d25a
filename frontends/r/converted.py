"""What each R model-class converter returns: the frame of input columns it reads, its
outputs (already added to the graph), and R's own predict() as the reference."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from modelport.schema import Column

from . import bridge
from .graph import FLOAT, Graph
from .terms import Frame


@dataclass
class Converted:
    frame: Frame
    outputs: list  # [Column] (schema output columns, in CSV order)
    task: str  # "regressor" | "classifier" | "cluster" | "transformer"
    # reference(R data.frame) -> {output tensor: numpy array [n, k]} computed by R itself
    reference: Callable
    classes: list = field(default_factory=list)
    description: str = ""
    package: str | None = None  # the R package the model class comes from
    # {input column: [values]} where the model's answer changes form (knots, hinges, cut
    # points): parity rows take them, one step beside them, and values beyond their range
    thresholds: dict = field(default_factory=dict)


def value_output(g: Graph, value: str, name: str, width: int = 1, kind: str = "value",
                 names: list | None = None, float32: bool = False) -> list:
    """Add a numeric output tensor `name` [N, width] (double, or float32 when asked, or
    `float32` where the value passes through a float-only operator: it then says so) and
    return its schema columns (`name`, or `name_<i>` / `name_<names[i]>` for several)."""
    if float32:
        g.output(g.to_float(value), name, FLOAT, width)
    else:
        g.output(g.to_number(value), name, g.number, width)
    if width == 1:
        return [Column(name, name, 0, kind)]
    suffixes = names or [str(i) for i in range(width)]
    return [Column(f"{name}_{s}", name, i, kind) for i, s in enumerate(suffixes)]


def classifier_outputs(g: Graph, scores: str, classes: list, kind: str = "probability",
                       label_from: str | None = None) -> list:
    """Outputs `label` (the class name, a string; the first class with the highest score, or
    the argmax of `label_from` when given) and `probabilities` [N, K] as columns
    `prob_<class>` (or `score_<class>` when kind is "value")."""
    import numpy as np

    from .graph import STRING
    idx = g.op("ArgMax", label_from or scores, axis=1, keepdims=1)
    names = g.const(np.array([str(c) for c in classes], dtype=object), object)
    label = g.op("Gather", names, idx, axis=0)
    label = g.op("Reshape", label, g.const(np.array([-1, 1], dtype=np.int64), np.int64))
    g.output(label, "label", STRING, 1)
    g.output(g.to_number(scores), "probabilities", g.number, len(classes))
    prefix = "prob" if kind == "probability" else "score"
    return [Column("label", "label", 0, "label")] + [
        Column(f"{prefix}_{c}", "probabilities", i, kind) for i, c in enumerate(classes)]


R_CLASS_AND_PROB = ("function(f, d, t) list(as.character(predict(f, newdata = d, type = t)), "
                    "unname(as.matrix(predict(f, newdata = d, type = 'prob'))))")


def class_and_prob(fit, df, label_type: str, n_classes: int) -> dict:
    """R's predict(type = label_type) and predict(type = "prob") as the reference outputs
    `label` and `probabilities` of a classifier."""
    import numpy as np
    r = bridge.py(bridge.call(R_CLASS_AND_PROB, fit, df, label_type))
    return {"label": np.array(r[0], dtype=object).reshape(-1, 1),
            "probabilities": np.asarray(r[1], dtype=np.float64).reshape(-1, n_classes)}
