"""Plots for the HTML reports (parity.html, diff.html) as inline SVG text, made with matplotlib:
text stays text (no font files, nothing to fetch), labels from the model are never parsed as
TeX (a level such as "$\\frac{1$" is a label, not an error), the same figure gives the same
bytes, and no global matplotlib state is touched."""
from __future__ import annotations

import io


def svg(width: float, height: float, draw) -> str:
    """The `<svg>` element of a figure of width x height inches that `draw(figure)` fills."""
    import matplotlib
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "modelport", "font.size": 8,
                                "text.parse_math": False, "text.usetex": False}):
        fig = Figure(figsize=(width, height))
        FigureCanvasSVG(fig)
        draw(fig)
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]
