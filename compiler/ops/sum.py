"""Sum: https://onnx.ai/onnx/operators/onnx__Sum.html (any number of broadcasting inputs)."""
from . import _broadcast


def lower(ctx, node, ins, outs):
    out = outs[0]
    loads = [_broadcast.loader(v, out) for v in ins if v is not None]

    def total(r, i):
        acc = loads[0](r, i)
        for load in loads[1:]:
            acc = acc + load(r, i)
        return acc
    return [ctx.elementwise(out, total)]
