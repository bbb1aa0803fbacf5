"""Server-rendered SVG charts (no JavaScript): a student's totals across campaigns.

Pure: takes plain series, returns SVG markup (escaped); colours come from CSS classes
(``wellbeing/static/app.css``), so the strict CSP holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 44


@dataclass(frozen=True)
class Series:
    code: str  # css-safe instrument code
    label: str
    maximum: float
    cutoffs: tuple[float, ...]  # lower bounds of the bands above the first
    points: tuple[tuple[str, float | None], ...]  # (x label, value or None)


def trend_chart(series: list[Series], x_labels: list[str], title: str) -> Markup:
    """One line per instrument, y = share of the instrument's maximum (so PHQ-9 0–27 and
    GAD-7 0–21 share an axis), dashed lines at each band cut-off, values labelled."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(x_labels), 1)

    def x(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n)

    def y(value: float, maximum: float) -> float:
        return TOP + plot_h * (1 - (value / maximum if maximum else 0))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="trend-chart" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
    ]
    for pct in (0, 50, 100):
        yy = TOP + plot_h * (1 - pct / 100)
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end">{pct}%</text>'
        )
    for i, label in enumerate(x_labels):
        parts.append(
            f'<text class="tick" x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>'
        )
    for s_index, s in enumerate(series):
        css = f"series-{s_index % 4}"
        for cut in s.cutoffs:
            yy = y(cut, s.maximum)
            parts.append(
                f'<line class="cutoff {css}" x1="{LEFT}" y1="{yy:.1f}" x2="{WIDTH - RIGHT}" y2="{yy:.1f}"/>'
            )
        coords = [
            (x(x_labels.index(label)), y(value, s.maximum), value)
            for label, value in s.points
            if value is not None and label in x_labels
        ]
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _ in coords)
            parts.append(f'<polyline class="line {css}" points="{path}"/>')
        for cx, cy, value in coords:
            shown = f"{value:g}"
            parts.append(
                f'<circle class="dot {css}" cx="{cx:.1f}" cy="{cy:.1f}" r="4"><title>{escape(s.label)}: {shown}</title></circle>'
            )
            parts.append(
                f'<text class="value {css}" x="{cx:.1f}" y="{cy - 8:.1f}" text-anchor="middle">{shown}</text>'
            )
        ly = HEIGHT - 10
        lx = LEFT + s_index * 160
        parts.append(f'<rect class="legend {css}" x="{lx}" y="{ly - 9}" width="10" height="10"/>')
        parts.append(f'<text class="tick" x="{lx + 14}" y="{ly}">{escape(s.label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
