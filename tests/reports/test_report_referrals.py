"""The referral turnaround report against figures worked out by hand (issue 16 items 1 and 7).

The data set (times UTC; the district is in Asia/Shanghai, UTC+8; period: March 2026 local):

===  ======  =====  ===========================================================  ==========
ref  school  grade  history (after sending at T0 unless said)                      state now
===  ======  =====  ===========================================================  ==========
r1   A       7      P1: ack +2h, scheduled +1d, attended, feedback +10d           feedback
r2   A       7      P1: ack +4h, scheduled +3d, missed, scheduled +6d, attended;  attended
                    feedback deadline passed
r3   A       8      P1: ack +10h, scheduled +2d, appointment not held yet         scheduled
r4   B       7      P1: ack +30h, scheduled +5d, attended, feedback +20d, closed  closed
r5   A       8      P1 declines +1h; P2 sent T0+1d, ack 2h later                  acknowledged
r6   A       7      P1 sent 2026-02-28 16:30 UTC = 1 March 00:30 local; submitted sent
                    in February
r7   A       8      P1 sent 2026-03-31 16:30 UTC = 1 April local: not in the      acknowledged
                    period; submitted 30 March
r8   C       7      P1 in the period, but school C is not in the report           sent
r9   A       7      P2: ack +6h, scheduled +4d, attended; feedback not due yet    attended
r10  A       8      (no partner)                                                  submitted
r11  A       7      a draft                                                       draft
r12  B       7      (no partner)                                                  returned
===  ======  =====  ===========================================================  ==========
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from typing import Any

import pytest

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.referrals.models import (
    Appointment,
    HealthPartner,
    Referral,
    ReferralEvent,
    ReferralState,
)
from wellbeing.reports.catalog import ReportFilters, specs
from wellbeing.reports.library import referral_turnaround as report
from wellbeing.reports.tables import publish_table

from ..factories import make_class, make_school, make_student, make_user
from .library_helpers import threshold_two  # noqa: F401 (fixture)

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
S_CLOSED, S_DECLINED = ReferralState.CLOSED, ReferralState.DECLINED
T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 4, 20, tzinfo=dt.UTC)
H, D = dt.timedelta(hours=1), dt.timedelta(days=1)
IN_MARCH = dt.datetime(2026, 3, 1, 2, tzinfo=dt.UTC)


def _referral(session: Any, world: dict[str, Any], student: Any, state: str, *,
              submitted: dt.datetime | None = IN_MARCH, partner: Any = None,
              events: tuple[tuple[str, Any, dt.datetime], ...] = (),
              appointments: tuple[tuple[dt.datetime, str | None], ...] = (),
              due_at: dt.datetime | None = None) -> Referral:  # fmt: skip
    referral = Referral(
        id=uuid.uuid4(), student_id=student.id, school_id=student.school_id,
        district_id=world["district_id"], created_by=world["user"].id, state=state,
        created_at=IN_MARCH - D, submitted_at=submitted, partner_id=partner.id if partner else None,
        declined_by=[], shared={},
        due_milestone="feedback" if due_at else None, due_at=due_at,
    )  # fmt: skip
    session.add(referral)
    session.flush()
    for to_state, by, at in events:
        session.add(ReferralEvent(id=uuid.uuid4(), referral_id=referral.id, to_state=to_state,
                                  actor="partner", at=at, partner_id=by.id))  # fmt: skip
    for scheduled_for, attendance in appointments:
        session.add(Appointment(id=uuid.uuid4(), referral_id=referral.id,
                                scheduled_for=scheduled_for, created_by=world["user"].id,
                                created_at=scheduled_for - D, attendance=attendance))  # fmt: skip
    session.flush()
    return referral


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    a, b, c = (make_school(db_session, name=n) for n in ("甲中学", "乙中学", "丙中学"))
    a7, a8, b7, c7 = (make_class(db_session, s, g) for s, g in ((a, 7), (a, 8), (b, 7), (c, 7)))
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=a)
    w: dict[str, Any] = {"a": a, "b": b, "c": c, "district_id": a.district_id, "user": user}
    p1 = HealthPartner(id=uuid.uuid4(), district_id=a.district_id, name="第一人民医院",
                       kind="hospital")  # fmt: skip
    p2 = HealthPartner(id=uuid.uuid4(), district_id=a.district_id, name="精神卫生中心",
                       kind="clinic")  # fmt: skip
    db_session.add_all([p1, p2])
    db_session.flush()
    w["p1"], w["p2"] = p1, p2

    s = {k: make_student(db_session, school, klass) for k, school, klass in (
        ("a7", a, a7), ("a8", a, a8), ("b7", b, b7), ("c7", c, c7))}  # fmt: skip
    r = _referral
    r(db_session, w, s["a7"], "feedback", partner=p1, events=(
        ("sent", p1, T0), ("acknowledged", p1, T0 + 2 * H), ("scheduled", p1, T0 + D),
        ("attended", p1, T0 + 2 * D), ("feedback", p1, T0 + 10 * D)),
      appointments=((T0 + 2 * D, "attended"),))  # fmt: skip
    r(db_session, w, s["a7"], "attended", partner=p1, events=(
        ("sent", p1, T0), ("acknowledged", p1, T0 + 4 * H), ("scheduled", p1, T0 + 3 * D),
        ("missed", p1, T0 + 4 * D), ("scheduled", p1, T0 + 6 * D),
        ("attended", p1, T0 + 7 * D)),
      appointments=((T0 + 4 * D, "missed"), (T0 + 7 * D, "attended")),
      due_at=NOW - D)  # fmt: skip
    r(db_session, w, s["a8"], "scheduled", partner=p1, events=(
        ("sent", p1, T0), ("acknowledged", p1, T0 + 10 * H), ("scheduled", p1, T0 + 2 * D)),
      appointments=((NOW + D, None),))  # fmt: skip
    r(db_session, w, s["b7"], "closed", partner=p1, events=(
        ("sent", p1, T0), ("acknowledged", p1, T0 + 30 * H), ("scheduled", p1, T0 + 5 * D),
        ("attended", p1, T0 + 6 * D), ("feedback", p1, T0 + 20 * D),
        ("closed", p1, T0 + 21 * D)),
      appointments=((T0 + 6 * D, "attended"),))  # fmt: skip
    r(db_session, w, s["a8"], "acknowledged", partner=p2, events=(
        ("sent", p1, T0), ("declined", p1, T0 + H), ("sent", p2, T0 + D),
        ("acknowledged", p2, T0 + D + 2 * H)))  # fmt: skip
    r(db_session, w, s["a7"], "sent", partner=p1,
      submitted=dt.datetime(2026, 2, 27, tzinfo=dt.UTC),
      events=(("sent", p1, dt.datetime(2026, 2, 28, 16, 30, tzinfo=dt.UTC)),))  # fmt: skip
    r(db_session, w, s["a8"], "acknowledged", partner=p1,
      submitted=dt.datetime(2026, 3, 30, tzinfo=dt.UTC),
      events=(("sent", p1, dt.datetime(2026, 3, 31, 16, 30, tzinfo=dt.UTC)),
              ("acknowledged", p1, dt.datetime(2026, 4, 1, 2, tzinfo=dt.UTC))))  # fmt: skip
    r(db_session, w, s["c7"], "sent", partner=p1, events=(("sent", p1, T0),))
    r(db_session, w, s["a7"], "attended", partner=p2, events=(
        ("sent", p2, T0), ("acknowledged", p2, T0 + 6 * H), ("scheduled", p2, T0 + 4 * D),
        ("attended", p2, T0 + 5 * D)),
      appointments=((T0 + 5 * D, "attended"),), due_at=NOW + D)  # fmt: skip
    r(db_session, w, s["a8"], "submitted")
    r(db_session, w, s["a7"], "draft", submitted=None)
    r(db_session, w, s["b7"], "returned")
    w["leader"] = build_principal(
        db_session, make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=a)
    )
    w["psych_a"] = build_principal(db_session, user)
    both = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=a)
    from wellbeing.auth.admin import grant_membership

    grant_membership(db_session, None, both, Role.PSYCH_TEACHER, school=b)
    db_session.flush()
    db_session.refresh(both)
    w["psych_ab"] = build_principal(db_session, both)
    return w


def _filters(schools: list[Any], *, district: bool, grade: int | None = None) -> ReportFilters:
    return ReportFilters(
        school_ids=tuple(s.id for s in schools), district=district, grade=grade,
        start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), campaign_id=None, tz=SHANGHAI,
        now=NOW,
    )  # fmt: skip


def _rows(table: Any) -> dict[Any, list[int]]:
    return {path: counts for path, counts in table.rows}


def _stats(table: Any, path: Any) -> list[float | None]:
    return [None if s.values.get(path) is None else round(s.values[path], 2)
            for s in table.statistics]  # fmt: skip


def test_the_report_is_in_the_catalog():
    assert specs()["referral_turnaround"].build is report.build


def test_partner_table_raw_district_view(db_session, app, world):
    with app.test_request_context():
        page = report.build(db_session, world["psych_ab"], _filters(
            [world["a"], world["b"]], district=True))  # fmt: skip
    table = page.tables[0]
    p1, p2 = (world["p1"].id,), (world["p2"].id,)
    # sent, acknowledged, first appointment given, appointments recorded, attended,
    # feedback due, feedback received
    assert _rows(table) == {p1: [6, 4, 4, 4, 3, 3, 2], p2: [2, 2, 1, 1, 1, 0, 0]}
    assert table.labels == {p1: "第一人民医院", p2: "精神卫生中心"}
    assert [path for path, _ in table.rows] == [p1, p2]  # by name
    assert table.school_ids == {world["a"].id, world["b"].id}
    assert table.row_totals is False
    # hours to ack (median, p90), days to first appointment, days to feedback
    # P1 ack [2, 4, 10, 30] h: median 7, p90 = 10 + 0.7 * 20 = 24
    # P1 appointment [1, 2, 3, 5] d: median 2.5, p90 = 3 + 0.7 * 2 = 4.4
    # P1 feedback [10, 20] d: median 15, p90 = 10 + 0.9 * 10 = 19
    assert _stats(table, p1) == [7.0, 24.0, 2.5, 4.4, 15.0, 19.0]
    # P2 ack [2, 6] h: median 4, p90 = 2 + 0.9 * 4 = 5.6; appointment [4] d; no feedback
    assert _stats(table, p2) == [4.0, 5.6, 4.0, 4.0, None, None]
    # all: ack [2, 2, 4, 6, 10, 30]: median 5, p90 = 10 + 0.5 * 20 = 20;
    # appointment [1, 2, 3, 4, 5]: median 3, p90 = 4 + 0.6 * 1 = 4.6
    assert _stats(table, ()) == [5.0, 20.0, 3.0, 4.6, 15.0, 19.0]
    # each statistic rests on the sendings that reached its step
    assert [s.basis for s in table.statistics] == [report.ACKNOWLEDGED] * 2 + [
        report.SCHEDULED] * 2 + [report.FEEDBACK] * 2  # fmt: skip
    with app.test_request_context():
        published = publish_table(world["psych_ab"], table)
    assert published.threshold is None  # the case worker of both schools
    assert [line.shares for line in published.lines] == [["75.0%", "66.7%"], ["100.0%", "—"]]
    assert published.total.values == [8, 6, 5, 5, 4, 3, 2]
    assert published.lines[0].statistics == ["7.0", "24.0", "2.5", "4.4", "15.0", "19.0"]


def test_state_table_raw_district_and_school_views(db_session, app, world):
    a, b = world["a"].id, world["b"].id
    with app.test_request_context():
        district = report.build(db_session, world["psych_ab"], _filters(
            [world["a"], world["b"]], district=True)).tables[1]  # fmt: skip
        school = report.build(db_session, world["psych_a"], _filters(
            [world["a"]], district=False)).tables[1]  # fmt: skip
        partners8, grade8 = report.build(db_session, world["psych_a"], _filters(
            [world["a"]], district=False, grade=8)).tables  # fmt: skip
    columns = [str(s) for s in report.STATE_COLUMNS]
    assert columns == ["submitted", "returned", "accepted", "sent", "acknowledged", "declined",
                       "scheduled", "attended", "missed", "feedback", "closed", "withdrawn",
                       "cancelled"]  # fmt: skip
    assert district.columns[0] == "Submitted to the centre"
    assert district.show_depth == 1
    assert _rows(district) == {
        (a,): [1, 0, 0, 0, 2, 0, 1, 2, 0, 1, 0, 0, 0],  # r10; r5, r7; r3; r2, r9; r1
        (b,): [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0],  # r12; r4
    }
    assert district.labels[(a,)] == "甲中学"
    assert school.show_depth == 2
    assert _rows(school) == {
        (a, 7): [0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0],  # r2, r9; r1
        (a, 8): [1, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0],  # r10; r5, r7; r3
    }
    assert school.labels[(a, 7)] == "Grade 7"
    assert _rows(grade8) == {(a, 8): [1, 0, 0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0]}
    # grade 8 of school A: P1 r3 (appointment not held yet) and r5 (declined); P2 r5
    assert _rows(partners8) == {
        (world["p1"].id,): [2, 1, 1, 0, 0, 0, 0], (world["p2"].id,): [1, 1, 0, 0, 0, 0, 0],
    }  # fmt: skip


@pytest.mark.usefixtures("threshold_two")
def test_a_school_leader_sees_small_partner_figures_suppressed(db_session, app, world):
    with app.test_request_context():
        page = report.build(db_session, world["leader"], _filters([world["a"]], district=False))
        table = page.tables[0]
        p1, p2 = (world["p1"].id,), (world["p2"].id,)
        # school A only: P1 r1, r2, r3, r5 (its leg), r6; P2 r5, r9
        assert _rows(table) == {p1: [5, 3, 3, 3, 2, 2, 1], p2: [2, 2, 1, 1, 1, 0, 0]}
        # P1 ack [2, 4, 10] h: median 4, p90 = 4 + 0.8 * 6 = 8.8; appointment [1, 2, 3] d
        assert _stats(table, p1) == [4.0, 8.8, 2.0, 2.8, 10.0, 10.0]
        published = publish_table(world["leader"], table)
        raw_view = publish_table(world["psych_a"], table)
    assert published.threshold == 2 and published.hidden
    assert raw_view.threshold is None and not raw_view.hidden
    by_path = {line.path: line for line in published.lines}
    # every count below 2 (and above 0) is "<2"; the rest is the raw count or hidden ("*")
    for path, counts in table.rows:
        line = by_path[path]
        for count, cell, value in zip(counts, line.cells, line.values, strict=True):
            if 0 < count < 2:
                assert cell == "<2" and value is None
            else:
                assert value in (count, None)
    # P1's one feedback is "<2" and so is the column's; P2's 0 stays shown: P1 may be any
    # number (no row totals: the columns are not parts of a whole). P2's single appointment
    # hides P1's appointment columns too (their total is published).
    assert published.body() == [
        ["第一人民医院", "5", "3", "*", "*", "*", "2", "<2", "—", "—",
         "4.0", "8.8", "—", "—", "—", "—"],
        ["精神卫生中心", "2", "2", "<2", "<2", "<2", "0", "0", "—", "—",
         "4.0", "5.6", "—", "—", "—", "—"],
        ["", "7", "5", "4", "4", "3", "2", "<2", "75.0%", "—",
         "4.0", "8.4", "2.5", "3.7", "—", "—"],
    ]  # fmt: skip
    # all partners: ack [2, 2, 4, 6, 10] h: p90 = 6 + 0.6 * 4 = 8.4; appointment [1, 2, 3, 4]
    # d: median 2.5, p90 = 3 + 0.7 * 1 = 3.7 (on the 4 sendings that reached it, shown)
    # exports are suppressed even for the case worker
    with app.test_request_context():
        exported = publish_table(world["psych_a"], table, export=True)
    assert exported.threshold == 2
    assert [line.cells for line in exported.lines] == [line.cells for line in published.lines]


def test_nothing_outside_the_period_or_the_schools(db_session, app, world):
    with app.test_request_context():
        page = report.build(db_session, world["psych_ab"], _filters(
            [world["b"]], district=True))  # fmt: skip
    # school B: r4 only (P1); r8 of school C and r7 of April are never counted
    assert _rows(page.tables[0]) == {(world["p1"].id,): [1, 1, 1, 1, 1, 1, 1]}
    assert _rows(page.tables[1]) == {(world["b"].id,): [0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]}


@pytest.mark.usefixtures("threshold_two")
def test_a_school_leader_sees_the_state_table_suppressed(db_session, app, world):
    with app.test_request_context():
        table = report.build(
            db_session, world["leader"], _filters([world["a"]], district=False)
        ).tables[1]
        published = publish_table(world["leader"], table)
    # raw: grade 7 attended 2, feedback 1; grade 8 submitted 1, acknowledged 2, scheduled 1
    assert published.body() == [
        ["甲中学", "Grade 7", "0", "0", "0", "0", "0", "0", "0", "*", "0", "<2", "0", "0", "0",
         "3"],
        ["", "Grade 8", "<2", "0", "0", "0", "2", "0", "<2", "0", "0", "0", "0", "0", "0", "4"],
        ["", "", "<2", "0", "0", "0", "2", "0", "<2", "*", "0", "<2", "0", "0", "0", "7"],
    ]  # fmt: skip


def test_headings_and_labels_in_chinese(db_session, app, world):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("zh_CN"):
        page = report.build(db_session, world["psych_a"], _filters([world["a"]], district=False))
    partners, states = page.tables
    assert partners.columns[0] == "发出转介数"
    assert partners.statistics[0].heading == "至接收小时数：中位数"
    assert states.labels[(world["a"].id, 8)] == "八年级"
    assert "submitted" not in states.columns and states.columns[0] != "Submitted to the centre"


def test_histories_written_by_the_referral_services(db_session, app, env):
    """The same figures from rows the services write (not hand-made rows): one referral
    walked to closed at partner A; one declined by A, sent to B and acknowledged there."""
    from wellbeing.db import utcnow

    from ..referrals.helpers import do, make_world, walk_to

    w = make_world(db_session, env.settings)
    walk_to(db_session, w, S_CLOSED)
    declined = walk_to(db_session, w, S_DECLINED)
    do(db_session, w, declined, "send", "centre")
    do(db_session, w, declined, "acknowledge", "partner_b")
    now = utcnow() + dt.timedelta(minutes=1)
    today = now.astimezone(SHANGHAI).date()
    filters = ReportFilters(
        school_ids=(w.school.id,), district=True, grade=None, start=today - dt.timedelta(days=1),
        end=today + dt.timedelta(days=1), campaign_id=None, tz=SHANGHAI, now=now,
    )  # fmt: skip
    with app.test_request_context():
        partners, states = report.build(db_session, w.people["sender"], filters).tables
    assert _rows(partners) == {
        (w.partner_a.id,): [2, 1, 1, 1, 1, 1, 1],  # both sent to A; one went all the way
        (w.partner_b.id,): [1, 1, 0, 0, 0, 0, 0],
    }
    ack = partners.statistics[0].values[(w.partner_a.id,)]
    assert ack is not None and 0 <= ack < 1  # moments apart, in hours
    closed, acknowledged = report.STATE_COLUMNS.index("closed"), report.STATE_COLUMNS.index(
        "acknowledged")  # fmt: skip
    row = _rows(states)[(w.school.id,)]
    assert (row[closed], row[acknowledged], sum(row)) == (1, 1, 2)
