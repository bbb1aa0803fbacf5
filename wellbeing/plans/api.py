"""``/api/v1``: read a student's plan in effect, the caller's tasks, a student's tasks.

Same rules as the pages: the plan and a student's tasks need ``PLANS_READ`` on the student
(psychology teachers of the school, its leaders, district counsellors once the district is
involved); a student outside the caller's scope answers exactly like one without a plan (404,
the refusal audited). ``/tasks`` is the caller's own list (``TASKS_OWN``), as on ``/tasks``:
the student's id only when the caller may open the record. Every answer is audited as a read
(``PLAN_VIEW`` / ``TASK_VIEW``, naming fields, never values).

Token scopes: ``plans:read`` (``PLANS_READ``) and ``tasks:read`` (``TASKS_OWN``).
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, current_app, g, jsonify
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from .. import web_api
from ..auth.tokens import register_scope
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, can, ensure
from ..db import get_session, utcnow
from ..students.models import Student
from ..web import require
from . import task_queries
from .models import TASK_KINDS, PlanTask, TaskState
from .tasks import display_title

bp = Blueprint("plans_api", __name__, url_prefix="/api/v1")

register_scope("plans:read", _l("Read students' plans and their tasks"), Permission.PLANS_READ)
register_scope("tasks:read", _l("Read your tasks from plans"), Permission.TASKS_OWN)

# The plan body's parts, as the audit names them (what the answer shows).
BODY_FIELDS = (
    "concerns", "summary", "protective_factors", "student_view", "student_agreed",
    "guardian_involvement", "goals", "interventions", "adults",
)  # fmt: skip


def _student(student_id: uuid.UUID) -> Student | None:
    return get_session().get(Student, student_id)


@bp.get("/plans/<uuid:student_id>")
@require(Permission.PLANS_READ, sensitive=True)
def plan(student_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    student = _student(student_id)
    if student is None:
        return web_api.not_found("No plan in effect for this student.")
    try:
        ensure(g.principal, Permission.PLANS_READ, student)
    except Forbidden as exc:
        return web_api.not_visible(exc, "No plan in effect for this student.")
    found = task_queries.effective_version(session, student.id)
    audit.record(
        session, AuditAction.PLAN_VIEW, object_type="plan",
        object_id=found[0].id if found else None, student_id=student.id,
        school_id=student.school_id, fields=list(BODY_FIELDS) if found else [],
        detail={"version": found[1].number if found else None, "via": "api"},
    )  # fmt: skip
    if found is None:
        return web_api.not_found("No plan in effect for this student.")
    current, version = found
    body = version.body or {}
    return jsonify(
        {
            "student_id": str(student.id), "plan_id": str(current.id), "state": current.state,
            "version": version.number, "saved_at": web_api.iso(version.created_at),
            "tier": version.tier, "review_due": version.review_due.isoformat(),
            "signoff_required": version.signoff_required,
            "safety_crisis_id": str(version.safety_crisis_id) if version.safety_crisis_id else None,
            "body": {name: body.get(name) for name in BODY_FIELDS if name in body},
        }
    )  # fmt: skip


def _task(task: PlanTask, *, student_shown: bool, today: Any) -> dict[str, Any]:
    return {
        "id": str(task.id), "kind": task.kind, "title": display_title(task),
        "state": task.state, "due_date": task.due_date.isoformat(),
        "overdue": task.state == TaskState.OPEN and task.due_date < today,
        "done_at": web_api.iso(task.done_at),
        "student_id": str(task.student_id) if student_shown else None,
        "for_outside_person": task.assignee_id is None and task.external_ct is not None,
    }  # fmt: skip


def _today() -> Any:
    return utcnow().astimezone(current_app.extensions["wellbeing.settings"].tz).date()


@bp.get("/tasks")
@require(Permission.TASKS_OWN, sensitive=True)
def my_tasks() -> ResponseReturnValue:
    session = get_session()
    today = _today()
    found = task_queries.my_tasks(session, g.principal, utcnow(), today)
    rows = found.open + found.done
    shown = {r.student.id for r in rows if can(g.principal, Permission.RECORD_READ, r.student)}
    audit.record(
        session, AuditAction.TASK_VIEW, object_type="plan_task",
        fields=(["task.title", "task.due_date"] if rows else [])
        + (["student_id"] if shown else []),
        # every student a task is about (its title and date are shown), whether or not the
        # answer names the student: the trail says whose data left, the answer shows least
        detail={"students": sorted({r.student.id for r in rows}, key=str), "count": len(rows),
                "via": "api"},
    )  # fmt: skip
    return jsonify(
        {"tasks": [_task(r.task, student_shown=r.student.id in shown, today=today) for r in rows]}
    )


@bp.get("/students/<uuid:student_id>/tasks")
@require(Permission.PLANS_READ, sensitive=True)
def student_tasks(student_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    student = _student(student_id)
    if student is None:
        return web_api.not_found("No such student.")
    try:
        ensure(g.principal, Permission.PLANS_READ, student)
    except Forbidden as exc:
        return web_api.not_visible(exc, "No such student.")
    found = task_queries.student_tasks(session, student.id)
    audit.record(
        session, AuditAction.TASK_VIEW, object_type="plan_task", student_id=student.id,
        school_id=student.school_id, fields=["task.title", "task.due_date"] if found else [],
        detail={"count": len(found), "via": "api"},
    )  # fmt: skip
    today = _today()
    return jsonify({"tasks": [_task(t, student_shown=True, today=today) for t in found]})


_OPEN_DONE = [TaskState.OPEN.value, TaskState.DONE.value]
OPENAPI_SCHEMAS: dict[str, Any] = {
    "PlanInEffect": {
        "type": "object",
        "description": "The version of a student's plan (一生一策) in effect. The body is the "
        "plan as written: concerns, goals (lifecycle and achievement kept apart), "
        "interventions, responsible adults and their tasks.",
        "required": [
            "student_id",
            "plan_id",
            "state",
            "version",
            "saved_at",
            "tier",
            "review_due",
            "signoff_required",
            "safety_crisis_id",
            "body",
        ],
        "additionalProperties": False,
        "properties": {
            "student_id": web_api.UUID,
            "plan_id": web_api.UUID,
            "state": {
                "type": "string",
                "enum": ["active", "review", "submitted"],
                "description": "active; review: a new version is being written; "
                "submitted: a new version waits for sign-off (this one stays in effect).",
            },
            "version": {"type": "integer", "minimum": 1},
            "saved_at": web_api.DATE_TIME,
            "tier": {
                "type": "integer",
                "minimum": 0,
                "maximum": 3,
                "description": "The tier when the version was saved.",
            },
            "review_due": {"type": "string", "format": "date"},
            "signoff_required": {"type": "boolean"},
            "safety_crisis_id": web_api.NULLABLE_UUID
            | {"description": "The crisis whose checklist holds the safety plan (linked)."},
            "body": {
                "type": "object",
                "description": "The plan's content (see the plans module: concerns, summary, "
                "protective_factors, student_view, student_agreed, guardian_involvement, goals, "
                "interventions, adults).",
                "properties": {
                    "concerns": {"type": "array", "items": {"type": "object"}},
                    "goals": {"type": "array", "items": {"type": "object"}},
                    "interventions": {"type": "array", "items": {"type": "object"}},
                    "adults": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
    "PlanTask": {
        "type": "object",
        "description": "A task from a plan: never the plan, the record or a name.",
        "required": [
            "id",
            "kind",
            "title",
            "state",
            "due_date",
            "overdue",
            "done_at",
            "student_id",
            "for_outside_person",
        ],
        "additionalProperties": False,
        "properties": {
            "id": web_api.UUID,
            "kind": {"type": "string", "enum": list(TASK_KINDS)},
            "title": {"type": "string"},
            "state": {"type": "string", "enum": _OPEN_DONE},
            "due_date": {"type": "string", "format": "date"},
            "overdue": {"type": "boolean"},
            "done_at": {"type": ["string", "null"], "format": "date-time"},
            "student_id": web_api.NULLABLE_UUID
            | {
                "description": "Only when the caller may open the student's record (a token "
                "needs students:read too for /tasks)."
            },
            "for_outside_person": {
                "type": "boolean",
                "description": "For a guardian or an outside person, tracked by the school's "
                "psychology teachers.",
            },
        },
    },
    "PlanTaskList": {
        "type": "object",
        "required": ["tasks"],
        "additionalProperties": False,
        "properties": {
            "tasks": {"type": "array", "items": {"$ref": "#/components/schemas/PlanTask"}}
        },
    },
}

OPENAPI_PATHS: dict[str, Any] = {
    "/plans/{student_id}": {
        "get": {
            "operationId": "getPlanInEffect",
            "summary": "A student's plan: the version in effect",
            "description": "Audited as a read of the plan. 404 for an unknown student, a "
            "student without a plan in effect and a student outside the user's scope alike "
            "(the refusal is audited).",
            "tags": ["plans"],
            "security": [{"bearer": ["plans:read"]}],
            "parameters": [web_api.path_id("student_id")],
            "responses": {
                "200": web_api.ok_json("The version in effect", "PlanInEffect"),
                "404": web_api.NOT_FOUND,
            },
        }
    },
    "/tasks": {
        "get": {
            "operationId": "listMyTasks",
            "summary": "The caller's tasks from plans: open ones and those done in 30 days",
            "description": "Tasks assigned to the caller and, for psychology teachers, the "
            "unassigned tasks of their schools (guardians', outside people's, writing plans), "
            f"open ones by due date, then those done in the last {task_queries.DONE_DAYS} days. "
            f"At most {task_queries.LIST_LIMIT} of each. Audited.",
            "tags": ["plans"],
            "security": [{"bearer": ["tasks:read"]}],
            "responses": {"200": web_api.ok_json("The caller's tasks", "PlanTaskList")},
        }
    },
    "/students/{student_id}/tasks": {
        "get": {
            "operationId": "listStudentTasks",
            "summary": "A student's tasks from plans (open and done)",
            "description": "For those who may read the student's plan. Audited. 404 for an "
            "unknown student and one outside the user's scope alike.",
            "tags": ["plans"],
            "security": [{"bearer": ["plans:read"]}],
            "parameters": [web_api.path_id("student_id")],
            "responses": {
                "200": web_api.ok_json("The student's tasks", "PlanTaskList"),
                "404": web_api.NOT_FOUND,
            },
        }
    },
}
