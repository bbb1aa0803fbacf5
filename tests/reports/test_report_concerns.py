"""The concerns report against counts worked out by hand (issue 16 items 1 and 7).

The data set (times UTC; the district is in Asia/Shanghai, UTC+8; period: January and
February 2026, local dates):

==  ======  =====  ===============  =======  =================================  =========
#   school  grade  category         source   raised                             month
==  ======  =====  ===============  =======  =================================  =========
1   A       7      mood             staff    2026-01-05 02:00                   2026-01
2   A       7      mood             staff    2026-01-10 02:00                   2026-01
3   A       7      bullying         hotline  2026-01-20 02:00                   2026-01
4   A       8      family           staff    2026-01-31 16:30 = 1 Feb 00:30     2026-02
5   A       8      self_harm_signs  hotline  2026-02-14 02:00                   2026-02
6   B       7      mood             staff    2026-02-03 02:00                   2026-02
7   B       7      academic         staff    2025-12-31 15:00 = 31 Dec 23:00    (before)
8   A       7      other            staff    2026-02-28 16:30 = 1 Mar 00:30     (after)
9   C       7      mood             staff    2026-02-03 02:00                   (school C)
==  ======  =====  ===============  =======  =================================  =========

and an anonymous hotline call in February (no school: never in a school's table).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

import pytest

from wellbeing.auth.services import build_principal
from wellbeing.concerns.models import Concern, HotlineCall
from wellbeing.core.authz import Role
from wellbeing.reports.catalog import ReportFilters, specs
from wellbeing.reports.library import concerns as report
from wellbeing.reports.tables import publish_table

from ..factories import make_class, make_school, make_student, make_user
from .library_helpers import threshold_two

__all__ = ["threshold_two"]

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)


def utc(year: int, month: int, day: int, hour: int = 2, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    a, b, c = (make_school(db_session, name=n) for n in ("甲中学", "乙中学", "丙中学"))
    a7, a8, b7, c7 = (make_class(db_session, s, g) for s, g in ((a, 7), (a, 8), (b, 7), (c, 7)))
    s = {k: make_student(db_session, school, klass)
         for k, school, klass in (("a7", a, a7), ("a8", a, a8), ("b7", b, b7), ("c7", c, c7))}  # fmt: skip
    reporter = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=a)
    counsellor = make_user(db_session, env.settings, Role.COUNSELLOR)
    for student, category, source, at in (
        ("a7", "mood", "staff", utc(2026, 1, 5)),
        ("a7", "mood", "staff", utc(2026, 1, 10)),
        ("a7", "bullying", "hotline", utc(2026, 1, 20)),
        ("a8", "family", "staff", utc(2026, 1, 31, 16, 30)),
        ("a8", "self_harm_signs", "hotline", utc(2026, 2, 14)),
        ("b7", "mood", "staff", utc(2026, 2, 3)),
        ("b7", "academic", "staff", utc(2025, 12, 31, 15)),
        ("a7", "other", "staff", utc(2026, 2, 28, 16, 30)),
        ("c7", "mood", "staff", utc(2026, 2, 3)),
    ):
        concern = Concern(
            id=uuid.uuid4(), school_id=s[student].school_id, student_id=s[student].id,
            reporter_id=reporter.id, source=source, urgency="routine", state="new",
            created_at=at,
        )  # fmt: skip
        concern.category, concern.text = category, "课间情绪低落"
        db_session.add(concern)
    call = HotlineCall(
        id=uuid.uuid4(), district_id=a.district_id, counsellor_id=counsellor.id,
        called_at=utc(2026, 2, 10), duration_minutes=20, caller_type="student", anonymous=True,
        risk_level=1,
    )  # fmt: skip
    call.topics = ["mood"]
    db_session.add(call)
    db_session.flush()
    leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=a)
    return {
        "a": a, "b": b, "psych_a": build_principal(db_session, reporter),
        "leader": build_principal(db_session, leader),
        "counsellor": build_principal(db_session, counsellor),
    }  # fmt: skip


def _filters(*schools: Any, district: bool, grade: int | None = None) -> ReportFilters:
    return ReportFilters(
        school_ids=tuple(s.id for s in schools), district=district, grade=grade,
        start=dt.date(2026, 1, 1), end=dt.date(2026, 2, 28), campaign_id=None, tz=SHANGHAI,
        now=NOW,
    )  # fmt: skip


def _rows(table: Any) -> dict[Any, list[int]]:
    return {path: counts for path, counts in table.rows}


def test_the_report_is_in_the_catalog():
    assert specs()["concerns"].build is report.build


def test_month_keys_cover_the_period():
    assert report.month_keys(dt.date(2025, 11, 15), dt.date(2026, 2, 1)) == [
        "2025-11", "2025-12", "2026-01", "2026-02",
    ]  # fmt: skip


def test_district_view_raw(db_session, app, world):
    a, b = world["a"].id, world["b"].id
    with app.test_request_context():
        page = report.build(db_session, world["counsellor"], _filters(
            world["a"], world["b"], district=True))  # fmt: skip
    by_category, by_source = page.tables
    # mood, self-harm signs, behaviour, bullying, family, academic, other
    assert by_category.columns[:2] == ["Mood: low, withdrawn, tearful, anxious",
                                       "Signs of self-harm or talk of dying"]  # fmt: skip
    assert by_category.chart == "lines" and by_category.level_headings == ["Month"]
    assert _rows(by_category) == {
        ("2026-01",): [2, 0, 0, 1, 0, 0, 0],  # 1, 2; 3
        ("2026-02",): [1, 1, 0, 0, 1, 0, 0],  # 6; 5; 4
    }
    assert by_category.labels == {("2026-01",): "2026-01", ("2026-02",): "2026-02"}
    assert by_category.school_ids == {a, b}
    # staff, hotline (a call about an identified student)
    assert by_source.columns == ["Reported by staff", "Hotline call about a student"]
    assert by_source.show_depth == 1
    assert _rows(by_source) == {(a,): [3, 2], (b,): [1, 0]}
    assert by_source.labels == {(a,): "甲中学", (b,): "乙中学"}
    assert by_source.school_ids == {a, b}


def test_one_school_view_raw_by_grade(db_session, app, world):
    a = world["a"].id
    with app.test_request_context():
        by_category, by_source = report.build(
            db_session, world["psych_a"], _filters(world["a"], district=False)
        ).tables
        grade8 = report.build(
            db_session, world["psych_a"], _filters(world["a"], district=False, grade=8)
        ).tables
    assert _rows(by_category) == {
        ("2026-01",): [2, 0, 0, 1, 0, 0, 0],
        ("2026-02",): [0, 1, 0, 0, 1, 0, 0],
    }
    assert by_source.show_depth == 2
    assert _rows(by_source) == {(a, 7): [2, 1], (a, 8): [1, 1]}
    assert by_source.labels[(a, 7)] == "Grade 7"
    assert _rows(grade8[0]) == {
        ("2026-01",): [0, 0, 0, 0, 0, 0, 0],
        ("2026-02",): [0, 1, 0, 0, 1, 0, 0],
    }
    assert _rows(grade8[1]) == {(a, 8): [1, 1]}
    with app.test_request_context():
        raw = publish_table(world["psych_a"], by_source)
    assert raw.threshold is None
    assert raw.body() == [
        ["甲中学", "Grade 7", "2", "1", "3"],
        ["", "Grade 8", "1", "1", "2"],
        ["", "", "3", "2", "5"],
    ]


@pytest.mark.usefixtures("threshold_two")
def test_a_school_leader_sees_small_counts_suppressed(db_session, app, world):
    with app.test_request_context():
        by_category, by_source = report.build(
            db_session, world["leader"], _filters(world["a"], district=False)
        ).tables
        months = publish_table(world["leader"], by_category)
        sources = publish_table(world["leader"], by_source)
    assert months.threshold == 2 and months.hidden
    # raw: January [2, 0, 0, 1, 0, 0, 0] (3), February [0, 1, 0, 0, 1, 0, 0] (2)
    assert months.body() == [
        ["2026-01", "*", "0", "0", "<2", "0", "0", "0", "3"],
        ["2026-02", "0", "<2", "0", "0", "<2", "0", "0", "2"],
        ["", "*", "<2", "0", "<2", "<2", "0", "0", "5"],
    ]
    # raw: grade 7 staff 2, hotline 1; grade 8 staff 1, hotline 1
    assert sources.body() == [
        ["甲中学", "Grade 7", "*", "<2", "3"],
        ["", "Grade 8", "<2", "<2", "2"],
        ["", "", "*", "*", "5"],
    ]
    for published in (months, sources):
        lines = {line.path: line for line in published.lines}
        for path, counts in published.table.rows:
            line = lines[path[: published.table.show_depth]]
            for count, cell, value in zip(counts, line.cells, line.values, strict=True):
                if 0 < count < 2:
                    assert cell == "<2" and value is None
                else:
                    assert value in (count, None)


def test_headings_and_labels_in_chinese(db_session, app, world):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("zh_CN"):
        page = report.build(db_session, world["psych_a"], _filters(world["a"], district=False))
    by_category, by_source = page.tables
    assert by_source.columns == ["教职工上报", "热线来电（涉及具体学生）"]
    assert by_source.labels[(world["a"].id, 7)] == "七年级"
    assert by_category.title == "按类别和月份统计的关注上报"
    assert not any(code in by_category.columns for code in ("mood", "self_harm_signs", "other"))
