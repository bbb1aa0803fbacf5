"""Tier decisions, step-down approval, the district policy and special-care categories.

The tier state machine:

* a rule (``actor=None``) only ever raises a tier; a rule at or below the current level records
  nothing;
* a person sets any level with a written reason; the same level as now is a confirmation
  (clears ``tier_provisional``);
* a person's step-down from red is stored *pending* and takes effect only when a second person
  (``TIER_APPROVE_STEPDOWN`` on the student, not the requester) approves it;
* whenever the level changes, ``risk.events.TIER_CHANGED`` (a :class:`~.events.TierChanged`) is
  emitted in the same transaction, and raising to a tier the policy marks as district-involved
  sets ``student.district_involved``.

This module keeps the entry points; the parts live in :mod:`.decisions` (one decision),
:mod:`.stepdown`, :mod:`.bulk` (imports) and :mod:`.special_care`, re-exported here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..db import utcnow
from ..students import transfer as student_transfer
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from .bulk import apply_rule_tiers as apply_rule_tiers
from .decisions import REASON_MAX as REASON_MAX
from .decisions import RED as RED
from .decisions import TierError as TierError
from .decisions import apply_decision, check_tier, confirm_decision
from .models import APPLIED, DistrictPolicy, TierDecision
from .policy import PolicyError as PolicyError
from .policy import forget_policy, policy_for_student, validate_body
from .special_care import get_special_care as get_special_care
from .special_care import has_special_care as has_special_care
from .special_care import set_special_care as set_special_care
from .special_care import special_care_marker as special_care_marker
from .stepdown import approve_stepdown as approve_stepdown
from .stepdown import reject_stepdown as reject_stepdown
from .stepdown import request_stepdown


def apply_tier(
    session: Session,
    actor: Principal | None,
    student: Student,
    tier: int,
    *,
    source: str,
    reason: str | None = None,
    provisional: bool = False,
    source_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> TierDecision | None:
    """Record a tier decision and update the student's tier.

    ``actor=None`` is a rule: it only raises (returns None when ``tier`` is not above the
    current level). A person needs a written ``reason`` (when a person's raise comes from a
    module's own act -- a concern, a session, a referral -- and no reason is given, the source
    name is recorded as the reason token); lowering, confirming and ``source="manual"`` need
    ``TIER_DECIDE`` on the student. A person's step-down from red returns a *pending* decision
    (the tier is unchanged until :func:`approve_stepdown`).
    """
    check_tier(tier, source)
    now = now or utcnow()
    old = student.tier
    if actor is None:
        if tier <= old:
            return None
        token = (reason or source).strip()[:REASON_MAX]
        return apply_decision(
            session,
            None,
            student,
            tier,
            source=source,
            reason=token,
            provisional=provisional,
            source_id=source_id,
            now=now,
        )

    text = (reason or "").strip()
    needs_decide = source == "manual" or tier <= old
    if needs_decide:
        ensure(actor, Permission.TIER_DECIDE, student)
        ensure_not_sealed(student)
        if not text:
            raise TierError(_l("a written reason is required"))
    if len(text) > REASON_MAX:
        raise TierError(
            _l("the reason is too long (at most %(count)s characters)", count=REASON_MAX)
        )
    text = text or source

    if tier == old:
        return confirm_decision(
            session,
            actor,
            student,
            source=source,
            reason=text,
            provisional=provisional,
            source_id=source_id,
            now=now,
        )
    if old == RED and tier < RED:
        return request_stepdown(
            session, actor, student, tier, source=source, reason=text, source_id=source_id, now=now
        )
    return apply_decision(
        session,
        actor,
        student,
        tier,
        source=source,
        reason=text,
        provisional=provisional,
        source_id=source_id,
        now=now,
    )


# --------------------------------------------------------------------------- history


def tier_history(session: Session, student_id: uuid.UUID) -> list[TierDecision]:
    """Every decision about the student (applied, pending, rejected), oldest first."""
    return list(
        session.scalars(
            select(TierDecision)
            .where(TierDecision.student_id == student_id)
            .order_by(
                func.coalesce(TierDecision.effective_at, TierDecision.decided_at),
                TierDecision.decided_at,
            )
        )
    )


def replay(decisions: Sequence[TierDecision], start: int = 0) -> tuple[int, bool]:
    """Replay the applied decisions (in effective order) to ``(tier, provisional)``; raises
    :class:`TierError` when a decision does not start where the previous one ended."""
    tier, provisional = start, False
    applied = sorted(
        (d for d in decisions if d.state == APPLIED), key=lambda d: d.effective_at or d.decided_at
    )
    for d in applied:
        if d.from_tier != tier:
            raise TierError(f"history is broken at decision {d.id}")
        tier, provisional = d.to_tier, d.provisional
    return tier, provisional


def view_tier(
    session: Session, actor: Principal, student: Student, *, fields: Sequence[str] = ()
) -> list[TierDecision]:
    """The tier panel's data, audited as a sensitive read (TIER_VIEW; ``fields`` adds what
    else the page shows)."""
    ensure(actor, Permission.TIER_DECIDE, student)
    history = tier_history(session, student.id)
    audit.record(
        session,
        AuditAction.TIER_VIEW,
        object_type="student",
        object_id=student.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["tier", "tier_history", "tier_reason", *fields],
    )
    return history


# --------------------------------------------------------------------------- policy


def save_policy(
    session: Session, actor: Principal | None, district_id: uuid.UUID, body: Any
) -> DistrictPolicy:
    """Validate ``body`` and store it as the district's next policy version (audited)."""
    if actor is not None:
        ensure(actor, Permission.POLICY_MANAGE)
    validate_body(body)
    latest = session.scalar(
        select(func.max(DistrictPolicy.version)).where(DistrictPolicy.district_id == district_id)
    )
    row = DistrictPolicy(
        district_id=district_id,
        version=(latest or 0) + 1,
        body=body,
        created_by=actor.user_id if actor else None,
    )
    session.add(row)
    session.flush()
    forget_policy(session, district_id)
    audit.record(
        session,
        AuditAction.POLICY_CHANGE,
        object_type="district_policy",
        object_id=row.id,
        fields=sorted(body),
        detail={"district": district_id, "version": row.version},
    )
    return row


def policy_versions(session: Session, district_id: uuid.UUID) -> list[DistrictPolicy]:
    return list(
        session.scalars(
            select(DistrictPolicy)
            .where(DistrictPolicy.district_id == district_id)
            .order_by(DistrictPolicy.version.desc())
        )
    )


def _transfer_read_days(session: Session, student: Student) -> int:
    """How long a sending school reads what it wrote after a transfer: the district policy's
    ``records.transfer_read_days`` (``students`` is below the policy, so it asks through this)."""
    return policy_for_student(session, student).records.transfer_read_days


student_transfer.read_days_from(_transfer_read_days)


__all__ = [
    "PolicyError",
    "TierError",
    "apply_rule_tiers",
    "apply_tier",
    "approve_stepdown",
    "get_special_care",
    "has_special_care",
    "reject_stepdown",
    "replay",
    "save_policy",
    "set_special_care",
    "special_care_marker",
    "tier_history",
    "view_tier",
]
