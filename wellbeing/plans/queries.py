"""Read-only lookups of plans for pages, the workbench and the API (never write, never audit:
the services that show a plan's content audit the read; these lists show states and dates).

The lists (:func:`signoff_queue`, :func:`reviews_due`, :func:`proposals_due`) are cut to the
principal's reach in SQL: the schools where they hold a role with the permission, and for
district counsellors the students the district is involved with (as ``core.authz`` decides
one student at a time).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from ..core.authz import ROLE_PERMISSIONS, Permission, Principal, Role
from ..students.models import Student
from .models import OPEN_PLAN_STATES, Plan, PlanSignoff, PlanState, PlanVersion

# The reviews list shows plans whose review falls within this many days (and overdue ones).
REVIEW_HORIZON_DAYS = 7


@dataclass(frozen=True)
class PlanRow:
    """A plan in a list, with its student (name it with the student chip)."""

    plan: Plan
    student: Student

    @property
    def due(self) -> dt.date | None:
        if self.plan.state == PlanState.PROPOSED or self.plan.effective_version is None:
            return self.plan.proposal_due
        return self.plan.review_due


def open_plan(session: Session, student_id: uuid.UUID) -> Plan | None:
    """The student's plan that is neither closed nor cancelled (at most one)."""
    return session.scalar(
        select(Plan).where(Plan.student_id == student_id, Plan.state.in_(OPEN_PLAN_STATES))
    )


def plans_of(session: Session, student_id: uuid.UUID) -> list[Plan]:
    """Every plan of the student, newest first (closed and cancelled ones too)."""
    return list(
        session.scalars(
            select(Plan).where(Plan.student_id == student_id).order_by(Plan.created_at.desc())
        )
    )


def versions(session: Session, plan_id: uuid.UUID) -> list[PlanVersion]:
    return list(
        session.scalars(
            select(PlanVersion).where(PlanVersion.plan_id == plan_id).order_by(PlanVersion.number)
        )
    )


def version(session: Session, plan_id: uuid.UUID, number: int) -> PlanVersion | None:
    return session.scalar(
        select(PlanVersion).where(PlanVersion.plan_id == plan_id, PlanVersion.number == number)
    )


def signoffs(session: Session, plan_id: uuid.UUID) -> list[PlanSignoff]:
    """Every decision on the plan's versions, oldest first."""
    return list(
        session.scalars(
            select(PlanSignoff)
            .where(PlanSignoff.plan_id == plan_id)
            .order_by(PlanSignoff.created_at, PlanSignoff.id)
        )
    )


def last_signed(session: Session, plan_id: uuid.UUID) -> PlanVersion | None:
    """The newest version that was signed off (what a material change is measured against)."""
    return session.scalar(
        select(PlanVersion)
        .join(PlanSignoff, PlanSignoff.version_id == PlanVersion.id)
        .where(PlanVersion.plan_id == plan_id, PlanSignoff.decision == "signed")
        .order_by(PlanVersion.number.desc())
        .limit(1)
    )


def reach(principal: Principal, permission: Permission) -> ColumnElement[bool]:
    """SQL: the plans (joined to their student) ``principal`` may use ``permission`` on."""
    clauses: list[ColumnElement[bool]] = []
    schools = [
        s.school_id
        for s in principal.scopes
        if s.school_id and s.class_id is None and permission in ROLE_PERMISSIONS[s.role]
    ]
    if schools:
        clauses.append(Plan.school_id.in_(schools))
    if any(s.role == Role.COUNSELLOR and permission in ROLE_PERMISSIONS[s.role]
           for s in principal.scopes):  # fmt: skip
        clauses.append(Student.district_involved.is_(True))
    if principal.token_scopes is not None and permission not in principal.token_scopes:
        return false()
    return or_(*clauses) if clauses else false()


def _rows(session: Session, stmt: Any, limit: int) -> list[PlanRow]:
    return [PlanRow(plan, student) for plan, student in session.execute(stmt.limit(limit))]


def signoff_queue(
    session: Session, principal: Principal, today: dt.date, limit: int = 50
) -> list[PlanRow]:
    """Plans waiting for sign-off that ``principal`` may sign (not those they wrote), oldest
    submission first. ``today`` is unused but kept for the workbench's uniform calls."""
    del today
    mine = principal.user_id.hex
    stmt = (
        select(Plan, Student, PlanVersion.writers)
        .join(Student, Student.id == Plan.student_id)
        .join(
            PlanVersion,
            (PlanVersion.plan_id == Plan.id) & (PlanVersion.number == Plan.latest_version),
        )
        .where(Plan.state == PlanState.SUBMITTED, reach(principal, Permission.PLANS_SIGNOFF))
        .where(PlanVersion.author_id != principal.user_id)
        .order_by(PlanVersion.created_at, Plan.id)
    )
    rows = [
        PlanRow(plan, student)
        for plan, student, writers in session.execute(stmt)
        if mine not in (writers or [])
    ]
    return rows[:limit]


def reviews_due(
    session: Session, principal: Principal, today: dt.date, limit: int = 50
) -> list[PlanRow]:
    """Plans in effect whose review is due within ``REVIEW_HORIZON_DAYS`` (or overdue), for
    those who write plans; soonest first."""
    horizon = today + dt.timedelta(days=REVIEW_HORIZON_DAYS)
    stmt = (
        select(Plan, Student)
        .join(Student, Student.id == Plan.student_id)
        .where(
            Plan.state.in_((PlanState.ACTIVE, PlanState.REVIEW)),
            Plan.review_due <= horizon,
            reach(principal, Permission.PLANS_WRITE),
        )
        .order_by(Plan.review_due, Plan.id)
    )
    return _rows(session, stmt, limit)


def proposals_due(
    session: Session, principal: Principal, today: dt.date, limit: int = 50
) -> list[PlanRow]:
    """Proposed plans (and first drafts not yet saved as a version), for those who write
    plans; soonest due first. ``today`` is unused but kept for the workbench's uniform calls."""
    del today
    stmt = (
        select(Plan, Student)
        .join(Student, Student.id == Plan.student_id)
        .where(
            Plan.state.in_((PlanState.PROPOSED, PlanState.DRAFT)),
            Plan.latest_version == 0,
            reach(principal, Permission.PLANS_WRITE),
        )
        .order_by(Plan.proposal_due.is_(None), Plan.proposal_due, Plan.created_at)
    )
    return _rows(session, stmt, limit)


__all__ = [
    "REVIEW_HORIZON_DAYS", "PlanRow", "last_signed", "open_plan", "plans_of", "proposals_due",
    "reach", "reviews_due", "signoff_queue", "signoffs", "version", "versions",
]  # fmt: skip
