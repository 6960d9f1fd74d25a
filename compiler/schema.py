"""The CSV/API schema of a compiled model: which column is which element of which tensor."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class Column:
    name: str  # the CSV column name (any text: it is data, never code)
    tensor: str  # the ONNX input/output it belongs to
    offset: int  # element within one row of that tensor
    kind: str = "number"  # "number" | "string" | "label" | "probability" | "value"
    levels: list = field(default_factory=list)  # known string categories, if any
    # A closed string column accepts only its `levels` (and the empty string, a missing
    # value); the programs and the typed APIs reject any other value, as R's predict() does
    # for a factor's new level. An open column (the default) accepts any string.
    closed: bool = False


@dataclass
class Schema:
    inputs: list  # [Column] in CSV/API order
    outputs: list  # [Column] in CSV/API order
    task: str = "tensor"  # "classifier" | "regressor" | "transformer" | "cluster" | "tensor"
    classes: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @staticmethod
    def from_dict(d: dict) -> "Schema":
        return Schema([Column(**c) for c in d["inputs"]], [Column(**c) for c in d["outputs"]],
                      d.get("task", "tensor"), d.get("classes", []))


def default_columns(names_and_sizes, kind="number") -> list:
    """`<tensor>` for one-element rows, else `<tensor>_<i>` (design.md's CSV contract)."""
    cols = []
    for name, size in names_and_sizes:
        if size == 1:
            cols.append(Column(name, name, 0, kind))
        else:
            cols.extend(Column(f"{name}_{i}", name, i, kind) for i in range(size))
    return cols
