"""Recording one tier decision: the checks, the history's order, applying a change and
confirming the current level (the building blocks of ``services.apply_tier`` and the step-down
approval)."""

from __future__ import annotations

import datetime as dt
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Principal
from ..core.errors import DomainError
from ..students.models import Student
from .events import TIER_CHANGED, TierChanged
from .models import APPLIED, TIER_SOURCES, TierDecision
from .policy import policy_for_student

RED = 3
REASON_MAX = 2000
_TICK = dt.timedelta(microseconds=1)


class TierError(DomainError):
    """A refused tier decision; the message is safe to show to the user."""

    code = "tier_refused"


# --------------------------------------------------------------------------- single decisions


def check_tier(tier: object, source: str) -> None:
    """A tier is one of the ints 0..3 (not a bool, not 1.0); callers may hand in form data."""
    if not isinstance(tier, int) or isinstance(tier, bool) or tier not in (0, 1, 2, 3):
        raise TierError(_l("tier must be 0, 1, 2 or 3"))
    if source not in TIER_SOURCES:
        raise TierError(f"unknown tier source '{source}'")


def next_effective(session: Session, student_id: uuid.UUID, now: dt.datetime) -> dt.datetime:
    """``now``, or just after the student's latest applied decision (history stays ordered)."""
    last = session.scalar(
        select(func.max(TierDecision.effective_at)).where(
            TierDecision.student_id == student_id, TierDecision.state == APPLIED
        )
    )
    if last is not None:
        last = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
        if last >= now:
            return last + _TICK
    return now


def apply_decision(
    session: Session,
    actor: Principal | None,
    student: Student,
    tier: int,
    *,
    source: str,
    reason: str,
    provisional: bool,
    source_id: uuid.UUID | None,
    now: dt.datetime,
) -> TierDecision:
    old = student.tier
    decision = TierDecision(
        student_id=student.id,
        school_id=student.school_id,
        from_tier=old,
        to_tier=tier,
        source=source,
        source_id=source_id,
        provisional=provisional,
        kind="change",
        state=APPLIED,
        decided_by=actor.user_id if actor else None,
        decided_at=now,
        effective_at=next_effective(session, student.id, now),
        reason=reason,
    )
    session.add(decision)
    record_tier_change(
        session, student, old, decision, provisional,
        {"provisional": provisional, "by": "person" if actor else "rule"},
    )  # fmt: skip
    return decision


def record_tier_change(
    session: Session,
    student: Student,
    old: int,
    decision: TierDecision,
    provisional: bool,
    detail: dict[str, object],
) -> None:
    """Move the student to ``decision.to_tier``, audit it and tell the other modules (the one
    place a level actually changes: a direct decision or an approved step-down)."""
    _set_student_tier(session, student, old, decision.to_tier, provisional)
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CHANGE,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["tier"],
        detail={"from": old, "to": decision.to_tier, "source": decision.source, **detail},
    )
    TIER_CHANGED.emit(
        session,
        TierChanged.of(student, old, decision.to_tier, decision.id, decision.decided_at),
    )


def _set_student_tier(
    session: Session, student: Student, old: int, tier: int, provisional: bool
) -> None:
    student.tier = tier
    student.tier_provisional = provisional
    if tier > old and policy_for_student(session, student).involves_district(tier):
        student.district_involved = True


def confirm_decision(
    session: Session,
    actor: Principal,
    student: Student,
    *,
    source: str,
    reason: str,
    provisional: bool,
    source_id: uuid.UUID | None,
    now: dt.datetime,
) -> TierDecision:
    decision = TierDecision(
        student_id=student.id,
        school_id=student.school_id,
        from_tier=student.tier,
        to_tier=student.tier,
        source=source,
        source_id=source_id,
        provisional=provisional,
        kind="confirm",
        state=APPLIED,
        decided_by=actor.user_id,
        decided_at=now,
        effective_at=next_effective(session, student.id, now),
        reason=reason,
    )
    session.add(decision)
    student.tier_provisional = provisional
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CONFIRM,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["tier_provisional"],
        detail={"tier": student.tier, "source": source, "provisional": provisional},
    )
    return decision
