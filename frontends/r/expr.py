"""R expressions inside formulas (`log(x)`, `I(x^2)`, `poly(x, 2)`, `scale(x)`, ...) as ONNX.

An expression comes serialized from R (see terms.R_TERMS): symbols, numbers, calls and
lists. `evaluate` gives a double [N, k] value and the k column-name suffixes model.matrix
appends to the variable's label ("" for a plain number; "1", "2" for poly()).
"""
from __future__ import annotations

import numpy as np

from modelport.errors import UnsupportedError

UNARY = {  # R function -> ONNX op
    "log": "Log", "exp": "Exp", "sqrt": "Sqrt", "abs": "Abs",
}
SUPPORTED = ("+", "-", "*", "/", "^", "(", "I", "log", "log2", "log10", "log1p", "exp", "expm1", "sqrt",
             "abs", "poly", "scale", "offset", "ns", "bs")


def normalize(e) -> dict:
    """A serialized expression as it comes through rpy2 (one-element vectors as lists) made plain."""
    out = {"kind": e["kind"][0]}
    kind = out["kind"]
    if kind == "sym":
        out["name"] = e["name"][0]
    elif kind == "call":
        out["fn"] = e["fn"][0]
        out["args"] = [normalize(a) for a in (e.get("args") or [])]
        out["names"] = list(e.get("names") or [""] * len(out["args"]))
        if e.get("pieces"):
            out["pieces"] = e["pieces"]
    elif kind == "list":
        out["items"] = [normalize(a) for a in (e.get("items") or [])]
        out["names"] = list(e.get("names") or [""] * len(out["items"]))
    elif kind == "num":
        out["value"] = e["value"]
        out["logical"] = bool(e["logical"][0])
    elif kind == "str":
        out["value"] = e["value"]
    return out


def symbols(e) -> list:
    """The data frame columns an expression reads."""
    if e["kind"] == "sym":
        return [e["name"]]
    if e["kind"] == "call":
        out = []
        for a in _args(e):
            for s in symbols(a):
                if s not in out:
                    out.append(s)
        return out
    if e["kind"] == "list":
        return [s for item in e["items"] for s in symbols(item)]
    return []


def _args(e):
    return e["args"] if isinstance(e["args"], list) else list(e["args"].values())


def _named(e):
    """{name or position: arg}."""
    out = {}
    for i, (a, n) in enumerate(zip(_args(e), e["names"])):
        out[n or i] = a
    return out


def evaluate(frame, e, label):
    """(double [N, k] value, names) of expression e over the frame's columns."""
    return _Eval(frame, label).eval(e)


class _Eval:
    def __init__(self, frame, label):
        self.frame, self.g, self.label = frame, frame.g, label

    def fail(self, what):
        raise UnsupportedError(f"cannot translate {self.label!r} in the formula: {what}. Supported in formulas: "
                               f"numeric and factor columns, numbers, {', '.join(SUPPORTED)}")

    def number(self, e) -> float:
        if e["kind"] != "num":
            self.fail("a number was expected")
        v = np.asarray(e["value"]).reshape(-1)
        if v.size != 1:
            self.fail("a single number was expected")
        return float(v[0])

    def eval(self, e):
        g = self.g
        kind = e["kind"]
        if kind == "sym":
            return self.frame.numeric_column(e["name"]), [""]
        if kind == "num":
            return g.const(np.array([[self.number(e)]])), [""]
        if kind != "call":
            self.fail(f"unexpected {kind}")
        fn, args = e["fn"], _args(e)
        if fn in ("(", "I") and len(args) == 1:
            return self.eval(args[0])
        if fn in ("+", "-") and len(args) == 1:
            v, n = self.eval(args[0])
            return (v if fn == "+" else g.op("Neg", v)), n
        if fn in ("+", "-", "*", "/", "^") and len(args) == 2:
            return self.binary(fn, args), [""]
        if fn in UNARY and len(args) == 1:
            return g.op(UNARY[fn], self.scalar(args[0])), [""]
        if fn == "log" and len(args) == 2:
            base = self.number(args[1])
            return g.div(g.op("Log", self.scalar(args[0])), g.const(np.array([[np.log(base)]]))), [""]
        if fn in ("log2", "log10"):
            base = 2.0 if fn == "log2" else 10.0
            return g.div(g.op("Log", self.scalar(args[0])), g.const(np.array([[np.log(base)]]))), [""]
        if fn == "log1p":
            return g.op("Log", g.add(self.scalar(args[0]), g.const(np.array([[1.0]])))), [""]
        if fn == "expm1":
            return g.sub(g.op("Exp", self.scalar(args[0])), g.const(np.array([[1.0]]))), [""]
        if fn == "poly":
            return self.poly(e)
        if fn == "scale":
            return self.scale(e)
        if e.get("pieces") is not None:
            return self.spline(e)
        self.fail(f"the function {fn}() is not supported" if fn not in SUPPORTED else
                  f"{fn}() with these arguments is not supported")

    def scalar(self, e):
        v, names = self.eval(e)
        if len(names) != 1:
            self.fail("a matrix is used where one column is expected")
        return v

    def binary(self, fn, args):
        g = self.g
        if fn == "^" and args[1]["kind"] == "num":
            p = self.number(args[1])
            x = self.scalar(args[0])
            if p == 2:
                return g.mul(x, x)
            if p == 1:
                return x
            return g.op("Pow", x, g.const(np.array([[p]])))
        a, b = self.scalar(args[0]), self.scalar(args[1])
        return g.op({"+": "Add", "-": "Sub", "*": "Mul", "/": "Div", "^": "Pow"}[fn], a, b)

    def poly(self, e):
        a = _named(e)
        x_expr = a.get(0)
        if x_expr is None or 2 in a or any(isinstance(k, int) and k > 1 for k in a):
            self.fail("poly() of one variable is supported")
        degree = int(self.number(a[1] if 1 in a else a["degree"])) if (1 in a or "degree" in a) else 1
        raw = "raw" in a and bool(self.number(a["raw"]))
        g = self.g
        x = self.scalar(x_expr)
        names = [str(i) for i in range(1, degree + 1)]
        if raw:
            cols, p = [x], x
            for _ in range(degree - 1):
                p = g.mul(p, x)
                cols.append(p)
            return g.concat(cols), names
        coefs = a.get("coefs")
        if coefs is None or coefs["kind"] != "list":
            self.fail("poly() without recorded coefficients (refit the model with a current R)")
        c = {n: np.asarray(item["value"], dtype=np.float64).reshape(-1) for n, item in zip(coefs["names"], coefs["items"])}
        alpha, norm2 = c["alpha"], c["norm2"]
        # R's predict.poly: Z1 = x - alpha1; Z(i+2) = (x - alpha(i+1)) Z(i+1) - norm2(i+2)/norm2(i+1) Z(i);
        # columns scaled by 1/sqrt(norm2[-1]).
        z = [None, g.sub(x, g.const(np.array([[alpha[0]]])))]
        for i in range(1, degree):
            t = g.mul(g.sub(x, g.const(np.array([[alpha[i]]]))), z[i])
            if i >= 1 and z[i - 1] is not None:
                t = g.sub(t, g.mul(z[i - 1], g.const(np.array([[norm2[i + 1] / norm2[i]]]))))
            else:
                t = g.sub(t, g.const(np.array([[norm2[i + 1] / norm2[i]]])))
            z.append(t)
        cols = g.concat(z[1:degree + 1])
        return g.mul(cols, g.const(1.0 / np.sqrt(norm2[2:degree + 2]).reshape(1, -1))), names

    def scale(self, e):
        a = _named(e)
        g = self.g
        x = self.scalar(a[0])
        center = a.get("center", a.get(1))
        scale = a.get("scale", a.get(2))
        for what, arg in (("center", center), ("scale", scale)):
            if arg is None or (arg["kind"] == "num" and not arg.get("logical")):
                continue
            if arg["kind"] == "num" and arg.get("logical") and not self.number(arg):
                continue
            self.fail(f"scale() with {what} = TRUE but no recorded value")
        if center is not None and not center.get("logical"):
            x = g.sub(x, g.const(np.array([[self.number(center)]])))
        if scale is not None and not scale.get("logical"):
            x = g.div(x, g.const(np.array([[self.number(scale)]])))
        return x, [""]

    def spline(self, e):
        """ns()/bs(): sum over pieces of [x in piece] * polynomial(x - center) (see terms.R_TERMS)."""
        g = self.g
        p = e["pieces"]
        x = self.scalar(_args(e)[0])
        breaks = np.asarray(p["breaks"], dtype=np.float64).reshape(-1)
        centers = np.asarray(p["centers"], dtype=np.float64).reshape(1, -1)
        coef = [np.asarray(c, dtype=np.float64) for c in p["coef"]]  # per piece: [degree + 1, columns]
        n_pieces, (deg1, n_cols) = len(coef), coef[0].shape
        # [x in piece i] = [x < hi_i] - [x < lo_i] (lo_i < hi_i)
        below = g.to_double(g.op("Less", x, g.const(breaks.reshape(1, -1))))
        inside = g.sub(g.columns(below, list(range(1, n_pieces + 1))), g.columns(below, list(range(n_pieces))))
        t = g.sub(x, g.const(centers))
        term, total = inside, None
        for power in range(deg1):
            w = np.stack([c[power] for c in coef])  # [pieces, columns]
            part = g.matmul(term, g.const(w))
            total = part if total is None else g.add(total, part)
            if power + 1 < deg1:
                term = g.mul(term, t)
        nan = g.const(np.array([[np.nan]]))
        return g.op("Where", g.op("IsNaN", x), nan, total), [str(n) for n in p["names"]]
