"""Read-side queries of the risk module."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..core.authz import Permission, Principal, Role, can
from ..orgs.models import School
from ..students.models import Student
from .models import PENDING, TierDecision


def pending_stepdowns(
    session: Session, principal: Principal, limit: int = 200
) -> list[tuple[TierDecision, Student]]:
    """Step-downs from red waiting for a second person that ``principal`` may approve."""
    leader_schools = principal.school_ids(Role.SCHOOL_LEADER)
    conditions = []
    if leader_schools:
        conditions.append(Student.school_id.in_(leader_schools))
    if Role.COUNSELLOR in principal.roles:
        conditions.append(Student.district_involved.is_(True))
    if not conditions:
        return []
    rows = session.execute(
        select(TierDecision, Student)
        .join(Student, Student.id == TierDecision.student_id)
        .where(TierDecision.state == PENDING, or_(*conditions))
        .order_by(TierDecision.decided_at)
        .limit(limit)
    ).all()
    return [(d, s) for d, s in rows if can(principal, Permission.TIER_APPROVE_STEPDOWN, s)]


def display_names(session: Session, user_ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    ids = {i for i in user_ids if i is not None}
    if not ids:
        return {}
    return dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all()
    )


def school_names(session: Session, school_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = set(school_ids)
    if not ids:
        return {}
    return dict(
        session.execute(select(School.id, School.name).where(School.id.in_(ids))).tuples().all()
    )
