"""The completion report (issue 16 items 1 and 7) against numbers worked out by hand.

November 2026 in Shanghai (UTC+8); now is 20 November 00:00 UTC (08:00 local, the local date
is 20 November). School A has grades 7 and 8, school B grade 10.

Follow-ups (due and done times UTC):

====  =====  ==============  ===================  ==========================
      grade  due             state / done         column
====  =====  ==============  ===================  ==========================
f1    A 7    5 Nov 02:00     done 5 Nov 01:00     on time
f2    A 7    6 Nov 02:00     done 6 Nov 02:00     on time (exactly due)
f3    A 7    7 Nov 02:00     done 8 Nov 02:00     late
f4    A 7    8 Nov 02:00     overdue              overdue
f5    A 7    9 Nov 02:00     cancelled            not counted
f6    A 8    10 Nov 02:00    open                 overdue (scan not run yet)
f7    A 8    25 Nov 02:00    open                 not yet due
f8    A 8    12 Nov 02:00    done 11 Nov 02:00    on time
f9    A 8    3 Nov 02:00     done 13 Nov 02:00    late
f10   B 10   30 Nov 15:00    open                 not yet due (23:00 local)
f11   B 10   31 Oct 15:00    done                 before the period
f12   B 10   30 Nov 16:00    open                 after the period (local 1 Dec)
f13   B 10   2 Nov 02:00     done 1 Nov 02:00     on time
====  =====  ==============  ===================  ==========================

Plan tasks (due dates local; done times UTC):

====  =====  ======  ======================  ==================================
t1    A 7    5 Nov   done 5 Nov 15:00        on time (23:00 local on 5 Nov)
t2    A 7    5 Nov   done 5 Nov 16:30        late (00:30 local on 6 Nov)
t3    A 7    10 Nov  open                    overdue
t4    A 7    20 Nov  open                    not yet due (due today)
t5    A 7    6 Nov   cancelled               not counted
t6    A 8    19 Nov  open                    overdue
t7    A 8    1 Nov   done 31 Oct 17:00       on time (01:00 local on 1 Nov)
t8    A 8    31 Oct  open                    before the period
t9    A 8    1 Dec   open                    after the period
t10   B 10   30 Nov  open                    not yet due
t11   B 10   15 Nov  done 16 Nov 02:00       late
====  =====  ======  ======================  ==================================

School C's follow-up and task are not in the report.
"""

from __future__ import annotations

import datetime as dt

import pytest

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.followups.models import FollowUp
from wellbeing.plans.models import PlanTask
from wellbeing.reports.library import completion
from wellbeing.reports.tables import publish_table

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user
from .library_helpers import filters, raw, threshold_two, utc

__all__ = ["threshold_two"]
NOW = utc(11, 20)


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    s = db_session
    a, b, c = (make_school(s, f"CMP-{x}", name) for x, name in
               (("A", "甲中学"), ("B", "乙中学"), ("C", "丙中学")))  # fmt: skip
    a7 = make_student(s, a, make_class(s, a, 7))
    a8 = make_student(s, a, make_class(s, a, 8))
    b10 = make_student(s, b, make_class(s, b, 10))
    c9 = make_student(s, c, make_class(s, c, 9))
    owner = make_user(s, env.settings, Role.PSYCH_TEACHER, school=a)

    def followup(student, due, state, done=None):  # type: ignore[no-untyped-def]
        s.add(FollowUp(student_id=student.id, school_id=student.school_id, owner_id=owner.id,
                       due_at=due, source="manual", state=state, completed_at=done))  # fmt: skip

    followup(a7, utc(11, 5, 2), "done", utc(11, 5, 1))
    followup(a7, utc(11, 6, 2), "done", utc(11, 6, 2))
    followup(a7, utc(11, 7, 2), "done", utc(11, 8, 2))
    followup(a7, utc(11, 8, 2), "overdue")
    followup(a7, utc(11, 9, 2), "cancelled")
    followup(a8, utc(11, 10, 2), "open")
    followup(a8, utc(11, 25, 2), "open")
    followup(a8, utc(11, 12, 2), "done", utc(11, 11, 2))
    followup(a8, utc(11, 3, 2), "done", utc(11, 13, 2))
    followup(b10, utc(11, 30, 15), "open")
    followup(b10, utc(10, 31, 15), "done", utc(10, 31, 14))
    followup(b10, utc(11, 30, 16), "open")
    followup(b10, utc(11, 2, 2), "done", utc(11, 1, 2))
    followup(c9, utc(11, 2, 2), "done", utc(11, 1, 2))

    def task(student, due, state, done=None):  # type: ignore[no-untyped-def]
        row = PlanTask(student_id=student.id, school_id=student.school_id, kind="plan_action",
                       state=state, due_date=due, done_at=done)  # fmt: skip
        row.title = "任务"
        s.add(row)

    nov = lambda day: dt.date(2026, 11, day)  # noqa: E731
    task(a7, nov(5), "done", utc(11, 5, 15))
    task(a7, nov(5), "done", utc(11, 5, 16, 30))
    task(a7, nov(10), "open")
    task(a7, nov(20), "open")
    task(a7, nov(6), "cancelled")
    task(a8, nov(19), "open")
    task(a8, nov(1), "done", utc(10, 31, 17))
    task(a8, dt.date(2026, 10, 31), "open")
    task(a8, dt.date(2026, 12, 1), "open")
    task(b10, nov(30), "open")
    task(b10, nov(15), "done", utc(11, 16, 2))
    task(c9, nov(15), "open")
    s.flush()
    return a, b


def _build(app, db_session, *args, **kwargs):  # type: ignore[no-untyped-def]
    with app.test_request_context():
        page = completion.build(db_session, None, filters(*args, now=NOW, **kwargs))  # type: ignore[arg-type]
    return {t.key: t for t in page.tables}


def test_district_view_by_school(app, db_session, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    tables = _build(app, db_session, a.id, b.id, district=True)
    followups, tasks = tables["completion.followups"], tables["completion.plan_tasks"]
    assert followups.show_depth == 1 and [p for p, _ in followups.rows] == [(a.id,), (b.id,)]
    # on time, late, overdue, not yet due
    assert raw(followups) == {(a.id,): [3, 2, 2, 1], (b.id,): [1, 0, 0, 1]}
    assert raw(tasks) == {(a.id,): [2, 1, 2, 1], (b.id,): [0, 1, 0, 1]}
    assert tasks.labels == {(a.id,): "甲中学", (b.id,): "乙中学"}


def test_one_school_by_grade(app, db_session, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    tables = _build(app, db_session, a.id, district=False)
    followups, tasks = tables["completion.followups"], tables["completion.plan_tasks"]
    assert followups.show_depth == 2
    assert raw(followups) == {(a.id, 7): [2, 1, 1, 0], (a.id, 8): [1, 1, 1, 1]}
    assert raw(tasks) == {(a.id, 7): [1, 1, 1, 1], (a.id, 8): [1, 0, 1, 0]}
    assert tasks.labels == {(a.id,): "甲中学", (a.id, 7): "Grade 7", (a.id, 8): "Grade 8"}
    grade8 = _build(app, db_session, a.id, b.id, district=True, grade=8)
    assert raw(grade8["completion.followups"]) == {(a.id,): [1, 1, 1, 1], (b.id,): [0, 0, 0, 0]}
    assert raw(grade8["completion.plan_tasks"]) == {(a.id,): [1, 0, 1, 0], (b.id,): [0] * 4}


@pytest.mark.usefixtures("threshold_two")
def test_what_the_school_leader_sees(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    tables = _build(app, db_session, a.id, b.id, district=True)
    leader = build_principal(
        db_session, make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=a)
    )
    with app.test_request_context():
        followups = publish_table(leader, tables["completion.followups"])
        tasks = publish_table(leader, tables["completion.plan_tasks"])
    assert followups.head() == [
        "School", "Done on time", "Done late", "Overdue, not done", "Not yet due",
        "Follow-ups due", "Share done on time",
    ]  # fmt: skip
    # Follow-ups: A [3, 2, 2, 1 | 8], B [1, 0, 0, 1 | 2], all [4, 2, 2, 2 | 10]. The three
    # ones are "<2"; B's total would give its two ones together (2 - 0 - 0), A's on time
    # would give B's from the column total (4 - 3), and so on round the circuit: "*".
    assert followups.body() == [
        ["甲中学", "*", "*", "2", "<2", "*", "—"],
        ["乙中学", "<2", "0", "0", "<2", "*", "—"],
        ["", "4", "*", "2", "*", "10", "40.0%"],
    ]
    # Tasks: A [2, 1, 2, 1 | 6], B [0, 1, 0, 1 | 2], all [2, 2, 2, 2 | 8]: the four ones
    # protect each other (A late = x, A not due = 2 - x, B late = 2 - x, B not due = x:
    # x anywhere in 0..2), so nothing else is hidden.
    assert tasks.body() == [
        ["甲中学", "2", "<2", "2", "<2", "6", "33.3%"],
        ["乙中学", "0", "<2", "0", "<2", "2", "0.0%"],
        ["", "2", "2", "2", "2", "8", "25.0%"],
    ]


@pytest.mark.usefixtures("threshold_two")
def test_the_district_page(client, db_session, env, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Through the framework's page: a district counsellor's view, one row per school."""
    monkeypatch.setattr("wellbeing.reports.report_views.utcnow", lambda: NOW)
    login(client, make_user(db_session, env.settings, Role.COUNSELLOR))
    page = client.get("/reports/completion?start=2026-11-01&end=2026-11-30")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Follow-ups due in the period" in html and "Plan tasks due in the period" in html
    assert "甲中学" in html and "乙中学" in html and "&lt;2" in html
