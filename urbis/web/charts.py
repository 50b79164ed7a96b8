"""Bar charts drawn as SVG on the server: readable without JavaScript, nothing to download.

Heights are computed with integers (minor units scaled to pixels), and every bar has a
<title> and the chart a text table beside it, so a screen reader gets the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence

from urbis.cli.money import money
from urbis.web.html import Html, esc, join, tag

PALETTE = ("#1f5fa8", "#b0531b", "#2e7d32", "#6a3d9a", "#8a6d00", "#ad1457")
"""Colours with at least 3:1 contrast against white (WCAG 1.4.11 for graphics)."""

WIDTH = 640
HEIGHT = 240
MARGIN_LEFT = 8
MARGIN_BOTTOM = 28
BAR_GAP = 6
BAR_WIDTH_MAX = 48


class ShowValue:
    """How a bar's value reads (e.g. `480.00 EUR`); a class so charts stay typed."""

    def __init__(self, decimals: int, asset: str) -> None:
        self.decimals = decimals
        self.asset = asset

    def __call__(self, value: int) -> str:
        return money(value, self.decimals, self.asset)


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    show: ShowValue,
) -> Html:
    """Grouped bars: one group per label (month), one bar per series (kind) in each group."""
    top = max([v for _, values in series for v in values] + [1])
    plot_height = HEIGHT - MARGIN_BOTTOM - 16
    groups = max(len(labels), 1)
    group_width = (WIDTH - MARGIN_LEFT) // groups
    bar_width = min(max((group_width - BAR_GAP * 2) // max(len(series), 1), 2), BAR_WIDTH_MAX)
    shapes = []
    for g, label in enumerate(labels):
        x0 = MARGIN_LEFT + g * group_width + (group_width - bar_width * len(series)) // 2
        for s, (name, values) in enumerate(series):
            value = values[g]
            height = value * plot_height // top if value > 0 else 0
            shapes.append(
                tag(
                    "rect",
                    tag("title", f"{label} · {name}: {show(value)}"),
                    x=str(x0 + s * bar_width),
                    y=str(HEIGHT - MARGIN_BOTTOM - height),
                    width=str(bar_width - 1),
                    height=str(height),
                    fill=PALETTE[s % len(PALETTE)],
                )
            )
        shapes.append(
            tag(
                "text",
                label,
                x=str(x0 + bar_width * len(series) // 2),
                y=str(HEIGHT - 8),
                text_anchor="middle",
                font_size="12",
                fill="#222",
            )
        )
    legend = join(
        tag(
            "li",
            tag("span", class_="swatch", style=f"background:{PALETTE[s % len(PALETTE)]}"),
            name,
        )
        for s, (name, _) in enumerate(series)
    )
    svg = Html(
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" '
        f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="0" y1="{HEIGHT - MARGIN_BOTTOM}" x2="{WIDTH}" y2="{HEIGHT - MARGIN_BOTTOM}" '
        f'stroke="#555"/>' + join(shapes) + "</svg>"
    )
    return tag("figure", svg, tag("ul", legend, class_="legend"), class_="chart")
