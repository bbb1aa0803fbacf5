"""Step-down from red: a person's request is stored *pending* and takes effect only when a
second person (``TIER_APPROVE_STEPDOWN`` on the student, not the requester) approves it; an
approver may reject it, the requester may withdraw it."""

from __future__ import annotations

import datetime as dt
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..db import utcnow
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from .decisions import RED, TierError, next_effective, record_tier_change
from .models import APPLIED, DECISION_STATES, PENDING, REJECTED, WITHDRAWN, TierDecision


def _pending_stepdown(session: Session, student_id: uuid.UUID) -> TierDecision | None:
    return session.scalar(
        select(TierDecision).where(
            TierDecision.student_id == student_id, TierDecision.state == PENDING
        )
    )


def request_stepdown(
    session: Session,
    actor: Principal,
    student: Student,
    tier: int,
    *,
    source: str,
    reason: str,
    source_id: uuid.UUID | None,
    now: dt.datetime,
) -> TierDecision:
    if _pending_stepdown(session, student.id) is not None:
        raise TierError(_l("a step-down from red is already waiting for approval"))
    decision = TierDecision(
        student_id=student.id,
        school_id=student.school_id,
        from_tier=RED,
        to_tier=tier,
        source=source,
        source_id=source_id,
        provisional=False,
        kind="stepdown",
        state=PENDING,
        decided_by=actor.user_id,
        decided_at=now,
        reason=reason,
    )
    session.add(decision)
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CHANGE,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        detail={"from": RED, "to": tier, "source": source, "status": PENDING},
    )
    return decision


def _load_pending(
    session: Session, decision: TierDecision | uuid.UUID
) -> tuple[TierDecision, Student]:
    if isinstance(decision, uuid.UUID):
        found = session.get(TierDecision, decision)
        if found is None:
            raise TierError(_l("no such step-down request"))
        decision = found
    student = session.get(Student, decision.student_id)
    if student is None:  # pragma: no cover (foreign key)
        raise TierError(_l("no such student"))
    return decision, student


def approve_stepdown(
    session: Session,
    actor: Principal,
    decision: TierDecision | uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> TierDecision:
    """A second person approves a pending step-down from red: the tier changes now."""
    decision, student = _load_pending(session, decision)
    ensure(actor, Permission.TIER_APPROVE_STEPDOWN, student)
    ensure_not_sealed(student)
    if not DECISION_STATES.allowed(decision.state, APPLIED):
        raise TierError(_l("this step-down is no longer waiting for approval"))
    if decision.decided_by == actor.user_id:
        raise TierError(_l("a second person must approve a step-down from red"))
    if student.tier != decision.from_tier:
        raise TierError(
            _l("the student's tier changed since the request; withdraw it and decide again")
        )
    now = now or utcnow()
    old = student.tier
    DECISION_STATES.move(decision, APPLIED)
    decision.approved_by, decision.approved_at = actor.user_id, now
    decision.effective_at = next_effective(session, student.id, now)
    record_tier_change(
        session, student, old, decision, decision.provisional, {"status": "approved"}
    )
    return decision


def reject_stepdown(
    session: Session,
    actor: Principal,
    decision: TierDecision | uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> TierDecision:
    """An approver declines the step-down, or the requester withdraws it; the tier stays red."""
    decision, student = _load_pending(session, decision)
    withdrawing = decision.decided_by == actor.user_id
    ensure(
        actor, Permission.TIER_DECIDE if withdrawing else Permission.TIER_APPROVE_STEPDOWN, student
    )
    target = WITHDRAWN if withdrawing else REJECTED
    if not DECISION_STATES.allowed(decision.state, target):
        raise TierError(_l("this step-down is no longer waiting for approval"))
    DECISION_STATES.move(decision, target)
    decision.approved_by, decision.approved_at = actor.user_id, now or utcnow()
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CHANGE,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        detail={"from": decision.from_tier, "to": decision.to_tier, "status": decision.state},
    )
    return decision
