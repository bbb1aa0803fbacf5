"""The plan coverage report (issue 16 items 1 and 7) against numbers worked out by hand.

Now is 1 December 2026 00:00 UTC: today is 1 December in Shanghai.

====  =====  ======  =============================================  =========================
      grade  tier    plan                                           coverage / review
====  =====  ======  =============================================  =========================
s1    A 7    red     active, v1 signed, review 15 Dec               current / not yet due
s2    A 7    orange  active, v1 signed, review 20 Nov               overdue / overdue
s3    A 7    orange  under review, v1 signed in effect, review      current / not yet due
                     1 Dec (today)
s4    A 7    red     proposed                                       not signed / --
s5    A 7    orange  none                                           no plan / --
s6    A 7    yellow  active, v1 signed, review 20 Nov               -- / overdue
s7    A 7    red     left the school; active plan                   not counted
s8    A 8    red     waiting for sign-off (nothing in effect)       not signed / --
s9    A 8    orange  active, v2 in effect: no sign-off needed, not  overdue / overdue
                     material (v1 signed), review 30 Nov
s10   A 8    orange  active, v1 in effect written at yellow (no     not signed / not yet due
                     sign-off, material), review 20 Dec
s11   A 8    red     an old closed plan only                        no plan / --
s12   B 10   red     active, v1 signed, review 10 Dec               current / not yet due
s13   B 10   orange  none                                           no plan / --
s14   C 9    red     none                                           school not in the report
====  =====  ======  =============================================  =========================
"""

from __future__ import annotations

import datetime as dt

import pytest

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.plans.models import Plan, PlanVersion
from wellbeing.reports.library import plan_coverage
from wellbeing.reports.tables import publish_table

from ..conftest import login
from ..factories import make_class, make_school, make_student, make_user
from .library_helpers import NOW, filters, raw, threshold_two

__all__ = ["threshold_two"]


def _plan(session, author, student, state, review=None, versions=(), effective=None):  # type: ignore[no-untyped-def]
    """``versions``: (signoff_required, material) of each version, numbered from 1."""
    plan = Plan(student_id=student.id, school_id=student.school_id, state=state,
                latest_version=len(versions), effective_version=effective,
                review_due=review)  # fmt: skip
    session.add(plan)
    session.flush()
    for number, (required, material) in enumerate(versions, start=1):
        version = PlanVersion(plan_id=plan.id, number=number, author_id=author.id, tier=2,
                              review_due=review or dt.date(2026, 12, 31), material=material,
                              signoff_required=required, writers=[])  # fmt: skip
        version.body = {}
        session.add(version)
    session.flush()


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    s = db_session
    a, b, c = (make_school(s, f"PLC-{x}", name) for x, name in
               (("A", "甲中学"), ("B", "乙中学"), ("C", "丙中学")))  # fmt: skip
    author = make_user(s, env.settings, Role.PSYCH_TEACHER, school=a)
    g7, g8, g10 = make_class(s, a, 7), make_class(s, a, 8), make_class(s, b, 10)
    dec, nov = (lambda d: dt.date(2026, 12, d)), (lambda d: dt.date(2026, 11, d))
    signed = ((True, True),)

    def student(klass, tier, **extra):  # type: ignore[no-untyped-def]
        school = a if klass in (g7, g8) else b
        return make_student(s, school, klass, tier=tier, **extra)

    _plan(s, author, student(g7, 3), "active", dec(15), signed, 1)
    _plan(s, author, student(g7, 2), "active", nov(20), signed, 1)
    _plan(s, author, student(g7, 2), "review", dec(1), signed, 1)
    _plan(s, author, student(g7, 3), "proposed")
    student(g7, 2)
    _plan(s, author, student(g7, 1), "active", nov(20), signed, 1)
    _plan(s, author, student(g7, 3, status="left"), "active", dec(15), signed, 1)
    _plan(s, author, student(g8, 3), "submitted", None, ((True, True),), None)
    _plan(s, author, student(g8, 2), "active", nov(30), ((True, True), (False, False)), 2)
    _plan(s, author, student(g8, 2), "active", dec(20), ((False, True),), 1)
    _plan(s, author, student(g8, 3), "closed", nov(1), signed, 1)
    _plan(s, author, student(g10, 3), "active", dec(10), signed, 1)
    student(g10, 2)
    make_student(s, c, make_class(s, c, 9), tier=3)
    return a, b


def _build(app, db_session, *args, **kwargs):  # type: ignore[no-untyped-def]
    with app.test_request_context():
        page = plan_coverage.build(db_session, None, filters(*args, **kwargs))  # type: ignore[arg-type]
    return {t.key: t for t in page.tables}


def test_district_view_by_school(app, db_session, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    tables = _build(app, db_session, a.id, b.id, district=True)
    coverage, reviews = tables["plan_coverage.coverage"], tables["plan_coverage.reviews"]
    # current, review overdue, not signed off, no plan
    assert raw(coverage) == {(a.id,): [2, 2, 3, 2], (b.id,): [1, 0, 0, 1]}
    # review not yet due, overdue
    assert raw(reviews) == {(a.id,): [3, 3], (b.id,): [1, 0]}
    assert coverage.labels == {(a.id,): "甲中学", (b.id,): "乙中学"}


def test_one_school_by_grade(app, db_session, world) -> None:  # type: ignore[no-untyped-def]
    a, b = world
    tables = _build(app, db_session, a.id, district=False)
    coverage, reviews = tables["plan_coverage.coverage"], tables["plan_coverage.reviews"]
    assert coverage.show_depth == 2 and coverage.level_headings == ["School", "Grade"]
    assert raw(coverage) == {(a.id, 7): [2, 1, 1, 1], (a.id, 8): [0, 1, 2, 1]}
    assert raw(reviews) == {(a.id, 7): [2, 2], (a.id, 8): [1, 1]}
    only8 = _build(app, db_session, a.id, b.id, district=True, grade=8)
    assert raw(only8["plan_coverage.coverage"]) == {(a.id,): [0, 1, 2, 1], (b.id,): [0] * 4}


@pytest.mark.usefixtures("threshold_two")
def test_what_the_school_leader_sees(app, db_session, env, world) -> None:  # type: ignore[no-untyped-def]
    a, _b = world
    tables = _build(app, db_session, a.id, district=False)
    leader = build_principal(
        db_session, make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=a)
    )
    with app.test_request_context():
        coverage = publish_table(leader, tables["plan_coverage.coverage"])
        reviews = publish_table(leader, tables["plan_coverage.reviews"])
    assert coverage.head() == [
        "School", "Grade", "Current signed-off plan", "Signed-off plan, review overdue",
        "Plan not signed off yet", "No plan", "Orange and red students",
        "Share with a current plan",
    ]  # fmt: skip
    # Grade 7 [2, 1, 1, 1 | 5], grade 8 [0, 1, 2, 1 | 4], school [2, 2, 3, 2 | 9]: the ones
    # are "<2"; with both row totals shown, grade 7's three ones would follow from its 5 less
    # its 2, so the column of current plans is hidden in both grades (its total 2 leaves
    # them 0..2 each) and grade 8's 2 with it (a circuit through two columns); the grades'
    # shares go with their hidden cells.
    assert coverage.body() == [
        ["甲中学", "Grade 7", "*", "<2", "<2", "<2", "5", "—"],
        ["", "Grade 8", "*", "<2", "*", "<2", "4", "—"],
        ["", "", "2", "2", "3", "2", "9", "22.2%"],
    ]
    # Reviews: grade 7 [2, 2 | 4], grade 8 [1, 1 | 2], school [3, 3 | 6]: grade 8's ones are
    # "<2", its total would give them together, and the columns' totals would give them back
    # from grade 7's: grade 7's row is hidden whole.
    assert reviews.body() == [
        ["甲中学", "Grade 7", "*", "*", "*", "—"],
        ["", "Grade 8", "<2", "<2", "*", "—"],
        ["", "", "3", "3", "6", "50.0%"],
    ]


@pytest.mark.usefixtures("threshold_two")
def test_the_report_page(client, db_session, env, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Through the framework's page: the school leader's one-school view."""
    a, _b = world
    monkeypatch.setattr("wellbeing.reports.report_views.utcnow", lambda: NOW)
    login(client, make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=a))
    page = client.get(f"/reports/plan_coverage?school={a.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Orange and red students by their plan" in html and "Grade 8" in html
    assert "22.2%" in html and "&lt;2" in html
