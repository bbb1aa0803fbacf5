"""The plan pages', the task pages' and the plans API's URL builders for the sensitive-route
harness (``tests/audit/test_sensitive_routes.py`` imports this file at its end).

Each builder makes a new orange (tier 2) student of the class teacher's class, so the other
builders' changes to the world's own student (tiers, crises, referrals) do not move its plan,
and writes the plan through the services, as the pages would: started and drafted by the
psychology teacher, saved as a version (tier 2: it waits for sign-off), signed by the school
leader. The body names the class teacher as a responsible adult with a task, so the plan in
effect gives the class teacher a task (``/tasks``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Principal
from wellbeing.orgs.models import SchoolClass
from wellbeing.plans import services
from wellbeing.plans.models import Plan, PlanTask
from wellbeing.screening.clock import local_today

from ..audit.test_sensitive_routes import Visit, builder
from ..authz import World
from ..factories import make_student
from .conftest import complete_body

STATES = ("draft", "submitted", "active", "two_versions")


def _principal(w: World, role: str) -> Principal:
    return build_principal(w.session, w.users[role])


def _student_with_plan(w: World, state: str) -> tuple[Any, Plan]:
    """A new orange student of the class teacher's class and its plan in ``state``: "draft"
    (a complete body, no version), "submitted" (version 1 waits for sign-off), "active"
    (version 1 signed, in effect) or "two_versions" (version 1 in effect, version 2 with a
    changed goal waiting for sign-off)."""
    assert state in STATES
    klass = w.session.get(SchoolClass, w.own_student.class_id)
    student = make_student(w.session, w.own_school, klass, tier=2)
    w.session.flush()
    writer, leader = _principal(w, "psych_teacher"), _principal(w, "school_leader")
    body = complete_body(teacher_id=w.users["class_teacher"].id,
                         due=local_today() + dt.timedelta(days=5))  # fmt: skip
    plan = services.start_plan(w.session, writer, student.id)
    services.save_draft(w.session, writer, plan.id, body)
    if state == "draft":
        return student, plan
    first = services.save_version(w.session, writer, plan.id)
    assert first.signoff_required  # tier 2, first version: material
    if state == "submitted":
        return student, plan
    services.sign(w.session, leader, plan.id, first.number)
    if state == "two_versions":
        services.start_review(w.session, writer, plan.id)
        body["goals"][0]["text"] = "每晚睡够八小时"  # a material change: signed off again
        services.save_draft(w.session, writer, plan.id, body)
        services.save_version(w.session, writer, plan.id)
    w.session.flush()
    return student, plan


def _class_teachers_task(w: World, student: Any) -> PlanTask:
    """The class teacher's task from the student's plan in effect."""
    task = w.session.scalars(
        select(PlanTask).where(
            PlanTask.student_id == student.id,
            PlanTask.assignee_id == w.users["class_teacher"].id,
        )
    ).one()
    return task


# --------------------------------------------------------------------------- plan pages


@builder("plans.plan")
def _plan(w: World) -> Visit:
    student, _plan = _student_with_plan(w, "active")
    return Visit(f"/students/{student.id}/plan", "psych_teacher", student)


@builder("plans.edit")
def _edit(w: World) -> Visit:
    student, _plan = _student_with_plan(w, "draft")
    return Visit(f"/students/{student.id}/plan/edit", "psych_teacher", student)


@builder("plans.versions")
def _versions(w: World) -> Visit:
    """Versions 1 and 2 compared (the comparison is the page's heaviest read)."""
    student, _plan = _student_with_plan(w, "two_versions")
    return Visit(f"/students/{student.id}/plan/versions?a=1&b=2", "school_leader", student)


@builder("plans.print_plan")
def _print_plan(w: World) -> Visit:
    student, _plan = _student_with_plan(w, "active")
    return Visit(f"/students/{student.id}/plan/print?version=1", "school_leader", student)


@builder("plans.signoffs")
def _signoffs(w: World) -> Visit:
    student, _plan = _student_with_plan(w, "submitted")
    return Visit("/plans/signoffs", "school_leader", student)


# --------------------------------------------------------------------------- task pages


@builder("tasks.mine")
def _tasks_mine(w: World) -> Visit:
    student, _plan = _student_with_plan(w, "active")
    _class_teachers_task(w, student)
    return Visit("/tasks", "class_teacher", student)


@builder("tasks.done")
def _tasks_done(w: World) -> Visit:
    student, _plan = _student_with_plan(w, "active")
    task = _class_teachers_task(w, student)
    return Visit(f"/tasks/{task.id}/done", "class_teacher", student)


# --------------------------------------------------------------------------- API (/api/v1)


@builder("plans_api.plan")
def _api_plan(w: World) -> Visit:
    student, _plan = _student_with_plan(w, "active")
    return Visit(f"/api/v1/plans/{student.id}", "psych_teacher", student, scopes=("plans:read",))


@builder("plans_api.student_tasks")
def _api_student_tasks(w: World) -> Visit:
    student, _plan = _student_with_plan(w, "active")
    return Visit(f"/api/v1/students/{student.id}/tasks", "school_leader", student,
                 scopes=("plans:read",))  # fmt: skip


@builder("plans_api.my_tasks")
def _api_my_tasks(w: World) -> Visit:
    """The psychology teacher's list: the plan's guardian task (unassigned, tracked by the
    school's psychology teachers). The answer (and its audit entry) names the student only to
    a caller who may open the record, through a token with ``students:read`` too."""
    student, _plan = _student_with_plan(w, "active")
    return Visit("/api/v1/tasks", "psych_teacher", student,
                 scopes=("tasks:read", "students:read"))  # fmt: skip
