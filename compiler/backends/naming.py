"""Identifiers for generated code. Model data never becomes an identifier unsanitized."""
from __future__ import annotations

import re

DTYPE_CODE = {"f32": 0, "f64": 1, "i64": 2, "str": 3}


# Words a generated name must not be (C++ keywords and alternative tokens, and the namespaces
# the generated code uses): a model named "short" gets the namespace short_.
RESERVED = frozenset("""
alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t char16_t char32_t
class compl concept const consteval constexpr constinit const_cast continue co_await co_return co_yield
decltype default delete do double dynamic_cast else enum explicit export extern false float for friend
goto if import inline int long module mutable namespace new noexcept not not_eq nullptr operator or
or_eq private protected public register reinterpret_cast requires return short signed sizeof static
static_assert static_cast struct switch template this thread_local throw true try typedef typeid
typename union unsigned using virtual void volatile wchar_t while xor xor_eq std modelport
""".split())


def identifier(text: str, default: str = "model") -> str:
    """A lowercase C/Java-safe identifier made of [a-z0-9_] that starts with a letter and is no
    C++ keyword."""
    s = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    if not s:
        s = default
    if not s[0].isalpha():
        s = "m_" + s
    if s in RESERVED:
        s += "_"
    return s


def class_name(name: str) -> str:
    """CamelCase Java class name from a model name."""
    parts = [p for p in identifier(name).split("_") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts) or "Model"


def member_names(names: list, prefix: str) -> list:
    """Unique sanitized member names for tensors, e.g. for the typed C++ structs."""
    out, seen = [], set()
    for n in names:
        base = prefix + identifier(n, "t")
        cand, i = base, 2
        while cand in seen:
            cand, i = f"{base}_{i}", i + 1
        seen.add(cand)
        out.append(cand)
    return out


def chunks(items: list, width: int) -> list:
    return [items[i:i + width] for i in range(0, len(items), width)]
