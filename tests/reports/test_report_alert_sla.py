"""The alert SLA report (issue 16 items 1 and 7) against numbers worked out by hand.

School A (grade 7 and grade 8) and school B (grade 10); November 2026 in Shanghai; now is
1 December 00:00 UTC. Minutes from raising to acknowledging, the due time after raising, the
rung reached:

=====  =====  =====  ======  =====  ===========================================
alert  grade  due    ack     rung   outcome / bucket
=====  =====  =====  ======  =====  ===========================================
a1     A 7    60     10      0      in time, under 15 (raised 1 Nov 00:00 local)
a2     A 7    60     30      0      in time, 15-60
a3     A 7    60     90      1      late, 1-4 h
a4     A 7    4320   300     1      in time, 4-24 h
a5     A 7    60     --      0      past due, not acknowledged
a6     A 8    4320   1500    1      in time, over 24 h
a7     A 8    60     120     2      late, 1-4 h
a8     A 8    7 d    --      0      not yet due (raised 30 Nov 18:00 local)
b1     B 10   60     5       0      in time, under 15
b2     B 10   60     15      0      in time, 15-60 (exactly 15)
b3     B 10   4320   4400    3      late, over 24 h
=====  =====  =====  ======  =====  ===========================================

Not counted: an alert raised 1 minute before the period and one at its end (local midnight of
1 December), a break-glass alert, an alert of school C (not in the report).
"""

from __future__ import annotations

import datetime as dt

import pytest
from flask_babel import force_locale

from wellbeing.alerts.models import Alert, AlertState
from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.orgs.models import School
from wellbeing.reports.library import alert_sla
from wellbeing.reports.tables import publish_table

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user
from .library_helpers import NOW, filters, raw, threshold_two, utc

__all__ = ["threshold_two"]


def _alert(session, student, raised, due, ack=None, rung=0, kind="red_tier"):  # type: ignore[no-untyped-def]
    """An alert as the ladder leaves it: ``due`` and ``ack`` minutes after raising."""
    session.add(Alert(
        kind=kind, district_id=session.get(School, student.school_id).district_id,
        school_id=student.school_id, student_id=student.id, tier=3, rung=rung, raised_at=raised,
        due_at=raised + dt.timedelta(minutes=due),
        state=AlertState.ACKNOWLEDGED if ack is not None else AlertState.OPEN,
        acknowledged_at=None if ack is None else raised + dt.timedelta(minutes=ack),
    ))  # fmt: skip


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    s = db_session
    a = make_school(s, "SLA-A", "甲中学")
    b = make_school(s, "SLA-B", "乙中学")
    c = make_school(s, "SLA-C", "丙中学")
    a7 = [make_student(s, a, make_class(s, a, 7)) for _ in range(2)]
    a8 = make_student(s, a, make_class(s, a, 8))
    b10 = make_student(s, b, make_class(s, b, 10))
    c9 = make_student(s, c, make_class(s, c, 9))
    _alert(s, a7[0], utc(10, 31, 16), 60, 10, 0)  # local midnight, 1 Nov: counted
    _alert(s, a7[1], utc(11, 3, 2), 60, 30, 0)
    _alert(s, a7[0], utc(11, 4, 2), 60, 90, 1)
    _alert(s, a7[1], utc(11, 5, 2), 4320, 300, 1)
    _alert(s, a7[0], utc(11, 6, 2), 60, None, 0)
    _alert(s, a8, utc(11, 10, 2), 4320, 1500, 1)
    _alert(s, a8, utc(11, 11, 2), 60, 120, 2)
    _alert(s, a8, utc(11, 30, 10), 7 * 24 * 60)
    _alert(s, b10, utc(11, 12, 2), 60, 5, 0)
    _alert(s, b10, utc(11, 13, 2), 60, 15, 0)
    _alert(s, b10, utc(11, 14, 2), 4320, 4400, 3)
    # not counted
    _alert(s, a7[0], utc(10, 31, 15, 59), 60, 10, 0)
    _alert(s, a7[0], utc(11, 30, 16), 60, 10, 0)
    _alert(s, a7[0], utc(11, 7, 2), 60, 10, 0, kind="break_glass")
    _alert(s, c9, utc(11, 7, 2), 60, 10, 0)
    s.flush()
    return a, b


def _build(app, db_session, *args, **kwargs):  # type: ignore[no-untyped-def]
    with app.test_request_context():
        page = alert_sla.build(db_session, None, filters(*args, **kwargs))  # type: ignore[arg-type]
    return {t.key: t for t in page.tables}


def _statistics(table):  # type: ignore[no-untyped-def]
    return [dict(s.values) for s in table.statistics]


def test_district_view_by_school(app, db_session, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    tables = _build(app, db_session, a.id, b.id, district=True)
    response = tables["alert_sla.response"]
    assert response.show_depth == 1 and response.level_headings == ["School"]
    assert [p for p, _ in response.rows] == [(a.id,), (b.id,)]
    assert response.labels == {(a.id,): "甲中学", (b.id,): "乙中学"}
    # in time, late, past due, not yet due
    assert raw(response) == {(a.id,): [4, 2, 1, 1], (b.id,): [2, 1, 0, 0]}
    median, p90 = _statistics(response)
    # A: 10, 30, 90, 120, 300, 1500 -> median (90 + 120) / 2; p90 at 4.5: 300 + 0.5 * 1200
    # B: 5, 15, 4400 -> median 15; p90 at 1.8: 15 + 0.8 * 4385
    # all nine: median the 5th (90); p90 at 7.2: 1500 + 0.2 * 2900
    assert median == {(a.id,): 105.0, (b.id,): 15.0, (): 90.0}
    assert p90 == {(a.id,): 900.0, (b.id,): 3523.0, (): 2080.0}
    # under 15, 15-60, 1-4 h, 4-24 h, over 24 h, not acknowledged
    assert raw(tables["alert_sla.time_to_acknowledge"]) == {
        (a.id,): [1, 1, 2, 1, 1, 2], (b.id,): [1, 1, 0, 0, 1, 0],
    }  # fmt: skip
    assert tables["alert_sla.time_to_acknowledge"].chart == "bars"
    # first rung, second, third or higher, not acknowledged
    assert raw(tables["alert_sla.by_rung"]) == {(a.id,): [2, 3, 1, 2], (b.id,): [2, 0, 1, 0]}


def test_one_school_by_grade(app, db_session, world) -> None:  # type: ignore[no-untyped-def]
    a, _b = world
    tables = _build(app, db_session, a.id, district=False)
    response = tables["alert_sla.response"]
    assert response.show_depth == 2 and response.level_headings == ["School", "Grade"]
    assert raw(response) == {(a.id, 7): [3, 1, 1, 0], (a.id, 8): [1, 1, 0, 1]}
    assert response.labels == {(a.id,): "甲中学", (a.id, 7): "Grade 7", (a.id, 8): "Grade 8"}
    median, p90 = _statistics(response)
    # grade 7: 10, 30, 90, 300 -> median 60; p90 at 2.7: 90 + 0.7 * 210
    # grade 8: 120, 1500 -> median 810; p90 at 0.9: 120 + 0.9 * 1380
    assert median == {(a.id, 7): 60.0, (a.id, 8): 810.0, (): 105.0}
    assert p90 == {(a.id, 7): 237.0, (a.id, 8): 1362.0, (): 900.0}
    assert raw(tables["alert_sla.time_to_acknowledge"]) == {
        (a.id, 7): [1, 1, 1, 1, 0, 1], (a.id, 8): [0, 0, 1, 0, 1, 1],
    }  # fmt: skip
    assert raw(tables["alert_sla.by_rung"]) == {(a.id, 7): [2, 2, 0, 1], (a.id, 8): [0, 1, 1, 1]}
    only7 = _build(app, db_session, a.id, district=False, grade=7)["alert_sla.response"]
    assert raw(only7) == {(a.id, 7): [3, 1, 1, 0]}
    district7 = _build(app, db_session, a.id, world[1].id, district=True, grade=7)
    assert raw(district7["alert_sla.response"]) == {(a.id,): [3, 1, 1, 0], (world[1].id,): [0] * 4}


@pytest.mark.usefixtures("threshold_two")
def test_what_the_school_leader_and_the_psychology_teacher_see(  # type: ignore[no-untyped-def]
    app, db_session, env, world
) -> None:
    a, _b = world
    response = _build(app, db_session, a.id, district=False)["alert_sla.response"]
    leader = build_principal(
        db_session, make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=a)
    )
    teacher = build_principal(
        db_session, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=a)
    )
    with app.test_request_context():
        shown = publish_table(leader, response)
        plain = publish_table(teacher, response)
    assert shown.head() == [
        "School", "Grade", "Acknowledged by the due time", "Acknowledged late",
        "Not acknowledged, past the due time", "Not yet due", "Alerts raised",
        "Share acknowledged in time", "Minutes to acknowledge: median",
        "Minutes to acknowledge: 90th percentile",
    ]  # fmt: skip
    # Threshold 2: every 1 is "<2" (grade 7 [3, 1, 1, 0 | 5], grade 8 [1, 1, 0, 1 | 3],
    # school [4, 2, 1, 1 | 8]). Grade 8's row total would give its three ones together (3
    # less the visible 0) and then grade 7's in time from the column (4 - 1), so both grades'
    # totals and grade 7's in time are hidden too ("*"); the shares and statistics of a row
    # whose total is hidden are hidden ("—"). The school's line stays: its two ones share
    # the 2 left of 8 - 4 - 2.
    assert shown.body() == [
        ["甲中学", "Grade 7", "*", "<2", "<2", "0", "*", "—", "—", "—"],
        ["", "Grade 8", "<2", "<2", "0", "<2", "*", "—", "—", "—"],
        ["", "", "4", "2", "<2", "<2", "8", "50.0%", "105", "900"],
    ]
    assert plain.threshold is None
    assert plain.body() == [
        ["甲中学", "Grade 7", "3", "1", "1", "0", "5", "60.0%", "60", "237"],
        ["", "Grade 8", "1", "1", "0", "1", "3", "33.3%", "810", "1362"],
        ["", "", "4", "2", "1", "1", "8", "50.0%", "105", "900"],
    ]


def test_an_empty_period_has_no_statistics(app, db_session, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    tables = _build(app, db_session, a.id, b.id, district=True, start=dt.date(2025, 1, 1),
                    end=dt.date(2025, 1, 31))  # fmt: skip
    response = tables["alert_sla.response"]
    assert raw(response) == {(a.id,): [0, 0, 0, 0], (b.id,): [0, 0, 0, 0]}
    assert all(not s.values for s in response.statistics)


def test_chinese_headings_and_grade_labels(app, db_session, world) -> None:  # type: ignore[no-untyped-def]
    a, _b = world
    with app.test_request_context(), force_locale("zh_CN"):
        page = alert_sla.build(db_session, None, filters(a.id, district=False))  # type: ignore[arg-type]
    response = page.tables[0]
    assert page.title == "预警响应时效"
    assert response.level_headings == ["学校", "年级"]
    assert response.columns[:2] == ["按时确认", "超时确认"]
    assert response.labels[(a.id, 7)] == "七年级" and response.labels[(a.id, 8)] == "八年级"


@pytest.mark.usefixtures("threshold_two")
def test_the_report_page(client, app, db_session, env, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Through the framework's page: the school leader's one-school view, suppressed."""
    a, _b = world
    monkeypatch.setattr("wellbeing.reports.report_views.utcnow", lambda: NOW)
    login(client, make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=a))
    page = client.get(f"/reports/alert_sla?school={a.id}&start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Alert response times" in html and "Grade 8" in html
    assert "&lt;2" in html and "50.0%" in html  # the school's share in time
