"""What a tier change asks of a student's plan: the proposal when a student reaches orange or
red (the ``TIER_CHANGED`` subscriber; ``bulk.py`` is its bulk form, and leaves the same rows).

A student who reaches orange or red with no open plan gets a *proposed* plan due in
``PROPOSAL_DAYS`` (the school's local date) and a ``write_plan`` task for the school's
psychology teachers due the same day. When the student already has a plan in effect and the
tier rises above the tier its version was written for, the psychology teachers get a
``review_plan`` task due in ``PROPOSAL_DAYS`` (chosen over moving ``review_due``: the task is
visible on the workbench and in the agenda, and the version's own review date stays what was
signed). Plans being written, waiting for sign-off or under review are left alone; a
proposal's ``proposed_tier`` follows the tier up. Only active students (not left or graduated).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from ..core.audit import AuditAction
from ..db import utcnow
from ..risk.events import TIER_CHANGED, TierChanged
from ..screening.clock import local_today
from ..students.models import Student, StudentStatus
from . import tasks
from .bulk import PROPOSAL_TIERS, on_tier_changed_many
from .models import PROPOSAL_DAYS, Plan, PlanState
from .queries import open_plan, version
from .signoff import audit_plan


def propose_for(
    session: Session, student: Student, tier: int, *, now: dt.datetime | None = None
) -> Plan | None:
    """React to ``student`` reaching ``tier`` (see the module docstring); the new proposed
    plan, or None when none was made."""
    if tier not in PROPOSAL_TIERS or student.status != StudentStatus.ACTIVE:
        return None
    today = local_today(now or utcnow())
    due = today + dt.timedelta(days=PROPOSAL_DAYS)
    plan = open_plan(session, student.id)
    if plan is None:
        plan = Plan(
            id=uuid.uuid4(), student_id=student.id, school_id=student.school_id,
            state=PlanState.PROPOSED, proposed_tier=tier, proposal_due=due, latest_version=0,
        )  # fmt: skip
        session.add(plan)
        session.flush()
        audit_plan(session, AuditAction.PLAN_WRITE, plan, step="proposed", tier=tier)
        tasks.add_task(session, None, student=student, kind="write_plan", title="",
                       due_date=due, plan=plan)  # fmt: skip
        return plan
    if plan.state == PlanState.PROPOSED and tier > (plan.proposed_tier or 0):
        plan.proposed_tier = tier
    elif plan.state == PlanState.ACTIVE and plan.effective_version:
        current = version(session, plan.id, plan.effective_version)
        if (
            current is not None
            and tier > current.tier
            and not tasks.open_tasks(session, plan.id, "review_plan")
        ):
            tasks.add_task(session, None, student=student, kind="review_plan", title="",
                           due_date=due, plan=plan)  # fmt: skip
    return None


def on_tier_changed(session: Session, change: TierChanged) -> None:
    if change.to_tier in PROPOSAL_TIERS:
        propose_for(session, change.load_student(session), change.to_tier, now=change.decided_at)


TIER_CHANGED.subscribe(on_tier_changed, many=on_tier_changed_many)

__all__ = ["on_tier_changed", "propose_for"]
