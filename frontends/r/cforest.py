"""partykit::cforest (class "cforest"): predict(type = "response" / "prob") as
predict.cforest computes it, which is not the mean of the trees' predictions: each training
row i weighs w_i = sum over trees b of rw_b[i] / (the sum of rw_b in i's terminal node of
tree b), counted where the new row lands in the same terminal node (R_rfweights, scale =
TRUE; rw: the forest's weights, or its honest weights), and the prediction is the weighted
mean of the training responses (numeric), or the weighted class shares (factor; label: the
first most probable class). Summed per tree's terminal node instead, that is
sum_b S_b(leaf_b) / sum_b D_b(leaf_b) with per-leaf sums S_b (response times weight, or
weight per class) and D_b (weight), here computed in double from the training rows' terminal
nodes and summed in the graph: R's sums in another order (rounding only).

The trees are walked as ctree.py walks one (surrogates, majority directions; rows partykit
sends down a random kid get no reference). A forest whose training rows themselves go down
random kids (missing values, or levels a node never saw, with ctree_control(majority =
FALSE)) is refused: predict.cforest recomputes their terminal nodes at random on every call.
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

from . import bridge
from .converted import Converted
from .ctree import FACTORS, R_RANDOM, Splits, Tree, data_info, flat, frame, party_outputs, response_class

R_FOREST = r"""
function(f) {
  y <- f$fitted[["(response)"]]
  rw <- if (is.null(f$honest_weights)) f$weights else f$honest_weights
  list(fdata = lapply(f$nodes, function(n) as.integer(partykit:::fitted_node(n, data = f$data))),
       rw = lapply(rw, as.numeric), y = if (is.factor(y)) as.numeric(unclass(y)) else as.numeric(y),
       levels = levels(y))
}
"""


def convert(fit, g) -> Converted:
    cls = response_class(fit, "cforest")
    info = data_info(fit)
    nodes_r = bridge.call("function(f) f$nodes", fit)
    terms_r = bridge.call("function(f) f$predictf", fit)
    data_r = bridge.call("function(f) f$data", fit)
    rnd = np.asarray(bridge.py(bridge.call(R_RANDOM, nodes_r, data_r, terms_r, data_r)), dtype=bool)
    if rnd.any():
        raise UnsupportedError(
            f"this cforest sends {int(rnd.sum())} of its training rows down random kids (missing values, or factor "
            "levels a node never saw, without surrogates that decide and with ctree_control(majority = FALSE)): "
            "predict.cforest recomputes their terminal nodes, at random, on every call, so its predictions are "
            "random. Supported: forests whose training rows have a definite path (fit on complete rows, or with "
            "control = ctree_control(majority = TRUE, ...) or surrogates)")
    fr = frame(g, fit, terms_r, info)
    splits = Splits(g, fr, info)
    trees = [Tree(flat(n), splits) for n in nodes_r]
    f = bridge.py(bridge.call(R_FOREST, fit))
    classify = cls in FACTORS
    classes = list(f["levels"] or [])
    y = np.asarray(f["y"], dtype=np.float64).reshape(-1)
    width = len(classes) if classify else 1
    d = splits.build() if splits.n else None
    hits, sums = [], []
    for b, tree in enumerate(trees):
        if not tree.inner:
            raise UnsupportedError("a cforest tree that is a single node is not supported")
        hits.append(tree.leaf_indicator(g, d, None))
        sums.append(_leaf_sums(tree.leaves, np.asarray(f["fdata"][b]).reshape(-1).astype(int),
                               np.asarray(f["rw"][b], dtype=np.float64).reshape(-1), y, classify, width))
    table = np.concatenate(sums, axis=0)  # [all leaves, width + 1]
    total = g.matmul(g.concat(hits), g.const(table))
    num = g.columns(total, list(range(width)))
    out = g.div(num, g.columns(total, [width]))
    desc = f"cforest ({'classification' if classify else 'regression'}, {len(trees)} trees)"
    return party_outputs(g, fit, out, classes if classify else None, desc, fr, splits, nodes_r, terms_r)


def _leaf_sums(leaves, fdata, rw, y, classify, width) -> np.ndarray:
    """[leaves, width + 1]: per terminal node, the training rows' weights rw / (the node's sum
    of rw) times the response (or per class), and the weights themselves."""
    out = np.zeros((len(leaves), width + 1))
    where = {leaf: i for i, leaf in enumerate(leaves)}
    size = {}
    for node, w in zip(fdata, rw):
        size[node] = size.get(node, 0.0) + w
    for node, w, v in zip(fdata, rw, y):
        if node not in where:
            raise UnsupportedError(f"a training row ends in node {node}, which is not a terminal node")
        if size[node] == 0:
            raise UnsupportedError("a terminal node of a cforest tree has no training weight (predict.cforest "
                                   "divides by zero there)")
        share = w / size[node]
        if classify:
            out[where[node], int(v) - 1] += share
        else:
            out[where[node], 0] += v * share
        out[where[node], width] += share
    return out
