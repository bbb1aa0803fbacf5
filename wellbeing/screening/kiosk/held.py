"""Answers held for review (:class:`~.models.HeldAnswers`): listed to the psychology teacher on
the screening review page, and marked reviewed by them (kept, encrypted, either way)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ...core import audit
from ...core.audit import AuditAction
from ...core.authz import Permission, Principal, Role, can, ensure
from ...core.errors import NotFound
from ...db import utcnow
from ...students.models import Student
from ..errors import ScreeningError
from ..models import Campaign, HeldAnswers


@dataclass
class HeldRow:
    held: HeldAnswers
    student: Student
    campaign: Campaign
    totals: dict[str, int]  # instrument code → sum of the answered items


def pending(session: Session, actor: Principal, limit: int = 200) -> list[HeldRow]:
    """Held answers not reviewed yet, of students ``actor`` may decide tiers for; oldest first."""
    school_ids = list(actor.school_ids(Role.PSYCH_TEACHER))
    if not school_ids:
        return []
    stmt = (
        select(HeldAnswers, Student, Campaign)
        .join(Student, Student.id == HeldAnswers.student_id)
        .join(Campaign, Campaign.id == HeldAnswers.campaign_id)
        .where(HeldAnswers.school_id.in_(school_ids), HeldAnswers.reviewed_at.is_(None))
        .order_by(HeldAnswers.created_at)
        .limit(limit)
    )
    rows = []
    for held, student, campaign in session.execute(stmt):
        if not can(actor, Permission.TIER_DECIDE, student):
            continue
        answers = (held.data or {}).get("answers", {})
        totals = {
            code: sum(v for v in items.values() if isinstance(v, int))
            for code, items in answers.items()
        }
        rows.append(HeldRow(held, student, campaign, totals))
    return rows


def mark_reviewed(
    session: Session, actor: Principal, held_id: uuid.UUID, now: dt.datetime | None = None
) -> HeldAnswers:
    """The psychology teacher has looked at the held answers (they stay stored)."""
    held = session.get(HeldAnswers, held_id)
    if held is None:
        raise NotFound(_l("These answers do not exist."))
    student = session.get(Student, held.student_id)
    ensure(actor, Permission.TIER_DECIDE, student)
    if held.reviewed_at is not None:
        raise ScreeningError(_l("These answers were already marked as reviewed."))
    held.reviewed_at = now or utcnow()
    held.reviewed_by = actor.user_id
    audit.record(
        session, AuditAction.SCREENING_CAMPAIGN, object_type="screening_held", object_id=held.id,
        student_id=held.student_id, school_id=held.school_id, detail={"op": "held_reviewed"},
    )  # fmt: skip
    return held


__all__ = ["HeldRow", "mark_reviewed", "pending"]
