"""The loop-level kernel language: ops lower to it, the C++ and Java renderers print it.

It knows nothing of ONNX and nothing of either target language. Expressions carry their
dtype; statements are plain loops, conditionals, local variables and buffer stores.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Element types. "idx" is the index/loop-counter type (int64_t in C++, int in Java).
DTYPES = ("f32", "f64", "i64", "i32", "bool", "str", "idx")
FLOATS = ("f32", "f64")
INTEGERS = ("i64", "i32", "idx")

ARITH = ("+", "-", "*", "/", "%", "min", "max")
COMPARE = ("<", "<=", ">", ">=", "==", "!=")
LOGIC = ("&&", "||", "&", "|")  # & and | evaluate both sides: no branch
# Unary math functions every renderer must provide for f32 and f64.
MATH = ("exp", "log", "sqrt", "tanh", "abs", "floor", "ceil", "erf", "sin", "cos", "round_even",
        "isnan", "isinf", "neg", "not")


class Expr:
    dtype: str

    def _bin(self, op, other, swap=False):
        other = lit(other, self.dtype) if not isinstance(other, Expr) else other
        return Bin(op, other, self) if swap else Bin(op, self, other)

    def __add__(self, o): return self._bin("+", o)
    def __radd__(self, o): return self._bin("+", o, True)
    def __sub__(self, o): return self._bin("-", o)
    def __rsub__(self, o): return self._bin("-", o, True)
    def __mul__(self, o): return self._bin("*", o)
    def __rmul__(self, o): return self._bin("*", o, True)
    def __truediv__(self, o): return self._bin("/", o)
    def __rtruediv__(self, o): return self._bin("/", o, True)
    def __mod__(self, o): return self._bin("%", o)
    def __lt__(self, o): return self._bin("<", o)
    def __le__(self, o): return self._bin("<=", o)
    def __gt__(self, o): return self._bin(">", o)
    def __ge__(self, o): return self._bin(">=", o)
    def __neg__(self): return Call("neg", (self,), self.dtype)
    __hash__ = object.__hash__


@dataclass(eq=False)
class Const(Expr):
    value: object
    dtype: str


@dataclass(eq=False)
class Var(Expr):
    name: str
    dtype: str


@dataclass(eq=False)
class Buf:
    """A flat array: an input, an output, a scratch buffer or a constant table."""
    name: str
    dtype: str
    kind: str  # "in" | "out" | "tmp" | "const"
    data: np.ndarray | None = None  # constants only, flattened

    def __getitem__(self, index) -> "Load":
        return Load(self, as_idx(index))


@dataclass(eq=False)
class Load(Expr):
    buf: Buf
    index: Expr

    @property
    def dtype(self):
        return self.buf.dtype


@dataclass(eq=False)
class Bin(Expr):
    op: str
    a: Expr
    b: Expr

    def __post_init__(self):
        if self.a.dtype != self.b.dtype:
            if isinstance(self.b, Const):
                self.b = Const(self.b.value, self.a.dtype)
            elif isinstance(self.a, Const):
                self.a = Const(self.a.value, self.b.dtype)
            else:
                raise TypeError(f"kernel: {self.op} on {self.a.dtype} and {self.b.dtype}")

    @property
    def dtype(self):
        return "bool" if self.op in COMPARE or self.op in LOGIC else self.a.dtype


@dataclass(eq=False)
class Call(Expr):
    fn: str
    args: tuple
    dtype: str


@dataclass(eq=False)
class Cast(Expr):
    a: Expr
    dtype: str


@dataclass(eq=False)
class Select(Expr):
    cond: Expr
    a: Expr
    b: Expr

    @property
    def dtype(self):
        return self.a.dtype


class Stmt:
    pass


@dataclass(eq=False)
class Let(Stmt):
    """Declare a local variable (mutable) with an initial value."""
    var: Var
    value: Expr


@dataclass(eq=False)
class Assign(Stmt):
    var: Var
    value: Expr


@dataclass(eq=False)
class Store(Stmt):
    buf: Buf
    index: Expr
    value: Expr


@dataclass(eq=False)
class For(Stmt):
    var: Var
    lo: Expr
    hi: Expr
    body: list = field(default_factory=list)


@dataclass(eq=False)
class If(Stmt):
    cond: Expr
    body: list
    orelse: list = field(default_factory=list)


@dataclass(eq=False)
class Slice:
    """A buffer from element `offset` on, handed to a runtime procedure (Invoke)."""
    buf: Buf
    offset: Expr


@dataclass(eq=False)
class Invoke(Stmt):
    """A runtime library procedure (each renderer names it: see Renderer.procedures), called
    with expressions, constant tables (whole) and Slices. For work that is an algorithm
    rather than arithmetic (tokenizing text), written once per runtime and fed tables."""
    fn: str
    args: tuple


def lit(value, dtype: str) -> Const:
    return Const(value, dtype)


def as_idx(e) -> Expr:
    """Index expressions are of type idx; plain ints become constants."""
    if isinstance(e, Expr):
        if e.dtype == "idx":
            return e
        return Cast(e, "idx")
    return Const(int(e), "idx")


def call(fn: str, a: Expr) -> Expr:
    return Call(fn, (a,), "bool" if fn in ("isnan", "isinf") else a.dtype)


def minimum(a: Expr, b) -> Expr:
    return a._bin("min", b)


def maximum(a: Expr, b) -> Expr:
    return a._bin("max", b)


def eq(a: Expr, b) -> Expr:
    return a._bin("==", b)


def ne(a: Expr, b) -> Expr:
    return a._bin("!=", b)


def land(a: Expr, b: Expr) -> Expr:
    return Bin("&&", a, b)


def lor(a: Expr, b: Expr) -> Expr:
    return Bin("||", a, b)


def band(a: Expr, b: Expr) -> Expr:
    """Logical and of two bools without short-circuit (branch-free)."""
    return Bin("&", a, b)


def bor(a: Expr, b: Expr) -> Expr:
    """Logical or of two bools without short-circuit (branch-free)."""
    return Bin("|", a, b)


def lnot(a: Expr) -> Expr:
    return Call("not", (a,), "bool")


def idx_mul(a: Expr, b: int) -> Expr:
    """a * b for index expressions, folding constants."""
    if b == 0:
        return Const(0, "idx")
    if b == 1:
        return a
    if isinstance(a, Const):
        return Const(a.value * b, "idx")
    return Bin("*", a, Const(b, "idx"))


def idx_add(a: Expr, b: Expr) -> Expr:
    """a + b for index expressions, folding constants."""
    if isinstance(a, Const) and a.value == 0:
        return b
    if isinstance(b, Const) and b.value == 0:
        return a
    if isinstance(a, Const) and isinstance(b, Const):
        return Const(a.value + b.value, "idx")
    return Bin("+", a, b)
