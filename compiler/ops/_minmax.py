"""Max and Min over any number of broadcasting inputs."""
from ..kernel import ast as k
from . import _broadcast


def lower(ctx, ins, outs, pick):
    """pick(a, b) -> the kept one of two values; a NaN in any input gives NaN, as in the spec."""
    floats = outs[0].dtype in k.FLOATS

    def combine(acc, x):
        kept = pick(acc, x)
        return k.Select(k.call("isnan", x), x, kept) if floats else kept
    return _broadcast.fold(ctx, ins, outs, combine)
