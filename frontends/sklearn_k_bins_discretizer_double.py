"""KBinsDiscretizer in double, as scikit-learn computes it.

skl2onnx's converter compares in float32 (its bin edges and casts are float). `install()`
puts a converter in front of it: for a double input each value's bin is scikit-learn's
searchsorted(bin_edges_[j][1:-1], x, side="right"), the number of inner edges <= x, counted
as (inner edges) - (edges above x) with one Less over every feature's edges and a MatMul
that sums them per feature (exact: small integers). `encode="ordinal"` outputs the bins as
double; "onehot" and "onehot-dense" one column per bin (1.0 in the row's bin), in
scikit-learn's order. Other inputs, and a float32 `dtype`, go to skl2onnx's converter.
"""
from __future__ import annotations

import numpy as np

from modelport.passes.ml_to_tensor._builder import F64

from .sklearn_double_builder import all_double, converter, install_in_front


def install() -> None:
    """Put the converter in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.preprocessing import KBinsDiscretizer
    install_in_front({KBinsDiscretizer: "SklearnKBinsDiscretizer"}, converter("kbins", _build, _ours))


def _ours(operator, container) -> bool:
    return all_double(operator) and operator.raw_operator.dtype in (None, np.float64)


def _build(b, model, operator, container):
    x = b.input(operator)
    inner = [np.asarray(e, np.float64)[1:-1] for e in model.bin_edges_]
    owner = np.concatenate([np.full(len(e), j) for j, e in enumerate(inner)]).astype(np.int64)
    counts = np.array([len(e) for e in inner], np.float64).reshape(1, -1)
    if owner.size:
        sums = np.zeros((owner.size, len(inner)))
        sums[np.arange(owner.size), owner] = 1.0
        above = b.op("Less", b.op("Gather", x, b.const(owner, hint="owner"), axis=1),
                     b.const(np.concatenate(inner).reshape(1, -1), hint="edges"))
        bins = b.op("Sub", b.const(counts, hint="counts"),
                    b.op("MatMul", b.cast(above, F64), b.const(sums, hint="per_feature")))
    else:  # one bin per feature: every value is in bin 0
        zero = b.const(np.zeros((1, len(inner))))
        bins = b.op("Where", b.op("IsNaN", x), zero, zero)
    if model.encode != "ordinal":
        n_bins = [int(n) for n in model.n_bins_]
        feature = np.concatenate([np.full(n, j) for j, n in enumerate(n_bins)]).astype(np.int64)
        number = np.concatenate([np.arange(n) for n in n_bins]).astype(np.float64).reshape(1, -1)
        bins = b.cast(b.op("Equal", b.op("Gather", bins, b.const(feature, hint="feature"), axis=1),
                           b.const(number, hint="bin")), F64)
    b.op("Identity", bins, out=operator.outputs[0].full_name)
