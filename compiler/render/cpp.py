"""C++17 renderer: the tables that make kernel code C++."""
from __future__ import annotations

from ..kernel import ast as k
from .base import Renderer

F = {"f32": "float", "f64": "double"}


class CppRenderer(Renderer):
    types = {"f32": "float", "f64": "double", "i64": "int64_t", "i32": "int32_t", "bool": "bool",
             "str": "std::string", "idx": "int64_t"}
    runtime_prefix = "modelport::"
    procedures = {"text_counts": "modelport::text_counts"}
    # the runtime header each procedure needs
    headers = {"text_counts": "modelport_text.hpp"}
    math = {
        "exp": "std::exp({0})", "log": "std::log({0})", "sqrt": "std::sqrt({0})",
        "tanh": "std::tanh({0})", "floor": "std::floor({0})", "ceil": "std::ceil({0})",
        "erf": "std::erf({0})", "sin": "std::sin({0})", "cos": "std::cos({0})",
        "round_even": "std::nearbyint({0})", "isnan": "std::isnan({0})", "isinf": "std::isinf({0})",
        "abs": {"f32": "std::fabs({0})", "f64": "std::fabs({0})", "*": "std::llabs({0})"},
        "neg": "(-{0})", "not": "(!{0})",
    }
    special_floats = {
        "f32": {"nan": "std::numeric_limits<float>::quiet_NaN()",
                "inf": "std::numeric_limits<float>::infinity()",
                "-inf": "(-std::numeric_limits<float>::infinity())"},
        "f64": {"nan": "std::numeric_limits<double>::quiet_NaN()",
                "inf": "std::numeric_limits<double>::infinity()",
                "-inf": "(-std::numeric_limits<double>::infinity())"},
    }

    def minmax(self, op, a, b, dtype):
        # Name the type for integers: an int64_t value and a small literal (an int) would
        # otherwise deduce two different template arguments.
        if dtype in k.INTEGERS:
            return f"{self.runtime_prefix}k{op}<{self.types[dtype]}>({a}, {b})"
        return super().minmax(op, a, b, dtype)

    def slice(self, buf: str, offset: str) -> str:
        return f"({buf} + {offset})"

    def cast(self, e: k.Cast) -> str:
        return f"static_cast<{self.types[e.dtype]}>({self.expr(e.a)})"

    def string_equals(self, a, b, equal):
        # as views: a table's strings are C literals (two of them compare by content too)
        return f"(std::string_view({a}) {'==' if equal else '!='} std::string_view({b}))"

    def int_literal(self, value, dtype):
        if dtype in ("i64", "idx") and not -2**31 < value < 2**31:
            return f"INT64_C({value})"
        return str(value)

    def escape_char(self, ch):
        # Octal escapes have at most three digits, so a following digit is never absorbed.
        return "".join(f"\\{b:03o}" for b in ch.encode("utf-8", "surrogatepass"))
