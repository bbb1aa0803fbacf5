"""Server-rendered SVG charts (no JavaScript): a student's totals across campaigns.

Pure: takes plain series, returns SVG markup (escaped); colours come from CSS classes
(``wellbeing/static/charts.css``), so the strict CSP holds. The layout (:func:`trend_layout`)
keeps every text inside the viewBox and puts the legend in rows below the axis labels, so it
never covers a line or a value (see :mod:`wellbeing.core.chartlayout`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape

from markupsafe import Markup

from ..core.chartlayout import FONT, Box, Label, LegendEntry, legend_bottom, legend_rows
from ..core.chartlayout import x_axis_labels as _place_x_labels

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 44
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
X_LABEL_Y = TOP + PLOT_H + 16
LEGEND_TOP = X_LABEL_Y + 8


@dataclass(frozen=True)
class Series:
    code: str  # css-safe instrument code
    label: str
    maximum: float
    cutoffs: tuple[float, ...]  # lower bounds of the bands above the first
    points: tuple[tuple[str, float | None], ...]  # (x label, value or None)


@dataclass
class Drawn:
    """One series as drawn: its css class, dots (x, y, value) and value labels."""

    series: Series
    css: str
    dots: list[tuple[float, float, float]]
    values: list[Label]
    cutoffs: list[float]  # y of each cut-off line


@dataclass
class TrendLayout:
    width: int = WIDTH
    height: float = HEIGHT
    drawn: list[Drawn] = field(default_factory=list)
    y_text: list[Label] = field(default_factory=list)
    x_text: list[Label] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(d.dots for d in self.drawn)

    def text_boxes(self) -> list[Box]:
        """Every text's box: ticks, axis labels, value labels and legend entries."""
        values = [v.box for d in self.drawn for v in d.values]
        return [t.box for t in self.y_text + self.x_text] + values + [e.box for e in self.legend]

    def plot_box(self) -> Box:
        return Box(LEFT, TOP, PLOT_W, PLOT_H)


def trend_layout(series: list[Series], x_labels: list[str]) -> TrendLayout:
    """One line per instrument, y = share of the instrument's maximum (so PHQ-9 0–27 and
    GAD-7 0–21 share an axis), a dashed line at each band cut-off, values labelled."""
    n = max(len(x_labels), 1)

    def x(i: int) -> float:
        return LEFT + (PLOT_W * (i + 0.5) / n)

    def y(value: float, maximum: float) -> float:
        return TOP + PLOT_H * (1 - (min(max(value / maximum, 0.0), 1.0) if maximum else 0))

    layout = TrendLayout()
    layout.y_text = [
        Label(LEFT - 6, TOP + PLOT_H * (1 - pct / 100) + 4, f"{pct}%", "end")
        for pct in (0, 50, 100)
    ]
    layout.x_text = _place_x_labels([(x(i), t) for i, t in enumerate(x_labels)], X_LABEL_Y, WIDTH)
    for s_index, s in enumerate(series):
        css = f"series-{s_index % 4}"
        dots = [
            (x(x_labels.index(label)), y(value, s.maximum), value)
            for label, value in s.points
            if value is not None and label in x_labels
        ]
        # A value's label sits above its dot, but never above the top of the viewBox.
        values = [Label(cx, max(cy - 8, FONT + 1), f"{value:g}") for cx, cy, value in dots]
        cuts = [y(cut, s.maximum) for cut in s.cutoffs]
        layout.drawn.append(Drawn(s, css, dots, values, cuts))
    entries = [(d.css, d.series.label) for d in layout.drawn]
    layout.legend = legend_rows(entries, LEGEND_TOP, LEFT, WIDTH)
    layout.height = max(HEIGHT, legend_bottom(layout.legend, HEIGHT) + 6)
    return layout


def _text(label: Label, css: str) -> str:
    return (
        f'<text class="{css}" x="{label.x:.1f}" y="{label.y:.1f}" '
        f'text-anchor="{label.anchor}">{escape(label.text)}</text>'
    )


def trend_chart(
    series: list[Series], x_labels: list[str], title: str, empty: str = "No data yet."
) -> Markup:
    """The chart's SVG, or a paragraph saying ``empty`` when there is no value to draw."""
    layout = trend_layout(series, x_labels)
    if layout.empty:
        return Markup('<p class="chart-empty" data-testid="chart-empty">{}</p>').format(empty)
    bottom = TOP + PLOT_H
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {layout.height:.0f}" '
        f'class="trend-chart" role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{WIDTH - RIGHT}" y2="{bottom}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>',
    ]
    parts += [_text(t, "tick") for t in layout.y_text + layout.x_text]
    for d in layout.drawn:
        parts += [
            f'<line class="cutoff {d.css}" x1="{LEFT}" y1="{cy:.1f}" x2="{WIDTH - RIGHT}" y2="{cy:.1f}"/>'
            for cy in d.cutoffs
        ]
        if len(d.dots) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _ in d.dots)
            parts.append(f'<polyline class="line {d.css}" points="{path}"/>')
        for (cx, cy, value), label in zip(d.dots, d.values, strict=True):
            parts.append(
                f'<circle class="dot {d.css}" cx="{cx:.1f}" cy="{cy:.1f}" r="4">'
                f"<title>{escape(d.series.label)}: {value:g}</title></circle>"
            )
            parts.append(_text(label, f"value {d.css}"))
    for e in layout.legend:
        s = e.swatch
        parts.append(
            f'<rect class="legend {e.css}" x="{s.x:.1f}" y="{s.y:.1f}" width="{s.width:g}" '
            f'height="{s.height:g}" rx="2"/>'
        )
        parts.append(_text(e.text, "legend-text"))
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
