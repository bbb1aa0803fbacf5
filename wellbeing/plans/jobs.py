"""Scheduled work of the plans module: overdue reviews and proposals become alerts.

A plan in effect (or under review) whose ``review_due`` is before the school's local today, and
a proposal or first draft whose ``proposal_due`` is before it, raises one alert through the
existing ladder (``plan_review_overdue`` / ``plan_proposal_overdue``, the plan as source).
``Plan.review_alerted_at`` records that the period was alerted, so each overdue period alerts
once; a version taking effect (a new review date) clears it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..alerts.services import raise_alert
from ..core.jobs import Job, JobContext
from ..screening.clock import local_today
from ..students.models import Student
from .models import Plan, PlanState

SCAN_BATCH = 500


def overdue_scan(session: Session, now: dt.datetime) -> int:
    """Raise the alerts of overdue reviews and proposals not alerted yet; how many."""
    today = local_today(now)
    raised = 0
    for states, column, kind in (
        ((PlanState.ACTIVE, PlanState.REVIEW), Plan.review_due, "plan_review_overdue"),
        ((PlanState.PROPOSED, PlanState.DRAFT), Plan.proposal_due, "plan_proposal_overdue"),
    ):
        while True:
            rows = session.execute(
                select(Plan, Student.tier)
                .join(Student, Student.id == Plan.student_id)
                .where(Plan.state.in_(states), column < today, Plan.review_alerted_at.is_(None))
                .order_by(column, Plan.id)
                .limit(SCAN_BATCH)
            ).all()
            for plan, tier in rows:
                plan.review_alerted_at = now
                raise_alert(
                    session, kind=kind, school_id=plan.school_id, student_id=plan.student_id,
                    source_id=plan.id, tier=max(tier, 1), now=now,
                )  # fmt: skip
            session.flush()
            raised += len(rows)
            if len(rows) < SCAN_BATCH:
                break
    return raised


def overdue_plans(ctx: JobContext) -> int:
    """Alert overdue plan reviews and proposals (once per overdue period); returns how many."""
    with ctx.db.session() as session:
        return overdue_scan(session, ctx.now)


JOBS = [Job(id="plans.overdue", func="wellbeing.plans.jobs:overdue_plans", seconds=3600)]
