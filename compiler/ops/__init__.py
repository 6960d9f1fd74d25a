"""The op registry: (domain, op_type) -> module in this package with `lower(ctx, node, ins, outs)`.

Each module lowers one ONNX op to kernel statements once; both renderers print the result.
A module that sets ALIAS = True reshapes without moving data (its output shares the input's storage).
"""

REGISTRY = {
    ("", "Identity"): "identity",
    ("", "Reshape"): "identity",
    ("", "Flatten"): "identity",
    ("", "Squeeze"): "identity",
    ("", "Unsqueeze"): "identity",
    ("", "Cast"): "cast",
    ("", "Add"): "add",
    ("", "Sub"): "sub",
    ("", "Mul"): "mul",
    ("", "Div"): "div",
    ("", "Concat"): "concat",
    ("ai.onnx.ml", "LinearRegressor"): "linear_regressor",
    ("ai.onnx.ml", "TreeEnsembleRegressor"): "tree_ensemble_regressor",
    ("ai.onnx.ml", "TreeEnsembleClassifier"): "tree_ensemble_classifier",
}


def supported_ops() -> list:
    return sorted({(d + ":" if d else "") + op for d, op in REGISTRY})
