"""Tasks a plan gives to adults, and the system's tasks for the psychology teachers.

* :func:`sync_from_version`: when a version takes effect, every responsible adult's task in it
  becomes (or updates) a ``plan_action`` :class:`PlanTask` keyed by the task's id in the body;
  open tasks whose key is gone are cancelled. Staff adults get ``assignee_id``; guardians and
  outside people get ``external`` (their name), tracked by the school's psychology teachers.
* :func:`add_task`: one task (``write_plan`` on a proposal, ``review_plan`` when a tier rises,
  ``update_plan`` on partner feedback), by a person or by the system (``principal`` None).
* :func:`complete_task`: by its assignee only; a task with no assignee (external, or the
  psychology teachers' pool) by a psychology teacher of the school. The note is encrypted. The
  assignee needs no permission on the student: the task is all they see of the record.
* :func:`cancel_tasks_for_plan`: a plan closed or cancelled takes its open tasks with it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, Role, ensure
from ..core.errors import NotFound
from ..db import utcnow
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from .body import MAX_SHORT, MAX_TEXT, PlanError
from .models import TASK_KINDS, TASK_STATES, Plan, PlanTask, PlanVersion, TaskState

# What each kind of task is called (a system task's title is its kind's label, in the reader's
# language, see :func:`display_title`).
TASK_KIND_LABELS: dict[str, Any] = {
    "plan_action": _l("Task from a plan"),
    "write_plan": _l("Write the student's plan"),
    "review_plan": _l("Review the student's plan"),
    "update_plan": _l("Update the student's plan"),
}
SYSTEM_KINDS = ("write_plan", "review_plan", "update_plan")
# What a task stores as its title when none is given (never shown: pages use the kind's label).
DEFAULT_TITLES = {
    "plan_action": "Task", "write_plan": "Write the plan", "review_plan": "Review the plan",
    "update_plan": "Update the plan",
}  # fmt: skip


def display_title(task: PlanTask) -> str:
    """What to call a task on a page: its own title, or its kind's label for system tasks."""
    if task.kind in SYSTEM_KINDS:
        return str(TASK_KIND_LABELS[task.kind])
    return task.title or str(TASK_KIND_LABELS.get(task.kind, ""))


def _audit_task(session: Session, action: AuditAction, task: PlanTask, **detail: Any) -> None:
    audit.record(
        session, action, object_type="plan_task", object_id=task.id, student_id=task.student_id,
        school_id=task.school_id, detail={"kind": task.kind, "state": task.state, **detail},
    )  # fmt: skip


def add_task(
    session: Session,
    principal: Principal | None,
    *,
    student: Student,
    kind: str,
    title: str,
    due_date: dt.date,
    assignee_id: uuid.UUID | None = None,
    plan: Plan | None = None,
    external: str | None = None,
    key: str | None = None,
    version_number: int | None = None,
) -> PlanTask:
    """A new open task about ``student``; ``principal`` None when the system makes it."""
    if principal is not None:
        ensure(principal, Permission.PLANS_WRITE, student)
    if kind not in TASK_KINDS:
        raise PlanError(_l("Unknown kind of task."))
    title = (title or "").strip() or DEFAULT_TITLES[kind]
    if len(title) > MAX_SHORT:
        raise PlanError(_l("%(field)s is longer than %(n)s characters."), field=_l("Task"),
                        n=MAX_SHORT)  # fmt: skip
    task = PlanTask(
        id=uuid.uuid4(), student_id=student.id, school_id=student.school_id,
        plan_id=plan.id if plan is not None else None, version_number=version_number, key=key,
        kind=kind, state=TaskState.OPEN, assignee_id=assignee_id,
        created_by=principal.user_id if principal is not None else None, due_date=due_date,
    )  # fmt: skip
    task.title = title
    if external:
        task.external = external
    session.add(task)
    session.flush()
    _audit_task(session, AuditAction.TASK_CREATE, task, due=due_date.isoformat(),
                assignee=assignee_id, external=bool(external))  # fmt: skip
    return task


def open_tasks(session: Session, plan_id: uuid.UUID, *kinds: str) -> list[PlanTask]:
    stmt = select(PlanTask).where(PlanTask.plan_id == plan_id, PlanTask.state == TaskState.OPEN)
    if kinds:
        stmt = stmt.where(PlanTask.kind.in_(kinds))
    return list(session.scalars(stmt.order_by(PlanTask.created_at, PlanTask.id)))


def sync_from_version(
    session: Session, plan: Plan, version: PlanVersion, actor_id: uuid.UUID | None
) -> None:
    """Make the version's adult tasks real (see the module docstring); audited per change."""
    student = session.get_one(Student, plan.student_id)
    current = {t.key: t for t in open_tasks(session, plan.id, "plan_action") if t.key}
    wanted: set[str] = set()
    for adult in (version.body or {}).get("adults") or []:
        assignee = uuid.UUID(adult["user_id"]) if adult.get("user_id") else None
        external = None if assignee else (adult.get("name") or "")
        for item in adult.get("tasks") or []:
            key, due = item["id"], dt.date.fromisoformat(item["due"])
            wanted.add(key)
            task = current.get(key)
            if task is None:
                task = add_task(
                    session, None, student=student, kind="plan_action", title=item["title"],
                    due_date=due, assignee_id=assignee, plan=plan, external=external, key=key,
                    version_number=version.number,
                )  # fmt: skip
                task.created_by = actor_id
                continue
            changed: list[str] = []
            if task.title != item["title"]:
                task.title, changed = item["title"], [*changed, "title"]
            if task.due_date != due:
                task.due_date, changed = due, [*changed, "due_date"]
            if task.assignee_id != assignee:
                task.assignee_id, changed = assignee, [*changed, "assignee_id"]
            if (task.external or None) != (external or None):
                task.external, changed = external, [*changed, "external"]
            task.version_number = version.number
            if changed:
                audit.record(
                    session, AuditAction.PLAN_WRITE, object_type="plan_task", object_id=task.id,
                    student_id=task.student_id, school_id=task.school_id, fields=changed,
                    detail={"step": "task_update", "version": version.number},
                )  # fmt: skip
    for key, task in current.items():
        if key not in wanted:
            TASK_STATES.move(task, TaskState.CANCELLED)
            _audit_task(session, AuditAction.TASK_CANCEL, task, version=version.number)
    session.flush()


def may_complete(principal: Principal, task: PlanTask) -> bool:
    if task.assignee_id is not None:
        return task.assignee_id == principal.user_id
    return task.school_id in principal.school_ids(Role.PSYCH_TEACHER)


def get_task(session: Session, principal: Principal, task_id: uuid.UUID) -> PlanTask:
    """The task if ``principal`` may complete it (else NotFound / Forbidden)."""
    task = session.get(PlanTask, task_id)
    if task is None:
        raise NotFound(_l("No such task."))
    ensure(principal, Permission.TASKS_OWN)
    if not may_complete(principal, task):
        raise Forbidden(
            Permission.TASKS_OWN, task, rule="task_assignee_only",
            message=_l("Only the person the task is for may mark it done."),
        )  # fmt: skip
    return task


def complete_task(
    session: Session,
    principal: Principal,
    task_id: uuid.UUID,
    note: str | None,
    *,
    now: dt.datetime | None = None,
) -> PlanTask:
    """Mark an open task done with an optional short note (encrypted)."""
    task = get_task(session, principal, task_id)
    ensure_not_sealed(session.get_one(Student, task.student_id))
    note = (note or "").strip()
    if len(note) > MAX_TEXT // 4:
        raise PlanError(_l("%(field)s is longer than %(n)s characters."), field=_l("Note"),
                        n=MAX_TEXT // 4)  # fmt: skip
    TASK_STATES.move(task, TaskState.DONE)
    task.done_at, task.done_by = now or utcnow(), principal.user_id
    if note:
        task.done_note = note
    session.flush()
    audit.record(
        session, AuditAction.TASK_DONE, object_type="plan_task", object_id=task.id,
        student_id=task.student_id, school_id=task.school_id,
        fields=["done_note"] if note else [], detail={"kind": task.kind},
    )  # fmt: skip
    return task


def finish_system_tasks(
    session: Session, plan: Plan, actor_id: uuid.UUID | None, *kinds: str
) -> int:
    """Mark the plan's open system tasks of ``kinds`` done (the plan was written or reviewed)."""
    tasks = open_tasks(session, plan.id, *kinds)
    for task in tasks:
        TASK_STATES.move(task, TaskState.DONE)
        task.done_at, task.done_by = utcnow(), actor_id
        _audit_task(session, AuditAction.TASK_DONE, task, by_version=True)
    return len(tasks)


def cancel_tasks_for_plan(session: Session, plan: Plan) -> int:
    """Cancel every open task of the plan (closed or cancelled); one audit entry; how many."""
    tasks = open_tasks(session, plan.id)
    for task in tasks:
        TASK_STATES.move(task, TaskState.CANCELLED)
    if tasks:
        audit.record(
            session, AuditAction.TASK_CANCEL, object_type="plan", object_id=plan.id,
            student_id=plan.student_id, school_id=plan.school_id,
            detail={"cancelled": len(tasks), "plan_state": plan.state},
        )  # fmt: skip
    session.flush()
    return len(tasks)


__all__ = [
    "DEFAULT_TITLES", "SYSTEM_KINDS", "TASK_KIND_LABELS", "add_task", "cancel_tasks_for_plan", "complete_task",
    "display_title", "finish_system_tasks", "get_task", "may_complete", "open_tasks",
    "sync_from_version",
]  # fmt: skip
