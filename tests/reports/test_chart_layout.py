"""Issue 13 B.6, charts: every text inside the viewBox, legends that overlap neither each other
nor the plot nor the axis labels, a "no data" state and a data table (reports and screening)."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from wellbeing.core.chartlayout import Box, text_width
from wellbeing.reports import charts
from wellbeing.screening import charts as screening_charts

from ..conftest import login
from ..factories import make_school, staff_set

NAMES = st.text(
    alphabet=st.sampled_from("abcdefghij KLMNOP筛查预警危机报告热线关注"), min_size=1, max_size=40
)
MONTHS = st.integers(min_value=0, max_value=36).map(
    lambda n: [f"{2024 + (m // 12)}-{m % 12 + 1:02d}" for m in range(n)]
)


def _apart(labels) -> None:  # type: ignore[no-untyped-def]
    boxes = [label.box for label in labels]
    for i, one in enumerate(boxes):
        assert not any(one.intersects(other) for other in boxes[i + 1 :]), one


def _check(boxes: list[Box], legend: list[Box], plot: Box, width: float, height: float) -> None:
    for box in boxes:
        assert box.inside(width, height), (box, width, height)
    for i, one in enumerate(legend):
        assert not one.intersects(plot), (one, plot)
        for other in legend[i + 1 :]:
            assert not one.intersects(other), (one, other)
    axis = [b for b in boxes if b not in legend]
    for one in legend:
        assert not any(one.intersects(a) for a in axis), one


@settings(max_examples=150, deadline=None)
@given(
    months=MONTHS,
    names=st.lists(NAMES, min_size=0, max_size=6),
    top=st.integers(min_value=0, max_value=10**6),
)
def test_line_chart_texts_stay_inside_and_apart(months, names, top) -> None:  # type: ignore[no-untyped-def]
    series = {
        f"s{i}": [top * ((i + m) % 3) // 2 for m in range(len(months))] for i in range(len(names))
    }
    chart = charts.line_chart("t", months, series, {f"s{i}": n for i, n in enumerate(names)})
    legend = [e.box for e in chart.legend_entries]
    _check(chart.text_boxes(), legend, chart.plot_box(), chart.width, chart.height)
    _apart(chart.x_text)
    assert [e.css for e in chart.legend_entries] == [f"series-{i}" for i in range(len(names))]
    if months and len(months) > 1:
        assert chart.x_text[-1].text == charts._short(months[-1])  # the last label is drawn


@settings(max_examples=100, deadline=None)
@given(
    months=MONTHS,
    values=st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=36, max_size=36),
)
def test_bar_chart_texts_stay_inside(months, values) -> None:  # type: ignore[no-untyped-def]
    chart = charts.bar_chart("t", months, values[: len(months)], percent=True)
    _check(chart.text_boxes(), [], chart.plot_box(), chart.width, chart.height)
    _apart(chart.x_text)
    assert chart.empty == all(v is None for v in values[: len(months)])
    assert len(chart.rows) == len(months)


@settings(max_examples=150, deadline=None)
@given(
    campaigns=st.integers(min_value=0, max_value=24),
    instruments=st.lists(st.tuples(NAMES, st.integers(1, 60)), min_size=0, max_size=6),
    data=st.data(),
)
def test_trend_chart_texts_stay_inside_and_apart(campaigns, instruments, data) -> None:  # type: ignore[no-untyped-def]
    labels = [f"2026-{1 + i % 12:02d}-{1 + i // 12:02d}" for i in range(campaigns)]
    series = []
    for code, (name, maximum) in enumerate(instruments):
        values = data.draw(
            st.lists(st.one_of(st.none(), st.integers(0, maximum)), min_size=campaigns,
                     max_size=campaigns)
        )  # fmt: skip
        series.append(
            screening_charts.Series(
                code=f"i{code}", label=name, maximum=float(maximum), cutoffs=(maximum / 2,),
                points=tuple(zip(labels, (None if v is None else float(v) for v in values), strict=True)),
            )
        )  # fmt: skip
    layout = screening_charts.trend_layout(series, labels)
    legend = [e.box for e in layout.legend]
    _check(layout.text_boxes(), legend, layout.plot_box(), layout.width, layout.height)
    _apart(layout.x_text)
    svg = str(screening_charts.trend_chart(series, labels, "t", "没有数据"))
    if layout.empty:
        assert "没有数据" in svg and "<svg" not in svg
    else:
        height = float(re.search(r'viewBox="0 0 \d+ (\d+)"', svg).group(1))  # type: ignore[union-attr]  # present
        assert height >= max(b.bottom for b in layout.text_boxes())


def test_the_last_month_label_is_inside_the_viewbox() -> None:
    months = [f"2026-{m:02d}" for m in range(1, 13)]
    chart = charts.line_chart("t", months, {"a": [1] * 12}, {"a": "A"})
    last = chart.x_text[-1]
    assert last.text == "26-12" and last.box.right <= chart.width
    # a wide y tick widens the left margin instead of being cut off
    big = charts.line_chart("t", months, {"a": [90000] * 12}, {"a": "A"})
    assert all(t.box.x >= 0 for t in big.y_text) and big.left > charts.LEFT
    assert text_width("高一") == 22


def test_an_empty_dashboard_says_no_data_and_tables_the_figures(client, db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    login(client, users["psych_teacher"])
    page = client.get(f"/reports/school?school={school.id}").get_data(as_text=True)
    assert page.count('data-testid="chart-empty"') == 2
    assert "No data for this period yet." in page and "<polyline" not in page


def test_a_dashboard_with_figures_has_a_table_beside_each_chart() -> None:
    chart = charts.line_chart(
        "趋势", ["2026-01", "2026-02"], {"a": [1, 2], "b": [0, 3]}, {"a": "A", "b": "B"},
        x_heading="月份",
    )  # fmt: skip
    assert not chart.empty
    assert chart.head == ["月份", "A", "B"] and chart.rows == [
        ["2026-01", "1", "0"],
        ["2026-02", "2", "3"],
    ]


def test_a_chart_with_figures_has_its_table_beside_it(client, db_session, env):  # type: ignore[no-untyped-def]
    from wellbeing.auth.services import build_principal
    from wellbeing.concerns.services import create_concern

    from ..factories import make_class, make_student

    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    student = make_student(db_session, school, make_class(db_session, school))
    create_concern(
        db_session, build_principal(db_session, users["psych_teacher"]), student,
        category="mood", urgency="routine", text="情绪低落",
    )  # fmt: skip
    login(client, users["psych_teacher"])
    page = client.get(f"/reports/school?school={school.id}").get_data(as_text=True)
    assert page.count('data-testid="chart-empty"') == 1  # nothing acknowledged yet: no SLA
    assert '<details class="chart-data">' in page and "<caption>Trends by month</caption>" in page
    assert '<th scope="col">Month</th>' in page and '<th scope="col">Concerns reported</th>' in page
    assert (
        'class="legend-text">Concerns reported</text>' in page
        and "<li>" not in page.split("chart-1")[1].split("</figure>")[0]
    )
