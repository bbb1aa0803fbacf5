"""Proposals for many students at once: the bulk form of the ``TIER_CHANGED`` subscription
(screening imports).

Leaves the rows :func:`~.services.propose_for` would leave, change by change in order: a
proposed plan and a ``write_plan`` task for each active student reaching orange or red with no
open plan; a proposal's ``proposed_tier`` raised to the highest tier reached; a ``review_plan``
task when a plan in effect was written for a lower tier (one open at a time). Students, open
plans, the tiers of the versions in effect and open review tasks are read with ``IN`` lookups
in chunks; rows are added in one flush. Audit: one ``plan_batch`` and one ``plan_task_batch``
entry per school with the counts, instead of one per plan and task.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.rawsql import chunks
from ..db import utcnow
from ..risk.events import TierChanged
from ..screening.clock import local_today
from ..students.models import Student
from .models import (
    OPEN_PLAN_STATES,
    PROPOSAL_DAYS,
    Plan,
    PlanState,
    PlanTask,
    PlanVersion,
    TaskState,
)
from .tasks import DEFAULT_TITLES

PROPOSAL_TIERS = (2, 3)


def on_tier_changed_many(session: Session, changes: Sequence[TierChanged]) -> None:
    wanted = [c for c in changes if c.to_tier in PROPOSAL_TIERS]
    if not wanted:
        return
    session.flush()
    ids = sorted({c.student_id for c in wanted})
    students: dict[uuid.UUID, tuple[uuid.UUID, str]] = {}
    plans: dict[uuid.UUID, Plan] = {}
    for part in chunks(ids):
        students.update(
            (sid, (school, status))
            for sid, school, status in session.execute(
                select(Student.id, Student.school_id, Student.status).where(Student.id.in_(part))
            )
        )
        plans.update(
            (p.student_id, p)
            for p in session.scalars(
                select(Plan).where(Plan.student_id.in_(part), Plan.state.in_(OPEN_PLAN_STATES))
            )
        )
    effective = _effective_tiers(session, plans)
    reviewing = _open_review_tasks(session, plans)
    made_plans: list[Plan] = []
    made_tasks: list[PlanTask] = []
    for change in wanted:
        school_id, status = students[change.student_id]
        if status != "active":
            continue
        due = local_today(change.decided_at or utcnow()) + dt.timedelta(days=PROPOSAL_DAYS)
        plan = plans.get(change.student_id)
        if plan is None:
            plan = Plan(
                id=uuid.uuid4(), student_id=change.student_id, school_id=school_id,
                state=PlanState.PROPOSED, proposed_tier=change.to_tier, proposal_due=due,
                latest_version=0,
            )  # fmt: skip
            plans[change.student_id] = plan
            made_plans.append(plan)
            made_tasks.append(_task(plan, "write_plan", due))
        elif plan.state == PlanState.PROPOSED and change.to_tier > (plan.proposed_tier or 0):
            plan.proposed_tier = change.to_tier
        elif (
            plan.state == PlanState.ACTIVE
            and plan.id in effective
            and change.to_tier > effective[plan.id]
            and plan.id not in reviewing
        ):
            reviewing.add(plan.id)
            made_tasks.append(_task(plan, "review_plan", due))
    session.add_all(made_plans)
    session.flush()
    session.add_all(made_tasks)
    session.flush()
    _audit(session, made_plans, made_tasks)


def _task(plan: Plan, kind: str, due: dt.date) -> PlanTask:
    task = PlanTask(
        id=uuid.uuid4(), student_id=plan.student_id, school_id=plan.school_id, plan_id=plan.id,
        kind=kind, state=TaskState.OPEN, due_date=due,
    )  # fmt: skip
    task.title = DEFAULT_TITLES[kind]
    return task


def _effective_tiers(session: Session, plans: dict[uuid.UUID, Plan]) -> dict[uuid.UUID, int]:
    active = [p for p in plans.values() if p.state == PlanState.ACTIVE and p.effective_version]
    tiers: dict[uuid.UUID, int] = {}
    wanted = {(p.id, p.effective_version) for p in active}
    for part in chunks(sorted(p.id for p in active)):
        for plan_id, number, tier in session.execute(
            select(PlanVersion.plan_id, PlanVersion.number, PlanVersion.tier).where(
                PlanVersion.plan_id.in_(part)
            )
        ):
            if (plan_id, number) in wanted:
                tiers[plan_id] = tier
    return tiers


def _open_review_tasks(session: Session, plans: dict[uuid.UUID, Plan]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for part in chunks(sorted(p.id for p in plans.values())):
        found.update(
            pid
            for pid in session.scalars(
                select(PlanTask.plan_id).where(
                    PlanTask.plan_id.in_(part),
                    PlanTask.kind == "review_plan",
                    PlanTask.state == TaskState.OPEN,
                )
            )
            if pid is not None
        )
    return found


def _audit(session: Session, plans: list[Plan], tasks: list[PlanTask]) -> None:
    per_school: dict[uuid.UUID, dict[str, Any]] = {}
    for plan in plans:
        per_school.setdefault(plan.school_id, {"plans": 0, "tasks": {}})["plans"] += 1
    for task in tasks:
        counts = per_school.setdefault(task.school_id, {"plans": 0, "tasks": {}})["tasks"]
        counts[task.kind] = counts.get(task.kind, 0) + 1
    for school_id, counts in per_school.items():
        if counts["plans"]:
            audit.record(
                session, AuditAction.PLAN_WRITE, object_type="plan_batch", school_id=school_id,
                detail={"step": "proposed", "plans": counts["plans"]},
            )  # fmt: skip
        if counts["tasks"]:
            audit.record(
                session, AuditAction.TASK_CREATE, object_type="plan_task_batch",
                school_id=school_id, detail={"tasks": counts["tasks"]},
            )  # fmt: skip


__all__ = ["on_tier_changed_many"]
