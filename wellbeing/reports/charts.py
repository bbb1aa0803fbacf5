"""Server-rendered SVG charts (no JavaScript): geometry computed here, drawn by
``templates/reports/_chart.html`` with presentation attributes and CSS classes (no inline
style, so the strict CSP holds).

Every text has a box inside the viewBox (labels at the edges move inwards, crowded month labels
are thinned, the y-axis margin grows with its widest tick); the legend is drawn in rows below
the axis labels, so it never covers a series. A chart with nothing to show says so
(``empty``), and each chart carries its figures as a table (``head``/``rows``) for people who
do not see the drawing. See :mod:`wellbeing.core.chartlayout`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..core.chartlayout import Box, Label, LegendEntry, fit, legend_bottom, legend_rows, text_width
from ..core.chartlayout import x_axis_labels as _place_x_labels
from .tables import PublishedTable, ReportTable

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 10, 30
X_LABEL_Y = HEIGHT - BOTTOM + 16  # baseline of the month labels
LEGEND_TOP = HEIGHT - 4  # the legend's first row starts below the month labels


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
    height: float = HEIGHT
    bars: list[Bar] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    x_labels: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, name)
    baseline: float = HEIGHT - BOTTOM
    left: float = LEFT
    right: float = WIDTH - RIGHT
    empty: bool = False
    x_text: list[Label] = field(default_factory=list)  # the x labels as drawn
    y_text: list[Label] = field(default_factory=list)  # the y ticks as drawn
    legend_entries: list[LegendEntry] = field(default_factory=list)
    head: list[str] = field(default_factory=list)  # the data table: column headings
    rows: list[list[str]] = field(default_factory=list)  # one row per x label

    def text_boxes(self) -> list[Box]:
        """Every text's box: axis labels, ticks and legend entries (for the layout tests)."""
        return [t.box for t in self.x_text + self.y_text] + [e.box for e in self.legend_entries]

    def plot_box(self) -> Box:
        return Box(self.left, TOP, self.right - self.left, self.baseline - TOP)


def _nice_max(value: float) -> float:
    if value <= 0:  # nothing drawn (all zero or hidden): ticks 0..4, never "0 0 1 1 1"
        return 4
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 20000,
                 50000, 100000):  # fmt: skip
        if value <= step * 4:
            return step * 4
    return float(value)


def _ticks(top: float, fmt: str) -> list[tuple[float, str]]:
    plot = HEIGHT - TOP - BOTTOM
    return [(HEIGHT - BOTTOM - plot * i / 4, fmt.format(top * i / 4)) for i in range(5)]


def _short(key: str) -> str:
    return key[2:] if len(key) == 7 else key  # "2026-03" -> "26-03"


def _finish(chart: Chart) -> Chart:
    """Place the texts: y ticks right-aligned left of the plot (the margin grows to fit the
    widest), x labels inside the viewBox without overlaps, the legend in rows below."""
    widest = max((text_width(label) for _y, label in chart.y_ticks), default=0)
    shift = max(0.0, widest + 8 - chart.left)
    if shift:
        chart.left += shift
        scale = (chart.right - chart.left) / (chart.right - chart.left + shift)
        chart.x_labels = [(chart.left + (x - LEFT) * scale, t) for x, t in chart.x_labels]
        for bar in chart.bars:
            bar.x, bar.width = chart.left + (bar.x - LEFT) * scale, bar.width * scale
        for line in chart.lines:
            line.dots = [(chart.left + (x - LEFT) * scale, y, v) for x, y, v in line.dots]
            line.points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in line.dots)
    chart.y_text = [Label(chart.left - 4, y + 4, label, "end") for y, label in chart.y_ticks]
    chart.x_text = _place_x_labels(chart.x_labels, X_LABEL_Y, chart.width)
    chart.legend_entries = legend_rows(chart.legend, LEGEND_TOP, chart.left, chart.width)
    chart.height = max(HEIGHT, legend_bottom(chart.legend_entries, HEIGHT) + 6)
    return chart


def line_chart(
    title: str,
    labels: list[str],
    series: Mapping[str, Sequence[float | None]],
    names: dict[str, str],
    *,
    x_heading: str = "",
    texts: Mapping[str, Sequence[str]] | None = None,
    css: Sequence[str] = (),
) -> Chart:
    """Lines over ``labels``; a value None (hidden by suppression) breaks its line: no point is
    drawn for it, never a zero, and the data table shows its text from ``texts`` ("<10")."""
    top = _nice_max(max((v for values in series.values() for v in values if v), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(1, len(labels) - 1)
    chart = Chart(title, y_ticks=_ticks(top, "{:.0f}"))
    chart.empty = not labels or not any(v for values in series.values() for v in values)
    if texts and any(t.startswith("<") or t == "*" for ts in texts.values() for t in ts):
        chart.empty = False  # hidden numbers are something to show, as hidden
    chart.x_labels = [(LEFT + i * step, _short(k)) for i, k in enumerate(labels)]
    for index, (name, values) in enumerate(series.items()):
        css_class = css[index] if index < len(css) else f"series-{index}"
        coords: list[tuple[float, float, float]] = [
            (LEFT + i * step, HEIGHT - BOTTOM - plot_h * v / top, v)
            for i, v in enumerate(values)
            if v is not None
        ]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in coords)
        chart.lines.append(Line(names.get(name, name), css_class, points, coords))
        chart.legend.append((css_class, names.get(name, name)))
    chart.head = [x_heading, *(line.name for line in chart.lines)]

    def cell(name: str, i: int) -> str:
        if texts is not None and name in texts:
            return texts[name][i]
        value = series[name][i]
        return "—" if value is None else f"{value:g}"

    chart.rows = [[label, *(cell(name, i) for name in series)] for i, label in enumerate(labels)]
    return _finish(chart)


def bar_chart(
    title: str,
    labels: list[str],
    values: list[float | None],
    *,
    percent: bool = False,
    x_heading: str = "",
    value_heading: str = "",
) -> Chart:
    top = 1.0 if percent else _nice_max(max((v or 0 for v in values), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(labels))
    chart = Chart(
        title, y_ticks=_ticks(top * (100 if percent else 1), "{:.0f}%" if percent else "{:.0f}")
    )
    chart.empty = all(v is None for v in values)
    chart.head = [x_heading, value_heading or title]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x = LEFT + i * slot + slot * 0.15
        chart.x_labels.append((LEFT + i * slot + slot / 2, _short(label)))
        if value is None:
            chart.rows.append([label, "—"])
            continue
        height = plot_h * value / top
        shown = f"{value * 100:.0f}%" if percent else f"{value:g}"
        chart.rows.append([label, shown])
        css = "bar-ok" if not percent or value >= 0.9 else "bar-warn" if value >= 0.7 else "bar-bad"
        chart.bars.append(Bar(x, HEIGHT - BOTTOM - height, slot * 0.7, height, value, shown, css))
    return _finish(chart)


# --------------------------------------------------------------------------- report tables

MAX_GROUPS = 40  # more rows than this: the chart draws the level above (the table has them all)


@dataclass
class TableChart(Chart):
    """A report table's chart (``reports.report_views``): ``marks`` are the texts drawn where a
    number is hidden ("<10", "*"), on the axis, in place of a bar or a point."""

    marks: list[Label] = field(default_factory=list)


def _series_css(index: int, table: ReportTable | None = None) -> str:
    """The class of column ``index``: the table's own (tier colours) or the palette's."""
    if table is not None and index < len(table.column_css):
        return table.column_css[index]
    return f"series-{index % 8}"


def table_chart(published: PublishedTable) -> TableChart | None:
    """The chart of a :class:`~wellbeing.reports.tables.PublishedTable`: grouped bars, one
    group per row and one bar per column (``chart="bars"``), or one line per column over the
    months (``chart="lines"``, rows named ``(month, ...)``). A hidden number is never drawn as
    a zero: no bar (no point), and its mark on the axis; the data table shows every text."""
    table = published.table
    if table.chart == "none":
        return None
    if table.chart == "lines":
        return _lines(published)
    s = published.suppressed
    groups = [(line.path, line.values, line.cells) for line in published.lines]
    if len(groups) > MAX_GROUPS:  # the level above: a district's schools, not its classes
        seen: dict[tuple[object, ...], None] = {}
        for path, _counts in table.rows:
            seen.setdefault(path[:1], None)
        columns = range(len(table.columns))
        groups = [
            (p, [s.value((p, c)) for c in columns], [s.shown((p, c)) for c in columns])
            for p in seen
        ]
    top = _nice_max(max((v for _p, values, _t in groups for v in values if v), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(1, len(groups))
    width = slot * 0.8 / max(1, len(table.columns))
    chart = TableChart(table.title, y_ticks=_ticks(top, "{:.0f}"))
    drawn = any(v for _p, values, _t in groups for v in values)
    chart.empty = not groups or not (drawn or published.hidden)
    hidden: list[Bar] = []
    for i, (path, values, texts) in enumerate(groups):
        label = table.labels.get(path, "")
        chart.x_labels.append((LEFT + i * slot + slot / 2, fit(label, max(slot - 4, 24))))
        for c, (value, text) in enumerate(zip(values, texts, strict=True)):
            x = LEFT + i * slot + slot * 0.1 + c * width
            css = _series_css(c, table)
            if value is None:
                hidden.append(Bar(x, HEIGHT - BOTTOM, width, 0, 0, text, css))
                continue
            height = plot_h * value / top
            tip = f"{label} · {table.columns[c]}: {text}"
            chart.bars.append(Bar(x, HEIGHT - BOTTOM - height, width, height, value, tip, css))
    chart.bars.extend(hidden)
    chart.legend = [(_series_css(c, table), name) for c, name in enumerate(table.columns)]
    chart.head = [table.level_headings[0] if table.level_headings else "", *table.columns]
    chart.rows = [[table.labels.get(p, ""), *texts] for p, _values, texts in groups]
    _finish(chart)
    for bar in hidden:
        chart.bars.remove(bar)
        chart.marks.append(Label(bar.x + bar.width / 2, chart.baseline - 3, bar.label, "middle"))
    return chart


def _lines(published: PublishedTable) -> TableChart:
    table, s = published.table, published.suppressed
    months: dict[tuple[object, ...], None] = {}
    for path, _counts in table.rows:
        months.setdefault(path[:1], None)
    columns = range(len(table.columns))
    keys = [str(m[0]) for m in months]
    series = {name: [s.value((m, c)) for m in months] for c, name in enumerate(table.columns)}
    texts = {name: [s.shown((m, c)) for m in months] for c, name in enumerate(table.columns)}
    base = line_chart(
        table.title, keys, series, {n: n for n in table.columns},
        x_heading=table.level_headings[0] if table.level_headings else "", texts=texts,
        css=[_series_css(c, table) for c in columns],
    )  # fmt: skip
    chart = TableChart(**{f: getattr(base, f) for f in base.__dataclass_fields__})
    step = (WIDTH - LEFT - RIGHT) / max(1, len(keys) - 1)
    scale = (chart.right - chart.left) / (WIDTH - RIGHT - LEFT)
    for i, month in enumerate(months):
        hidden = {s.shown((month, c)) for c in columns if s.hidden((month, c))}
        marks = sorted(hidden, key=lambda text: (text == "*", text))  # "<10" before "*"
        if marks:
            x = chart.left + i * step * scale
            chart.marks.append(Label(x, chart.baseline - 3, "/".join(marks), "middle"))
    return chart
