"""Server-rendered SVG charts (no JavaScript): geometry computed here, drawn by
``templates/reports/_chart.html`` with presentation attributes and CSS classes (no inline
style, so the strict CSP holds)."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 30


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: float
    label: str
    css: str


@dataclass
class Line:
    name: str
    css: str
    points: str  # "x,y x,y ..."
    dots: list[tuple[float, float, float]]  # (x, y, value)


@dataclass
class Chart:
    title: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, name)
    baseline: float = HEIGHT - BOTTOM
    left: float = LEFT
    right: float = WIDTH - RIGHT


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (
        1,
        2,
        5,
        10,
        20,
        25,
        50,
        100,
        200,
        250,
        500,
        1000,
        2000,
        5000,
        10000,
        20000,
        50000,
        100000,
    ):
        if value <= step * 4:
            return step * 4
    return float(value)


def _ticks(top: float, fmt: str) -> list[tuple[float, str]]:
    plot = HEIGHT - TOP - BOTTOM
    return [(HEIGHT - BOTTOM - plot * i / 4, fmt.format(top * i / 4)) for i in range(5)]


def _short(key: str) -> str:
    return key[2:] if len(key) == 7 else key  # "2026-03" -> "26-03"


def line_chart(
    title: str, labels: list[str], series: dict[str, list[int]], names: dict[str, str]
) -> Chart:
    top = _nice_max(max((v for values in series.values() for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)
    chart = Chart(title, y_ticks=_ticks(top, "{:.0f}"))
    chart.x_labels = [(LEFT + i * step, _short(k)) for i, k in enumerate(labels)]
    for index, (name, values) in enumerate(series.items()):
        css = f"series-{index}"
        coords = [
            (LEFT + i * step, HEIGHT - BOTTOM - plot_h * v / top, v) for i, v in enumerate(values)
        ]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        chart.lines.append(Line(names.get(name, name), css, points, coords))
        chart.legend.append((css, names.get(name, name)))
    return chart


def bar_chart(
    title: str, labels: list[str], values: list[float | None], *, percent: bool = False
) -> Chart:
    top = 1.0 if percent else _nice_max(max((v or 0 for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    chart = Chart(
        title, y_ticks=_ticks(top * (100 if percent else 1), "{:.0f}%" if percent else "{:.0f}")
    )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + i * slot + slot * 0.15
        chart.x_labels.append((LEFT + i * slot + slot / 2, _short(label)))
        if value is None:
            continue
        height = plot_h * value / top
        shown = f"{value * 100:.0f}%" if percent else f"{value:g}"
        css = "bar-ok" if not percent or value >= 0.9 else "bar-warn" if value >= 0.7 else "bar-bad"
        chart.bars.append(Bar(x, HEIGHT - BOTTOM - height, slot * 0.7, height, value, shown, css))
    return chart
