"""What each R model-class converter returns: the frame of input columns it reads, its
outputs (already added to the graph), and R's own predict() as the reference."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from modelport.schema import Column

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


def value_output(g: Graph, value: str, name: str, width: int = 1, kind: str = "value",
                 names: list | None = None) -> list:
    """Add a float output tensor `name` [N, width] and return its schema columns
    (`name`, or `name_<i>` / `name_<names[i]>` for several)."""
    g.output(g.to_float(value), name, FLOAT, width)
    if width == 1:
        return [Column(name, name, 0, kind)]
    suffixes = names or [str(i) for i in range(width)]
    return [Column(f"{name}_{s}", name, i, kind) for i, s in enumerate(suffixes)]
