"""PolynomialFeatures in double, as scikit-learn computes it.

skl2onnx's converter mixes float constants into a double graph (ONNX Runtime refuses it).
`install()` puts a converter in front of it: for a double input the output columns are the
products of `powers_`, each computed as scikit-learn's transform does (a term of degree d is
the term of degree d - 1 without its first feature, times that feature), so the results are
scikit-learn's to the last bit: one Mul per degree over gathered columns, then the columns in
scikit-learn's order (the bias column is 1.0). Other inputs go to skl2onnx's converter.
"""
from __future__ import annotations

import numpy as np

from .sklearn_double_builder import converter, install_in_front


def install() -> None:
    """Put the converter in front of skl2onnx's (safe to call repeatedly)."""
    from sklearn.preprocessing import PolynomialFeatures
    install_in_front({PolynomialFeatures: "SklearnPolynomialFeatures"}, converter("poly", _build))


def _terms(powers: np.ndarray) -> list:
    """Each output column's features, ascending (a feature repeated by its power)."""
    return [tuple(int(f) for f in np.repeat(np.arange(powers.shape[1]), p)) for p in powers]


def _needed(terms: list) -> dict:
    """{degree: the terms of that degree to compute}: the outputs' and every term they build on."""
    needed = {}
    todo = [t for t in terms if len(t) >= 1]
    while todo:
        t = todo.pop()
        if t in needed.setdefault(len(t), set()):
            continue
        needed[len(t)].add(t)
        if len(t) > 1:
            todo.append(t[1:])
    return {d: sorted(ts) for d, ts in needed.items()}


def _build(b, model, operator, container):
    x = b.input(operator)
    terms = _terms(np.asarray(model.powers_))
    needed = _needed(terms)
    blocks, position, width = [], {}, 0  # the computed columns, each term's column among them
    if () in terms:  # the bias: 1.0 on every row, whatever x holds
        one = b.const(np.ones((1, 1)))
        blocks.append(b.op("Where", b.op("IsNaN", b.column(x, 0)), one, one))
        position[()], width = 0, 1
    previous = {}
    for degree in range(1, max(needed, default=0) + 1):
        if degree == 1:  # every feature, in order: what the higher degrees gather from
            level, current = [(f,) for f in range(int(model.n_features_in_))], x
        else:
            level = needed.get(degree, [])
            current = b.op("Mul", b.op("Gather", blocks[-1], b.const([previous[t[1:]] for t in level], np.int64),
                                       axis=1),
                           b.op("Gather", x, b.const([t[0] for t in level], np.int64), axis=1))
        previous = {t: i for i, t in enumerate(level)}
        position.update({t: width + i for t, i in previous.items()})
        blocks.append(current)
        width += len(level)
    columns = b.op("Concat", *blocks, axis=1) if len(blocks) > 1 else blocks[0]
    order = [position[t] for t in terms]
    if order != list(range(width)):
        columns = b.op("Gather", columns, b.const(order, np.int64, hint="order"), axis=1)
    b.op("Identity", columns, out=operator.outputs[0].full_name)
