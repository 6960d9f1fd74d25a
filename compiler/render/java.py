"""Java renderer: the tables that make kernel code Java."""
from __future__ import annotations

from ..kernel import ast as k
from .base import Renderer

BOXED = {"f32": "Float", "f64": "Double"}


class JavaRenderer(Renderer):
    types = {"f32": "float", "f64": "double", "i64": "long", "i32": "int", "bool": "boolean",
             "str": "String", "idx": "int"}
    runtime_prefix = "Kernel."
    procedures = {"text_counts": "modelport.runtime.TextCounts.run"}
    indent_unit = "    "
    math = {
        "exp": "Math.exp({0})", "log": "Math.log({0})", "sqrt": "Math.sqrt({0})",
        "tanh": "Math.tanh({0})", "floor": "Math.floor({0})", "ceil": "Math.ceil({0})",
        "erf": "Kernel.erf({0})", "sin": "Math.sin({0})", "cos": "Math.cos({0})",
        "round_even": "Math.rint({0})", "abs": "Math.abs({0})",
        "isnan": {"f32": "Float.isNaN({0})", "f64": "Double.isNaN({0})"},
        "isinf": {"f32": "Float.isInfinite({0})", "f64": "Double.isInfinite({0})"},
        "neg": "(-{0})", "not": "(!{0})",
    }
    # Math.* works in double: results narrow back to float, as C++'s float overloads give.
    narrowing = ("exp", "log", "sqrt", "tanh", "floor", "ceil", "erf", "sin", "cos", "round_even")
    special_floats = {
        "f32": {"nan": "Float.NaN", "inf": "Float.POSITIVE_INFINITY", "-inf": "Float.NEGATIVE_INFINITY"},
        "f64": {"nan": "Double.NaN", "inf": "Double.POSITIVE_INFINITY", "-inf": "Double.NEGATIVE_INFINITY"},
    }

    def call(self, e: k.Call) -> str:
        text = super().call(e)
        if e.fn in self.narrowing and e.dtype == "f32":
            return f"((float) {text})"
        return text

    def slice(self, buf: str, offset: str) -> str:
        return f"{buf}, {offset}"

    def cast(self, e: k.Cast) -> str:
        src, dst = e.a.dtype, e.dtype
        inner = self.expr(e.a)
        if src == dst or (src == "idx" and dst == "i32") or (src == "i32" and dst == "idx"):
            return inner
        if src == "bool":
            one, zero = self.literal(1, dst), self.literal(0, dst)
            return f"({inner} ? {one} : {zero})"
        if dst == "bool":
            return f"({inner} != {self.literal(0, src)})"
        return f"(({self.types[dst]}) {inner})"

    def string_equals(self, a, b, equal):
        return f"{'' if equal else '!'}{a}.equals({b})"

    def int_literal(self, value, dtype):
        return f"{value}L" if dtype == "i64" else str(value)

    def escape_char(self, ch):
        code = ord(ch)
        if code < 128:
            return f"\\{code:03o}"
        # \\u escapes are safe here: none of them decodes to a quote, a backslash or a line end.
        return "".join(f"\\u{u:04x}" for u in _utf16(ch))


def _utf16(ch):
    data = ch.encode("utf-16-le", "surrogatepass")
    return [int.from_bytes(data[i:i + 2], "little") for i in range(0, len(data), 2)]
