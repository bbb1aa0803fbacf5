"""Authorization matrix for the follow-up routes (expected statuses written by hand).

The world has one follow-up on the own school's student (owned by its psych teacher) and one on
the other school's student (owned by that school's psych teacher). Managing a follow-up needs
FOLLOWUPS_MANAGE on the student: the own school's psych teacher only (the counsellor's students
are not district-involved here; leaders and class teachers lack the permission). The agenda is
for every role with an agenda; the calendar feed is public and its token is the credential.
Reading one follow-up needs RECORD_READ on the student: the own school's psych teacher and
leader (the counsellor's students are not district-involved).
"""

import datetime as dt

from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.followups import services

from ..authz import (
    FORBIDDEN,
    LOGIN,
    NOT_FOUND,
    OK,
    REDIRECT,
    Case,
    build_world,
    everyone,
    run_cases,
)
from ..factories import make_user


def _followups(world):
    if "fu_own" in world.extra:
        return
    other_psych = make_user(
        world.session, world.settings, Role.PSYCH_TEACHER, school=world.other_school
    )
    for where, student, owner in (
        ("own", world.own_student, world.users["psych_teacher"]),
        ("other", world.other_student, other_psych),
    ):
        fu = services.schedule_followup(world.session, None, student, due_at=utcnow() + dt.timedelta(days=1),
                                        owner_id=owner.id, source="manual")  # fmt: skip
        world.extra[f"fu_{where}"] = fu.id
    # a feed owner who never uses the token routes of the matrix (they would revoke it)
    feed_owner = make_user(
        world.session, world.settings, Role.PSYCH_TEACHER, school=world.own_school
    )
    world.extra["token"] = services.issue_calendar_token(world.session, feed_owner.id)


def _fu(suffix):
    return lambda w, where: f"/followups/{w.extra[f'fu_{where}']}{suffix}"


def _student(w, where):
    student = w.own_student if where == "own" else w.other_student
    return f"/students/{student.id}/followups/new"


def _future(w, where):
    return {"due_at": (dt.datetime.now() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")}


NO_AGENDA = {"partner": FORBIDDEN, "supervisor": FORBIDDEN, "admin": FORBIDDEN}
AGENDA = everyone(OK, anonymous=LOGIN, **NO_AGENDA)
MANAGE_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
MANAGE_OTHER = everyone(FORBIDDEN, anonymous=LOGIN)
ACT_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT)

CASES = [
    Case("GET", "/agenda", lambda w, where: "/agenda", AGENDA, setup=_followups),
    Case(
        "GET",
        "/followups/<uuid:followup_id>/complete",
        _fu("/complete"),
        MANAGE_OWN,
        MANAGE_OTHER,
        setup=_followups,
    ),
    Case(
        "POST",
        "/followups/<uuid:followup_id>/complete",
        _fu("/complete"),
        ACT_OWN,
        MANAGE_OTHER,
        setup=_followups,
        data={"outcome": "seen", "note": "Talked at break."},
    ),
    # reading a follow-up (a completed one shows its note): whoever may read the record
    Case(
        "GET",
        "/followups/<uuid:followup_id>",
        _fu(""),
        everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK),
        everyone(FORBIDDEN, anonymous=LOGIN),
        setup=_followups,
    ),
    Case("GET", "/students/<uuid:student_id>/followups/new", _student, MANAGE_OWN, MANAGE_OTHER),
    Case(
        "POST",
        "/students/<uuid:student_id>/followups/new",
        _student,
        ACT_OWN,
        MANAGE_OTHER,
        data=_future,
    ),
    Case("POST", "/agenda/calendar-token", lambda w, where: "/agenda/calendar-token", AGENDA),
    Case(
        "POST",
        "/agenda/calendar-token/revoke",
        lambda w, where: "/agenda/calendar-token/revoke",
        everyone(REDIRECT, anonymous=LOGIN, **NO_AGENDA),
    ),
    # the token is the credential: a live one works for anybody, an unknown one for nobody
    Case(
        "GET",
        "/agenda/<string:token>.ics",
        lambda w, where: f"/agenda/{w.extra['token']}.ics",
        everyone(OK),
        setup=_followups,
    ),
    Case(
        "GET",
        "/agenda/<string:token>.ics",
        lambda w, where: "/agenda/not-a-real-token.ics",
        everyone(NOT_FOUND),
    ),
]


def test_followups_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
