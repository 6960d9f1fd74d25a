"""Prints kernel statements as C-family source. Languages differ only in their tables."""
from __future__ import annotations

import numpy as np

from ..kernel import ast as k


class Renderer:
    """Subclasses fill in the tables and the few methods whose shape differs."""

    types: dict = {}
    # runtime procedures (kernel Invoke): kernel name -> this runtime's function
    procedures: dict = {}
    # fn -> {dtype: template}; {0} is the argument
    math: dict = {}
    indent_unit = "  "

    # ---- expressions -------------------------------------------------------------
    def expr(self, e: k.Expr) -> str:
        if isinstance(e, k.Const):
            return self.literal(e.value, e.dtype)
        if isinstance(e, k.Var):
            return e.name
        if isinstance(e, k.Load):
            return f"{e.buf.name}[{self.index(e.index)}]"
        if isinstance(e, k.Bin):
            return self.binary(e)
        if isinstance(e, k.Call):
            return self.call(e)
        if isinstance(e, k.Cast):
            return self.cast(e)
        if isinstance(e, k.Select):
            return f"({self.expr(e.cond)} ? {self.expr(e.a)} : {self.expr(e.b)})"
        raise TypeError(f"cannot render {e!r}")

    def index(self, e: k.Expr) -> str:
        return self.expr(e)

    def binary(self, e: k.Bin) -> str:
        a, b = self.expr(e.a), self.expr(e.b)
        if e.op in ("min", "max"):
            return self.minmax(e.op, a, b, e.dtype)
        if e.op in ("==", "!=") and e.a.dtype == "str":
            return self.string_equals(a, b, e.op == "==")
        return f"({a} {e.op} {b})"

    def minmax(self, op, a, b, dtype):
        # Runtime helpers give NaN and signed zeros the same meaning in every language.
        return f"{self.runtime_prefix}k{op}({a}, {b})"

    def call(self, e: k.Call) -> str:
        fn = e.fn
        arg = e.args[0]
        tmpl = self.math[fn]
        if isinstance(tmpl, dict):
            tmpl = tmpl.get(arg.dtype, tmpl.get("*"))
        return tmpl.format(self.expr(arg))

    # ---- statements --------------------------------------------------------------
    def stmts(self, body, depth: int) -> list[str]:
        out = []
        for s in body:
            out.extend(self.stmt(s, depth))
        return out

    def stmt(self, s: k.Stmt, depth: int) -> list[str]:
        pad = self.indent_unit * depth
        if isinstance(s, k.Let):
            return [f"{pad}{self.types[s.var.dtype]} {s.var.name} = {self.expr(s.value)};"]
        if isinstance(s, k.Assign):
            return [f"{pad}{s.var.name} = {self.expr(s.value)};"]
        if isinstance(s, k.Store):
            return [f"{pad}{s.buf.name}[{self.index(s.index)}] = {self.expr(s.value)};"]
        if isinstance(s, k.For):
            v = s.var.name
            head = (f"{pad}for ({self.types['idx']} {v} = {self.expr(s.lo)}; {v} < {self.expr(s.hi)}; ++{v}) {{")
            return [head, *self.stmts(s.body, depth + 1), f"{pad}}}"]
        if isinstance(s, k.Invoke):
            args = ", ".join(self.argument(a) for a in s.args)
            return [f"{pad}{self.procedures[s.fn]}({args});"]
        if isinstance(s, k.If):
            lines = [f"{pad}if ({self.expr(s.cond)}) {{", *self.stmts(s.body, depth + 1)]
            if s.orelse:
                lines += [f"{pad}}} else {{", *self.stmts(s.orelse, depth + 1)]
            return lines + [f"{pad}}}"]
        raise TypeError(f"cannot render statement {s!r}")

    def argument(self, a) -> str:
        """An Invoke argument: a whole table, a buffer slice, or an expression."""
        if isinstance(a, k.Buf):
            return a.name
        if isinstance(a, k.Slice):
            return self.slice(a.buf.name, self.index(a.offset))
        return self.expr(a)

    # ---- literals ----------------------------------------------------------------
    def literal(self, value, dtype: str) -> str:
        if dtype in k.FLOATS:
            return self.float_literal(value, dtype)
        if dtype == "bool":
            return "true" if value else "false"
        if dtype == "str":
            return self.string_literal(str(value))
        return self.int_literal(int(value), dtype)

    def float_literal(self, value, dtype: str) -> str:
        v = np.float32(value) if dtype == "f32" else np.float64(value)
        if np.isnan(v):
            return self.special_floats[dtype]["nan"]
        if np.isinf(v):
            return self.special_floats[dtype]["inf" if v > 0 else "-inf"]
        text = repr(float(v)) if dtype == "f64" else str(v)  # both print the shortest exact form
        if "." not in text and "e" not in text and "inf" not in text:
            text += ".0"
        return text + ("f" if dtype == "f32" else "")

    def int_literal(self, value: int, dtype: str) -> str:
        return str(value)

    def string_literal(self, text: str) -> str:
        """Escape for a C-family double-quoted literal; never emits a unicode escape."""
        out = ['"']
        for ch in text:
            code = ord(ch)
            if ch == "\\":
                out.append("\\\\")
            elif ch == '"':
                out.append('\\"')
            elif 32 <= code < 127:
                out.append(ch)
            else:
                out.append(self.escape_char(ch))
        out.append('"')
        return "".join(out)
