"""Authorization matrix for the plan pages (expected statuses written by hand).

Each case has its own students (of the own and of the other school) with a plan in the state
the route acts on, written by the psychology teacher of the student's school. Reading plans
(PLANS_READ): the own school's psychology teacher and leader. Writing (PLANS_WRITE): the
own school's psychology teacher. Sign-off (PLANS_SIGNOFF): the own school's leader. The
district counsellor is refused: the students are not district-involved. Acting pages answer
with a redirect to the plan page.
"""

from __future__ import annotations

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.plans import services

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases
from ..factories import make_class, make_student, make_user
from .conftest import complete_body

NONE = everyone(FORBIDDEN, anonymous=LOGIN)
READ_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK)
WRITE_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
ACT_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT)
SIGN_OWN = everyone(FORBIDDEN, anonymous=LOGIN, school_leader=REDIRECT)


def _authors(w):  # type: ignore[no-untyped-def]
    if "psych_other" not in w.extra:
        w.extra["psych_other"] = make_user(
            w.session, w.settings, Role.PSYCH_TEACHER, school=w.other_school
        )
    return {
        "own": build_principal(w.session, w.users["psych_teacher"]),
        "other": build_principal(w.session, w.extra["psych_other"]),
    }


def _students(state):  # type: ignore[no-untyped-def]
    """A setup: for each school a new orange student whose plan is in ``state`` (None: no
    plan; "draft", "submitted", "active")."""

    def setup(w):  # type: ignore[no-untyped-def]
        authors = _authors(w)
        key, _, kind = (state or "none").partition("_")
        kind = kind or key
        for where, school in (("own", w.own_school), ("other", w.other_school)):
            student = make_student(w.session, school, make_class(w.session, school), tier=2)
            w.extra[f"{key}_{where}"] = student.id
            if kind in ("none", "start"):
                continue
            author = authors[where]
            plan = services.start_plan(w.session, author, student.id)
            if kind == "draft":
                continue
            services.save_draft(w.session, author, plan.id, complete_body())
            services.save_version(w.session, author, plan.id)
            if kind == "active":
                leader = make_user(w.session, w.settings, Role.SCHOOL_LEADER, school=school)
                services.sign(w.session, build_principal(w.session, leader), plan.id, 1)

    return setup


def _at(state, suffix):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/students/{w.extra[f'{state}_{where}']}/plan{suffix}"


CASES = [
    Case("GET", "/students/<uuid:student_id>/plan", _at("none", ""), READ_OWN, NONE,
         setup=_students(None)),
    Case("GET", "/students/<uuid:student_id>/plan", _at("draft", ""), READ_OWN, NONE,
         setup=_students("draft")),
    Case("POST", "/students/<uuid:student_id>/plan/start", _at("start", "/start"), ACT_OWN, NONE,
         setup=_students("start")),
    Case("GET", "/students/<uuid:student_id>/plan/edit", _at("draft", "/edit"), WRITE_OWN, NONE),
    Case("POST", "/students/<uuid:student_id>/plan/edit", _at("draft", "/edit"), ACT_OWN, NONE,
         data={"action": "save", "safety_crisis_id": ""}),
    Case("POST", "/students/<uuid:student_id>/plan/sign", _at("submitted", "/sign"), SIGN_OWN,
         NONE, setup=_students("submitted")),
    Case("POST", "/students/<uuid:student_id>/plan/return", _at("toreturn", "/return"), SIGN_OWN,
         NONE, setup=_students("toreturn_submitted"), data={"reason": "matrix"}),
    Case("POST", "/students/<uuid:student_id>/plan/review", _at("active", "/review"), ACT_OWN,
         NONE, setup=_students("active")),
    Case("POST", "/students/<uuid:student_id>/plan/close", _at("draft", "/close"), ACT_OWN, NONE,
         data={"reason": "matrix"}),
    Case("GET", "/students/<uuid:student_id>/plan/versions", _at("active", "/versions"),
         READ_OWN, NONE),
    Case("GET", "/students/<uuid:student_id>/plan/print", _at("active", "/print"), READ_OWN,
         NONE),
    Case("GET", "/plans/signoffs", lambda w, where: "/plans/signoffs",
         everyone(FORBIDDEN, anonymous=LOGIN, school_leader=OK, counsellor=OK)),
]  # fmt: skip


def test_plan_routes_matrix(client, db_session, env):  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
