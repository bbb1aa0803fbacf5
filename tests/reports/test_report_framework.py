"""The report framework (issue 16 items 1, 3-5): filters resolved against what the viewer may
see, suppression on screen for everyone but the school's psychology teacher and always in
exports, CSV and XLSX files, the release ledger's refusal, the audit entries, the charts.

A test-only report (``framework_helpers``: students by tier) over a small fixed data set:

    school A (甲中学)     七年级(1)班: 20 green, 1 red       八年级(2)班: 15 green, 12 yellow
    school B (=cmd|...)  七年级(3)班: 12 green, 1 orange

The 1 red and the 1 orange are below any threshold the settings allow (at least 2); every
other count is at least 12 (at or above the default threshold, 10).
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import uuid

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from wellbeing.audit.queries import EXPORT_ACTIONS
from wellbeing.core.audit import AuditAction
from wellbeing.reports import charts, exports
from wellbeing.reports.models import ReportRelease
from wellbeing.reports.report_forms import default_period
from wellbeing.reports.suppression import suppress
from wellbeing.reports.tables import ReportTable, publish_table

from ..conftest import login
from ..factories import make_class, make_school, make_student, staff_set
from . import framework_helpers as demo

FORMULA_SCHOOL = "=cmd|' /c calc'!A1"


@pytest.fixture
def world(db_session, env, monkeypatch):  # type: ignore[no-untyped-def]
    demo.register(monkeypatch)
    a = make_school(db_session, name="甲中学")
    b = make_school(db_session, name=FORMULA_SCHOOL)
    users = staff_set(db_session, env.settings, a)
    a7, a8 = make_class(db_session, a, 7, "1班"), make_class(db_session, a, 8, "2班")
    b7 = make_class(db_session, b, 7, "3班")
    for klass, school, tiers in (
        (a7, a, [0] * 20 + [3]), (a8, a, [0] * 15 + [1] * 12), (b7, b, [0] * 12 + [2]),
    ):  # fmt: skip
        for tier in tiers:
            make_student(db_session, school, klass, tier=tier)
    red = db_session.scalars(
        select(demo.Student).where(demo.Student.school_id == a.id, demo.Student.tier == 3)
    ).one()
    db_session.flush()
    return {"a": a, "b": b, "users": users, "a7": a7, "red": red, "threshold":
            env.settings.suppression_threshold}  # fmt: skip


URL = f"/reports/{demo.KEY}"


def _get(client, world, role, url=URL, **args):  # type: ignore[no-untyped-def]
    with client.session_transaction() as sess:
        sess.clear()
    login(client, world["users"][role])
    return client.get(url, query_string=args)


# --------------------------------------------------------------------------- filters


def test_default_period_is_twelve_whole_months():
    assert default_period(dt.date(2026, 12, 3)) == (dt.date(2026, 1, 1), dt.date(2026, 12, 3))
    assert default_period(dt.date(2026, 3, 31)) == (dt.date(2025, 4, 1), dt.date(2026, 3, 31))


def test_filters_follow_what_the_viewer_may_see(client, world, audit_entries):  # type: ignore[no-untyped-def]
    a, b = world["a"], world["b"]

    def schools_of(role, **args):  # type: ignore[no-untyped-def]
        response = _get(client, world, role, **args)
        assert response.status_code == 200, (role, args, response.status_code)
        entry = audit_entries(AuditAction.REPORT_VIEW)[-1]
        return set(entry.detail["schools"]), entry.detail["district"]

    # school staff: their own school, its classes as rows
    assert schools_of("school_leader") == ({str(a.id)}, False)
    assert schools_of("psych_teacher", school=str(a.id)) == ({str(a.id)}, False)
    # district staff: the district (both schools here, and whatever else the database holds)
    district, is_district = schools_of("supervisor")
    assert {str(a.id), str(b.id)} <= district and is_district
    district, is_district = schools_of("counsellor")
    assert {str(a.id), str(b.id)} <= district and is_district
    # a counsellor may open one school; a supervisor (district counts only) may not
    assert schools_of("counsellor", school=str(b.id)) == ({str(b.id)}, False)
    assert _get(client, world, "supervisor", school=str(a.id)).status_code == 403
    # a school of someone else: 403 (audited); a school that does not exist: 404
    assert _get(client, world, "school_leader", school=str(b.id)).status_code == 403
    assert audit_entries(AuditAction.ACCESS_DENIED)[-1].detail["permission"] == "stats:school:view"
    assert _get(client, world, "school_leader", school=str(uuid.uuid4())).status_code == 404
    assert _get(client, world, "school_leader", school="nonsense").status_code == 404
    # grade and period reach the report
    _get(client, world, "school_leader", grade="8", start="2026-01-01", end="2026-06-30")
    entry = audit_entries(AuditAction.REPORT_VIEW)[-1]
    assert (entry.detail["grade"], entry.detail["start"], entry.detail["end"]) == (
        8, "2026-01-01", "2026-06-30")  # fmt: skip
    # nobody without statistics
    for role in ("class_teacher", "partner", "admin"):
        assert _get(client, world, role).status_code == 403, role
    assert _get(client, world, "school_leader", url="/reports/no-such-report").status_code == 404


def test_bad_dates_are_said_beside_their_field(client, world, audit_entries):  # type: ignore[no-untyped-def]
    response = _get(client, world, "school_leader", start="2026-13-45")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert 'id="start"' in page and 'aria-invalid="true"' in page
    assert "Enter a date as YYYY-MM-DD" in page and 'data-testid="report-table"' not in page
    response = _get(client, world, "school_leader", start="2026-06-01", end="2026-05-01")
    assert response.status_code == 400
    assert "The end date is before the start date." in response.get_data(as_text=True)
    assert _get(client, world, "school_leader", grade="13").status_code == 400
    assert audit_entries(AuditAction.REPORT_VIEW) == []
    # an export with bad filters downloads nothing
    bad = _get(client, world, "school_leader", url=f"{URL}.csv", start="x")
    assert bad.status_code == 400 and "attachment" not in bad.headers.get("Content-Disposition", "")


# --------------------------------------------------------------------------- suppression


def test_a_leader_sees_small_counts_hidden_the_psych_teacher_sees_them(client, world):  # type: ignore[no-untyped-def]
    n = world["threshold"]
    leader = _get(client, world, "school_leader").get_data(as_text=True)
    assert f"&lt;{n}" in leader and 'id="suppression-note"' in leader
    assert 'data-testid="named-list"' not in leader and world["red"].name not in leader
    psych = _get(client, world, "psych_teacher").get_data(as_text=True)
    assert f"&lt;{n}" not in psych and 'id="suppression-note"' not in psych
    assert 'data-testid="raw-counts-note"' in psych
    assert 'data-testid="named-list"' in psych and world["red"].name in psych
    # the district view of a counsellor: suppressed, no names
    district = _get(client, world, "counsellor").get_data(as_text=True)
    assert f"&lt;{n}" in district and world["red"].name not in district


def test_exports_are_suppressed_even_for_the_psych_teacher(client, world):  # type: ignore[no-untyped-def]
    n = world["threshold"]
    response = _get(client, world, "psych_teacher", url=f"{URL}.csv")
    assert response.status_code == 200
    text = response.data.decode("utf-8-sig")
    assert f"<{n}" in text and world["red"].name not in text


# --------------------------------------------------------------------------- files


def test_csv_has_a_bom_crlf_and_a_header_row(client, world):  # type: ignore[no-untyped-def]
    response = _get(client, world, "school_leader", url=f"{URL}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(codecs.BOM_UTF8)
    text = response.data.decode("utf-8-sig")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == ["School", "Grade", "Class", "Green", "Yellow", "Orange", "Red", "Total"]
    by_class = {row[2]: row for row in table[1:]}
    assert by_class["Grade 8, class 2"][3:] == ["15", "12", "0", "0", "27"]
    assert by_class["Grade 7, class 1"][6:] == [f"<{world['threshold']}", "21"]
    assert table[-1][0] == "Total" and table[-1][-1] == "48"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=")
    assert "filename*=UTF-8''Students-" in disposition


def test_xlsx_opens_with_numbers_marks_and_no_formula(client, world):  # type: ignore[no-untyped-def]
    n = world["threshold"]
    response = _get(client, world, "counsellor", url=f"{URL}.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    cells = [c for row in sheet.iter_rows() for c in row if c.value is not None]
    assert [c.value for c in cells if c.data_type == "f"] == []  # no formula anywhere
    school_b = [c for c in cells if isinstance(c.value, str) and "cmd|" in c.value]
    assert [c.value for c in school_b] == ["'" + FORMULA_SCHOOL]
    row_b = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "'" + FORMULA_SCHOOL)
    # school B: 12 green, 0 yellow, 1 orange, 0 red, 13 in all; the orange hidden as "<10",
    # whatever complement hides with it as "*"; the numbers shown are numbers
    assert row_b[3] == f"<{n}" and row_b[2] == 0 and row_b[5] == 13
    assert all(isinstance(v, int) or v in (f"<{n}", "*") for v in row_b[1:6])
    header = next(row for row in sheet.iter_rows(values_only=True) if row[0] == "School")
    assert list(header) == ["School", "Green", "Yellow", "Orange", "Red", "Total"]


def test_neutralise_every_formula_start():
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert exports.neutralise(text) == "'" + text
    assert exports.neutralise("甲中学") == "甲中学" and exports.neutralise("<10") == "<10"


def test_filename_is_the_title_and_the_date_with_rfc5987():
    name = exports.filename("筛查覆盖", dt.date(2026, 12, 3), "csv")
    assert name == "筛查覆盖-2026-12-03.csv"
    assert exports.filename('a/b:"c"', dt.date(2026, 12, 3), "xlsx") == "a-b-c-2026-12-03.xlsx"
    header = exports.content_disposition(name, "coverage-2026-12-03.csv")
    assert header == (
        'attachment; filename="coverage-2026-12-03.csv"; '
        "filename*=UTF-8''%E7%AD%9B%E6%9F%A5%E8%A6%86%E7%9B%96-2026-12-03.csv"
    )


# --------------------------------------------------------------------------- ledger, audit


def test_a_release_that_would_reveal_a_hidden_count_is_refused(
    client, world, db_session, audit_entries
):  # type: ignore[no-untyped-def]
    assert _get(client, world, "counsellor", url=f"{URL}.xlsx").status_code == 200
    releases = db_session.scalars(select(ReportRelease)).all()
    assert [r.scope.split(":")[:2] for r in releases] == [[demo.KEY, demo.TABLE]]
    assert releases[0].scope.split(":")[2] == str(world["a"].district_id)  # not the period
    # two more green children in school A's 七年级(1)班: 20 -> 22, beside the released 20
    for _ in range(2):
        make_student(db_session, world["a"], world["a7"])
    db_session.flush()
    refused = _get(client, world, "counsellor", url=f"{URL}.xlsx")
    assert refused.status_code == 409 and refused.mimetype == "text/html"
    assert "attachment" not in refused.headers.get("Content-Disposition", "")
    assert "cannot be released" in refused.get_data(as_text=True)
    db_session.expire_all()
    assert len(db_session.scalars(select(ReportRelease)).all()) == 1  # nothing recorded
    denied = audit_entries(AuditAction.REPORT_EXPORT)[-1]
    assert denied.outcome == "denied" and denied.detail["rule"] == "release_refused"
    # the print of the same table is refused the same way
    assert _get(client, world, "counsellor", url=f"{URL}/print").status_code == 409


def test_views_exports_and_prints_are_audited(client, world, audit_entries):  # type: ignore[no-untyped-def]
    assert {"stats:report:export", "stats:report:print"} <= set(EXPORT_ACTIONS)
    _get(client, world, "psych_teacher")
    view = audit_entries(AuditAction.REPORT_VIEW)[-1]
    assert view.object_id == demo.KEY and view.detail["students"] == [str(world["red"].id)]
    assert view.detail["suppressed"] is False and view.school_id == world["a"].id
    _get(client, world, "school_leader")
    assert audit_entries(AuditAction.REPORT_VIEW)[-1].detail["students"] == []

    assert _get(client, world, "school_leader", url=f"{URL}.csv").status_code == 200
    export = audit_entries(AuditAction.REPORT_EXPORT)[-1]
    assert export.detail["format"] == "csv" and export.outcome == "allowed"
    release = audit_entries(AuditAction.REPORT_RELEASE)[-1]
    assert export.detail["releases"][0]["hash"] == release.detail["hash"]

    printed = _get(client, world, "school_leader", url=f"{URL}/print")
    assert printed.status_code == 200
    page = printed.get_data(as_text=True)
    assert 'data-testid="print-foot"' in page and "<style" not in page
    assert audit_entries(AuditAction.REPORT_PRINT)[-1].detail["releases"][0]["table"] == demo.TABLE


def test_the_index_lists_the_reports_the_viewer_may_open(client, world):  # type: ignore[no-untyped-def]
    page = _get(client, world, "supervisor", url="/reports/").get_data(as_text=True)
    assert f'href="/reports/{demo.KEY}"' in page
    assert _get(client, world, "class_teacher", url="/reports/").status_code == 403
    home = _get(client, world, "school_leader", url="/").get_data(as_text=True)
    assert 'href="/reports/"' in home  # the menu entry


# --------------------------------------------------------------------------- charts


def _table(rows, chart="bars"):  # type: ignore[no-untyped-def]
    labels = {p: str(p[0]) for p, _ in rows}
    return ReportTable(
        key="t", title="T", level_headings=["Month" if chart == "lines" else "School"],
        columns=["a", "b"], rows=rows, labels=labels, chart=chart,
    )  # fmt: skip


def test_a_hidden_count_is_no_bar_and_a_mark_never_a_zero(app):  # type: ignore[no-untyped-def]
    rows = [(("x",), [30, 1]), (("y",), [25, 40]), (("z",), [28, 35])]
    with app.test_request_context():
        published = publish_table(None, _table(rows))
        chart = charts.table_chart(published)
    threshold = published.threshold
    assert threshold is not None and published.lines[0].cells[1] == f"<{threshold}"
    cells = [(c, line.values[c], line.cells[c]) for line in published.lines for c in range(2)]
    visible = sorted(v for _c, v, _t in cells if v is not None)
    # one bar per visible count (its column's colour), none for a hidden one: never a zero
    assert sorted(bar.value for bar in chart.bars) == visible
    assert all(bar.height > 0 for bar in chart.bars) and 1 not in visible
    assert {(bar.css, bar.value) for bar in chart.bars} == {
        (f"series-{c}", v) for c, v, _t in cells if v is not None}  # fmt: skip
    assert [m.text for m in chart.marks] == [t for _c, v, t in cells if v is None]
    assert f"<{threshold}" in [m.text for m in chart.marks]
    assert chart.rows[0] == ["x", *published.lines[0].cells]  # the data table shows the text


def test_lines_over_months_leave_a_gap_where_hidden(app):  # type: ignore[no-untyped-def]
    rows = [(("2026-01",), [30, 20]), (("2026-02",), [31, 1]), (("2026-03",), [33, 22])]
    with app.test_request_context():
        published = publish_table(None, _table(rows, chart="lines"))
        chart = charts.table_chart(published)
    assert [line.name for line in chart.lines] == ["a", "b"]
    assert all(v != 1 for line in chart.lines for _x, _y, v in line.dots)
    assert any(m.text.startswith("<") for m in chart.marks)
    assert chart.rows[1][2] == published.suppressed.shown(((("2026-02",)), 1))


def test_suppress_module_agrees_with_the_framework_threshold(app):  # type: ignore[no-untyped-def]
    with app.test_request_context():
        published = publish_table(None, _table([(("x",), [30, 1]), (("y",), [25, 40])]))
    again = suppress([(("x",), [30, 1]), (("y",), [25, 40])], 2, threshold=published.threshold or 0)
    assert again.published() == published.suppressed.published()


def test_release_scopes_are_codes_the_audit_accepts():
    from wellbeing.core.audit import _SAFE_TEXT
    from wellbeing.reports.report_services import release_scope

    filters = type("F", (), {"campaign_id": None})()
    district = str(uuid.uuid4())
    long_key = "referral_turnaround"
    scope = release_scope(demo.DEMO, f"{demo.KEY}.by_tier", filters, district)  # type: ignore[arg-type]
    assert scope == f"{demo.KEY}.by_tier:{district}"
    spec = type("S", (), {"key": long_key})()
    scope = release_scope(spec, f"{long_key}.by_partner_and_state_and_more", filters, district)  # type: ignore[arg-type]
    assert _SAFE_TEXT.match(scope) and scope.endswith(district) and len(scope) <= 80
