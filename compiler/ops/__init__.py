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
    ("", "Sum"): "sum",
    ("", "Concat"): "concat",
    # standard ops used by neural nets, naive Bayes, k-means, k-NN (see each module)
    ("", "MatMul"): "matmul",
    ("", "Gemm"): "gemm",
    ("", "Relu"): "relu",
    ("", "Sigmoid"): "sigmoid",
    ("", "Tanh"): "tanh",
    ("", "Exp"): "exp",
    ("", "Log"): "log",
    ("", "Sqrt"): "sqrt",
    ("", "Floor"): "floor",
    ("", "Abs"): "abs",
    ("", "Neg"): "neg",
    ("", "Reciprocal"): "reciprocal",
    ("", "Pow"): "pow",
    ("", "Max"): "max",
    ("", "Min"): "min",
    ("", "Softmax"): "softmax",
    ("", "ArgMax"): "argmax",
    ("", "ArgMin"): "argmin",
    ("", "ReduceSum"): "reduce_sum",
    ("", "ReduceMean"): "reduce_mean",
    ("", "ReduceMax"): "reduce_max",
    ("", "ReduceMin"): "reduce_min",
    ("", "ReduceProd"): "reduce_prod",
    ("", "CumSum"): "cum_sum",
    ("", "GatherElements"): "gather_elements",
    ("", "ReduceSumSquare"): "reduce_sum_square",
    ("", "ReduceLogSumExp"): "reduce_log_sum_exp",
    ("", "Equal"): "equal",
    ("", "Less"): "less",
    ("", "Greater"): "greater",
    ("", "LessOrEqual"): "less_or_equal",
    ("", "GreaterOrEqual"): "greater_or_equal",
    ("", "And"): "and",
    ("", "Or"): "or",
    ("", "Xor"): "xor",
    ("", "Not"): "not_",
    ("", "Where"): "where",
    ("", "IsNaN"): "isnan",
    ("", "Erf"): "erf",
    ("", "TopK"): "topk",
    ("", "Transpose"): "transpose",
    ("", "Gather"): "gather",
    ("", "Slice"): "slice",
    # classic-ML ops (ai.onnx.ml)
    ("ai.onnx.ml", "LinearClassifier"): "linear_classifier",
    ("ai.onnx.ml", "SVMClassifier"): "svm_classifier",
    ("ai.onnx.ml", "SVMRegressor"): "svm_regressor",
    ("ai.onnx.ml", "Normalizer"): "normalizer",
    ("ai.onnx.ml", "Scaler"): "scaler",
    ("ai.onnx.ml", "Imputer"): "imputer",
    ("ai.onnx.ml", "OneHotEncoder"): "one_hot_encoder",
    ("ai.onnx.ml", "LabelEncoder"): "label_encoder",
    ("ai.onnx.ml", "ArrayFeatureExtractor"): "array_feature_extractor",
    ("ai.onnx.ml", "LinearRegressor"): "linear_regressor",
    ("ai.onnx.ml", "TreeEnsembleRegressor"): "tree_ensemble_regressor",
    ("ai.onnx.ml", "TreeEnsembleClassifier"): "tree_ensemble_classifier",
    ("ai.onnx.ml", "TreeEnsemble"): "tree_ensemble",
    # modelport's ONNX functions (model-local; their bodies are standard ops)
    ("modelport.libsvm", "MulticlassProbability"): "multiclass_probability",
    # modelport's own ops: no ONNX body; ONNX Runtime runs them through compiler/ort_session.py
    ("modelport.text", "TokenCounts"): "token_counts",
}


def supported_ops() -> list:
    """Ops whose lowering module exists (the registry may name modules still to be written)."""
    from importlib.util import find_spec
    return sorted({(d + ":" if d else "") + op for (d, op), mod in REGISTRY.items()
                   if find_spec(f"{__name__}.{mod}") is not None})
