"""TreeEnsembleRegressor: https://onnx.ai/onnx/operators/onnx_aionnxml_TreeEnsembleRegressor.html"""
from . import _trees
from ..errors import UnsupportedError
from ..kernel import ast as k


def lower(ctx, node, ins, outs):
    return lower_attrs(ctx, node.attrs, ins, outs)


def lower_attrs(ctx, a: dict, ins, outs):
    """The lowering from the attributes (TreeEnsemble, ai.onnx.ml 5, is turned into these)."""
    x, out = ins[0], outs[0]
    n_targets = int(a.get("n_targets", 1))
    agg = a.get("aggregate_function", "SUM")
    if agg not in ("SUM", "AVERAGE"):
        raise UnsupportedError(f"TreeEnsembleRegressor aggregate_function {agg} is not supported (SUM, AVERAGE)")
    if a.get("post_transform", "NONE") != "NONE":
        raise UnsupportedError(f"TreeEnsembleRegressor post_transform {a['post_transform']} is not supported")
    dtype = x.dtype if x.dtype in ("f32", "f64") else "f32"
    forest = _trees.build(a, "target", n_targets, x.size, dtype)
    acc = ctx.scratch_buf("acc", "f64", n_targets)
    stmts = _trees.accumulate(ctx, forest, x, acc, dtype)
    base = list(_trees._values(a, "base_values")) or [0.0] * n_targets
    scale = 1.0 / len(forest.roots) if agg == "AVERAGE" else 1.0

    def value(r, j):
        s = acc[r * n_targets + j]
        if scale != 1.0:
            s = s * k.Const(scale, "f64")
        return k.Cast(s + k.Const(float(base[j]), "f64"), out.dtype)
    stmts.append(ctx.rows(lambda r: [out.put(r, j, value(r, j)) for j in range(n_targets)]))
    return stmts
