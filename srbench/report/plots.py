"""Report plots, drawn with matplotlib's object API (no pyplot global state, no display needed) and
returned as ``data:image/svg+xml`` URIs for ``<img>`` tags.

Embedding the SVG through ``<img>`` rather than inline markup means nothing in it can run as script, whatever
a model is called; matplotlib draws the labels as glyph paths anyway.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

Point = tuple[str, float, float]  # (label, x, y)


def _figure(width: float = 5.2, height: float = 3.6):  # -> (Figure, Axes)
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasSVG(fig)
    return fig, fig.add_subplot()


def _to_uri(fig) -> str:
    import matplotlib

    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": "srbench", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _scatter(ax, points: Sequence[Point]) -> None:
    import matplotlib

    colours = matplotlib.colormaps["tab10"]
    for i, (label, x, y) in enumerate(points):
        ax.scatter([x], [y], s=46, color=colours(i % 10), zorder=3, edgecolor="black", linewidth=0.5)
        ax.annotate(label, (x, y), xytext=(6, 5), textcoords="offset points", fontsize=8)
    ax.grid(True, alpha=0.3)
    ax.margins(0.18)


def perception_distortion_plot(points: Sequence[Point], title: str, perceptual: str = "LPIPS") -> str:
    """PSNR (x, higher is better: distortion falls to the right) against a lower-is-better perceptual
    metric (y, ``perceptual`` names it: LPIPS, or NIQE when the run has no LPIPS; perceptual quality rises
    downward), one point per model, after Blau & Michaeli's plane.
    Points with a non-finite coordinate are skipped (PSNR inf of an identity model)."""
    fig, ax = _figure()
    finite = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
    _scatter(ax, finite)
    ax.set_xlabel("PSNR (dB) \u2192 better")
    ax.set_ylabel(f"{perceptual} \u2190 better (lower)")
    ax.set_title(title, fontsize=10)
    return _to_uri(fig)


def quality_throughput_plot(points: Sequence[Point], title: str, quality_label: str = "PSNR (dB)") -> str:
    """Throughput (x, images/s, log scale) against quality (y), one point per model."""
    fig, ax = _figure()
    finite = [p for p in points if math.isfinite(p[1]) and p[1] > 0 and math.isfinite(p[2])]
    _scatter(ax, finite)
    if finite:
        ax.set_xscale("log")
    ax.set_xlabel("throughput (images/s, log scale) \u2192 faster")
    ax.set_ylabel(quality_label)
    ax.set_title(title, fontsize=10)
    return _to_uri(fig)
