"""Gathers that cannot read outside their table.

TVM's ONNX importer writes Gather as `take(..., mode="fast")`, which reads out of bounds (and
may crash the process) on an index outside the table, e.g. a token id beyond an embedding's
vocabulary in a CSV row. This rewrites them to mode="clip": an index outside the table reads
its first or last row instead, and the artifact keeps running. In-range indices (negative
ones are normalized by the importer before the take) give the same values.
"""
from __future__ import annotations


def clip_takes(mod):
    import tvm
    from tvm import relax
    from tvm.relax.expr_functor import PyExprMutator, mutator

    @mutator
    class ClipTakes(PyExprMutator):
        def visit_call_(self, call):
            call = super().visit_call_(call)
            if isinstance(call.op, tvm.ir.Op) and call.op.name == "relax.take" and call.attrs.mode == "fast":
                return relax.op.take(call.args[0], call.args[1], axis=call.attrs.axis, mode="clip")
            return call

    for gv, func in list(mod.functions.items()):
        if isinstance(func, relax.Function):
            mod[gv] = ClipTakes(mod).visit_expr(func)
    return mod
