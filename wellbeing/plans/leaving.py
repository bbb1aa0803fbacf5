"""The plan of a student who leaves the school: for good (``STUDENT_LEFT``) or for another
school of the district (``STUDENT_TRANSFERRED``).

**Left or graduated.** The record is sealed (no one writes it again), so the open plan ends,
as the system, with the reason "The student left the school on <date>." (or "graduated on"),
in the district's language (``alerts.leaving.leaving_note``: one text for the alert, the plan):

* in effect or under review → **closed** (its versions stay as history);
* proposed or being written for the first time → **cancelled** (nothing was ever in effect);
* waiting for sign-off → back the way a return would take it (``review`` when a version is in
  effect, else ``draft``), then closed or cancelled as above: the table has no direct move
  from ``submitted``, and an unsigned version must not take effect on the way out.

Its open tasks are cancelled (``tasks.cancel_tasks_for_plan``), and so are the student's open
tasks tied to no plan. Each change is audited like a person's close (``PLAN_WRITE`` with
``reason: student_left``; ``TASK_CANCEL``), in the leaving's transaction.

**Transferred.** ``plans/transfer.py`` moves the open plan and its open tasks to the new school.
Here: an open task assigned to a member of staff of the school the student left (a membership
there, none at the new school) goes to the new school's psychology teachers' pool
(``assignee_id`` empty: any of them may do it, see ``tasks.may_complete``), audited per task
(``PLAN_WRITE``, field ``assignee_id``, ``step: transfer_reassign``). Tasks of guardians and
outside people (already the pool's) and of district staff stay as they are. The next version of
the plan names the new school's adults (``services._check_people`` refuses the old ones).

Imported by ``plans/services.py`` so the subscriptions are in place with the services.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..alerts.leaving import leaving_note
from ..auth.models import Membership
from ..core import audit
from ..core.audit import AuditAction
from ..db import utcnow
from ..students.events import STUDENT_LEFT, STUDENT_TRANSFERRED, StudentLeft, StudentTransferred
from .models import PLAN_STATES, TASK_STATES, Plan, PlanState, PlanTask, TaskState
from .queries import open_plan
from .signoff import audit_plan
from .tasks import cancel_tasks_for_plan

# The last move of an open plan when its student leaves (SUBMITTED first steps back).
_ENDS = {
    PlanState.PROPOSED: PlanState.CANCELLED,
    PlanState.DRAFT: PlanState.CANCELLED,
    PlanState.ACTIVE: PlanState.CLOSED,
    PlanState.REVIEW: PlanState.CLOSED,
}


def end_for_leaving(
    session: Session, left: StudentLeft, *, now: dt.datetime | None = None
) -> tuple[Plan | None, int]:
    """Close or cancel the student's open plan and cancel the open tasks; returns the plan
    (None when there was none) and how many tasks were cancelled."""
    plan = open_plan(session, left.student_id)
    cancelled = 0
    if plan is not None:
        if plan.state == PlanState.SUBMITTED:
            back = PlanState.REVIEW if plan.effective_version else PlanState.DRAFT
            PLAN_STATES.move(plan, back)
        target = _ENDS[PlanState(plan.state)]
        PLAN_STATES.move(plan, target)
        plan.close_reason = leaving_note(left.status, left.left_on)
        plan.closed_at = now or utcnow()
        plan.draft, plan.draft_by, plan.draft_writers = None, None, None
        session.flush()
        cancelled = cancel_tasks_for_plan(session, plan)
        audit_plan(
            session, AuditAction.PLAN_WRITE, plan, fields=["close_reason"], step=str(target),
            reason="student_left",
        )  # fmt: skip
    loose = list(
        session.scalars(
            select(PlanTask).where(
                PlanTask.student_id == left.student_id,
                PlanTask.state == TaskState.OPEN,
                PlanTask.plan_id.is_(None),
            )
        )
    )
    for task in loose:
        TASK_STATES.move(task, TaskState.CANCELLED)
    if loose:
        audit.record(
            session, AuditAction.TASK_CANCEL, object_type="student", object_id=left.student_id,
            student_id=left.student_id, school_id=left.school_id,
            detail={"cancelled": len(loose), "reason": "student_left"},
        )  # fmt: skip
    session.flush()
    return plan, cancelled + len(loose)


def on_student_left(session: Session, left: StudentLeft) -> None:
    plan, tasks = end_for_leaving(session, left)
    left.closed["plans"] += plan is not None
    left.closed["tasks"] += tasks


def reassign_for_transfer(session: Session, moved: StudentTransferred) -> list[PlanTask]:
    """Open tasks about the student assigned to staff of the school left go to the new
    school's psychology teachers' pool; returns them."""
    old_staff = select(Membership.user_id).where(Membership.school_id == moved.old_school_id)
    new_staff = select(Membership.user_id).where(Membership.school_id == moved.new_school_id)
    tasks = list(
        session.scalars(
            select(PlanTask)
            .where(
                PlanTask.student_id == moved.student_id,
                PlanTask.state == TaskState.OPEN,
                PlanTask.assignee_id.in_(old_staff),
                PlanTask.assignee_id.not_in(new_staff),
            )
            .order_by(PlanTask.created_at, PlanTask.id)
        )
    )
    for task in tasks:
        was = task.assignee_id
        task.assignee_id = None
        task.school_id = moved.new_school_id  # as plans/transfer.py does, whichever runs first
        audit.record(
            session, AuditAction.PLAN_WRITE, object_type="plan_task", object_id=task.id,
            student_id=task.student_id, school_id=moved.new_school_id, fields=["assignee_id"],
            detail={"step": "transfer_reassign", "from_user": was,
                    "from_school": moved.old_school_id, "to_school": moved.new_school_id},
        )  # fmt: skip
    session.flush()
    return tasks


def on_student_transferred(session: Session, moved: StudentTransferred) -> None:
    reassign_for_transfer(session, moved)


STUDENT_LEFT.subscribe(on_student_left)
STUDENT_TRANSFERRED.subscribe(on_student_transferred)
