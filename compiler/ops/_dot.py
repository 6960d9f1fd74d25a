"""Dot products in float64 with four independent partial sums: a single running sum is a
chain of dependent additions (4 cycles each); four chains overlap."""
from ..kernel import ast as k

LANES = 4


def accumulate(ctx, s: k.Var, n: int, term) -> list:
    """Statements adding sum(term(i) for i < n) to the f64 variable `s` (term returns f64)."""
    if n < 2 * LANES:
        return [ctx.loop(n, lambda i: k.Assign(s, s + term(i)))]
    parts = [ctx.var(f"p{j}", "f64") for j in range(LANES)]
    stmts = [k.Let(p, k.Const(0.0, "f64")) for p in parts]
    stmts.append(ctx.loop(n // LANES, lambda i: [
        k.Assign(p, p + term(i * LANES + j)) for j, p in enumerate(parts)]))
    for i in range(n // LANES * LANES, n):
        stmts.append(k.Assign(parts[i % LANES], parts[i % LANES] + term(k.Const(i, "idx"))))
    stmts.append(k.Assign(s, s + ((parts[0] + parts[1]) + (parts[2] + parts[3]))))
    return stmts
