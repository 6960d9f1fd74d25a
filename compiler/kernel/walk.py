"""Walks kernel statements: which buffers and free variables a piece of code uses."""
from __future__ import annotations

from . import ast as k


def _expr(e, bufs: dict, names: set):
    if isinstance(e, k.Load):
        bufs[e.buf.name] = e.buf
        _expr(e.index, bufs, names)
    elif isinstance(e, k.Var):
        names.add(e.name)
    elif isinstance(e, k.Bin):
        _expr(e.a, bufs, names)
        _expr(e.b, bufs, names)
    elif isinstance(e, k.Call):
        for a in e.args:
            _expr(a, bufs, names)
    elif isinstance(e, k.Cast):
        _expr(e.a, bufs, names)
    elif isinstance(e, k.Select):
        for x in (e.cond, e.a, e.b):
            _expr(x, bufs, names)


def _stmts(body, bufs: dict, names: set):
    for s in body:
        if isinstance(s, (k.Let, k.Assign)):
            names.add(s.var.name)
            _expr(s.value, bufs, names)
        elif isinstance(s, k.Store):
            bufs[s.buf.name] = s.buf
            _expr(s.index, bufs, names)
            _expr(s.value, bufs, names)
        elif isinstance(s, k.For):
            names.add(s.var.name)
            _expr(s.lo, bufs, names)
            _expr(s.hi, bufs, names)
            _stmts(s.body, bufs, names)
        elif isinstance(s, k.If):
            _expr(s.cond, bufs, names)
            _stmts(s.body, bufs, names)
            _stmts(s.orelse, bufs, names)
        elif isinstance(s, k.Invoke):
            for a in s.args:
                if isinstance(a, k.Buf):
                    bufs[a.name] = a
                elif isinstance(a, k.Slice):
                    bufs[a.buf.name] = a.buf
                    _expr(a.offset, bufs, names)
                else:
                    _expr(a, bufs, names)


def uses(body) -> tuple:
    """(buffers by name in first-use order, names of variables mentioned)."""
    bufs, names = {}, set()
    _stmts(body, bufs, names)
    return bufs, names


def procedures(body) -> set:
    """The runtime procedures (Invoke) a piece of code calls."""
    out = set()
    for s in body:
        if isinstance(s, k.Invoke):
            out.add(s.fn)
        elif isinstance(s, k.For):
            out |= procedures(s.body)
        elif isinstance(s, k.If):
            out |= procedures(s.body) | procedures(s.orelse)
    return out
