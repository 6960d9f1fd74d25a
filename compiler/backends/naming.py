"""Identifiers for generated code. Model data never becomes an identifier unsanitized."""
from __future__ import annotations

import re

DTYPE_CODE = {"f32": 0, "f64": 1, "i64": 2, "str": 3}


def identifier(text: str, default: str = "model") -> str:
    """A lowercase C/Java-safe identifier made of [a-z0-9_] that starts with a letter."""
    s = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()
    if not s:
        s = default
    if not s[0].isalpha():
        s = "m_" + s
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
