"""Authorization matrices for the task pages and the plans/tasks API (expectations by hand).

The world (tests/authz.py): a task about the own school's student assigned to the class
teacher of its class, and one about the other school's student assigned to a psychology
teacher of that school; a plan in effect for each student. ``TASKS_OWN`` (psychology teachers,
class teachers, leaders, counsellors) opens ``/tasks``; a task answers only its assignee (every
other role with the page gets 404, as for an unknown task). The API answers browser sessions
401 throughout; with tokens: ``plans:read`` needs ``PLANS_READ`` on the student (the own
school's psychology teacher and leader; the counsellor's students are not district-involved
here, so 404 as for an unknown student), ``tasks:read`` lists the caller's own tasks.
"""

from __future__ import annotations

import datetime as dt

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.plans import services
from wellbeing.plans.body import empty_body
from wellbeing.plans.tasks import add_task

from ..api.tokens import LISTED, UNLISTED, TokenCase, run_token_cases, staff
from ..authz import (
    FORBIDDEN,
    LOGIN,
    NOT_FOUND,
    OK,
    REDIRECT,
    Case,
    World,
    build_world,
    everyone,
    run_cases,
)
from ..factories import make_user


def plan_in_effect(session, principal, student, adults=(), summary="matrix", signer=None):  # type: ignore[no-untyped-def]
    """A plan in effect, written through the services (an orange student's is signed by
    ``signer``, a leader's principal); ``adults``: the body's responsible adults (their tasks
    become PlanTasks when the version takes effect)."""
    plan = services.start_plan(session, principal, student.id)
    body = empty_body() | {
        "summary": summary,
        "goals": [{"text": "Sleeps better", "measure": "diary", "lifecycle": "active"}],
        "adults": list(adults),
    }
    services.save_draft(session, principal, plan.id, body)
    version = services.save_version(session, principal, plan.id)
    if version.signoff_required:
        services.sign(session, signer, plan.id, version.number)
    session.flush()
    return plan


def setup(w: World) -> None:
    if "task_own" in w.extra:
        return
    other_psych = make_user(w.session, w.settings, Role.PSYCH_TEACHER, school=w.other_school)
    today = utcnow().date()
    for where, student, assignee, writer in (
        ("own", w.own_student, w.users["class_teacher"], w.users["psych_teacher"]),
        ("other", w.other_student, other_psych, other_psych),
    ):
        task = add_task(w.session, None, student=student, kind="plan_action",
                        title=f"matrix {where}", due_date=today + dt.timedelta(days=2),
                        assignee_id=assignee.id)  # fmt: skip
        w.extra[f"task_{where}"] = task.id
        plan_in_effect(w.session, build_principal(w.session, writer), student)
    w.session.flush()


def _student(w: World, where: str):  # type: ignore[no-untyped-def]
    return w.own_student if where == "own" else w.other_student


def _mine(w: World, where: str) -> str:
    return "/tasks"


def _done(w: World, where: str) -> str:
    return f"/tasks/{w.extra[f'task_{where}']}/done"


def _plan_api(w: World, where: str) -> str:
    return f"/api/v1/plans/{_student(w, where).id}"


def _tasks_api(w: World, where: str) -> str:
    return "/api/v1/tasks"


def _student_tasks_api(w: World, where: str) -> str:
    return f"/api/v1/students/{_student(w, where).id}/tasks"


TASK_ROLES = dict(psych_teacher=OK, class_teacher=OK, school_leader=OK, counsellor=OK)
PAGE = everyone(FORBIDDEN, anonymous=LOGIN, **TASK_ROLES)
# A task is its assignee's: the others with the page get 404 (not "forbidden": no hint).
NOT_MINE = dict(psych_teacher=NOT_FOUND, class_teacher=NOT_FOUND, school_leader=NOT_FOUND,
                counsellor=NOT_FOUND)  # fmt: skip
DONE_OWN = everyone(FORBIDDEN, anonymous=LOGIN, **(NOT_MINE | {"class_teacher": OK}))
DONE_POST_OWN = everyone(FORBIDDEN, anonymous=LOGIN, **(NOT_MINE | {"class_teacher": REDIRECT}))
DONE_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, **NOT_MINE)
SESSION = everyone(401)  # a browser session never authenticates the API

CASES = [
    Case("GET", "/tasks", _mine, PAGE, setup=setup),
    Case("GET", "/tasks/<uuid:task_id>/done", _done, DONE_OWN, DONE_OTHER, setup=setup),
    # last: the class teacher's POST completes the own task
    Case("POST", "/tasks/<uuid:task_id>/done", _done, DONE_POST_OWN, DONE_OTHER, setup=setup,
         data={"note": "matrix note"}),
    Case("GET", "/api/v1/plans/<uuid:student_id>", _plan_api, SESSION, setup=setup),
    Case("GET", "/api/v1/tasks", _tasks_api, SESSION, setup=setup),
    Case("GET", "/api/v1/students/<uuid:student_id>/tasks", _student_tasks_api, SESSION,
         setup=setup),
]  # fmt: skip


def test_task_routes_matrix(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []


def _listed(w: World, where: str, body) -> bool:  # type: ignore[no-untyped-def]
    return str(w.extra[f"task_{where}"]) in {t["id"] for t in body["tasks"]}


NO_TASKS = dict(partner=FORBIDDEN, supervisor=FORBIDDEN, admin=FORBIDDEN)
READERS_OWN = staff(FORBIDDEN, psych_teacher=OK, school_leader=OK, counsellor=NOT_FOUND)
READERS_OTHER = staff(FORBIDDEN, psych_teacher=NOT_FOUND, school_leader=NOT_FOUND,
                      counsellor=NOT_FOUND)  # fmt: skip

TOKEN_CASES = [
    TokenCase("/api/v1/plans/<uuid:student_id>", _plan_api, "plans:read", READERS_OWN,
              READERS_OTHER, wrong_scope="students:read", setup=setup),
    TokenCase("/api/v1/tasks", _tasks_api, "tasks:read",
              staff(UNLISTED, class_teacher=LISTED, **NO_TASKS), staff(UNLISTED, **NO_TASKS),
              wrong_scope="followups:read", listed=_listed, setup=setup),
    TokenCase("/api/v1/students/<uuid:student_id>/tasks", _student_tasks_api, "plans:read",
              READERS_OWN, READERS_OTHER, wrong_scope="tasks:read", setup=setup),
]  # fmt: skip


def test_task_api_matrix_with_tokens(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_token_cases(client, world, TOKEN_CASES) == []


def test_every_api_route_has_a_token_matrix() -> None:
    api_rules = {c.rule for c in CASES if c.rule.startswith("/api/")}
    assert {c.rule for c in TOKEN_CASES} == api_rules
