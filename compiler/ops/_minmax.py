"""Max and Min over any number of broadcasting inputs."""
from ..kernel import ast as k
from . import _broadcast


def lower(ctx, ins, outs, pick):
    """pick(a, b) -> the kept one of two values; a NaN in any input gives NaN, as in the spec."""
    out = outs[0]
    loads = [_broadcast.loader(v, out) for v in ins if v is not None]

    def fold(r, i):
        acc = loads[0](r, i)
        for load in loads[1:]:
            x = load(r, i)
            acc = pick(acc, x)
            if out.dtype in k.FLOATS:
                acc = k.Select(k.call("isnan", x), x, acc)
        return acc
    return [ctx.elementwise(out, fold)]
