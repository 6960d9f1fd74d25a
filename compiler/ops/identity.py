"""Identity, and the reshapes that keep the batch first: Reshape, Flatten, Squeeze, Unsqueeze.

https://onnx.ai/onnx/operators/onnx__Reshape.html — row-major data is unchanged, so the
output shares the input's storage; the row shape comes from the IR.
"""
ALIAS = True


def lower(ctx, node, ins, outs):
    return []
