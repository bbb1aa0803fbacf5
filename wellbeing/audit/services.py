"""Break-glass grants once they exist (end, expiry, review) and the audited reads of the
supervisor's console.

A break-glass grant opens ONE student's record to a user who has no relationship to the student,
for ``settings.break_glass_minutes``. It is *started* by :mod:`wellbeing.breakglass` (above
``risk`` and ``alerts``: it reads the district's policy and tells the holder who was alerted);
every entry written under the grant carries its id (see :func:`wellbeing.core.audit.record`).
Its state (``BreakGlassState``) moves only through ``BREAK_GLASS_STATES``: active → ended (by
hand, before expiry) or expired (recorded by the expiry job). Supervisors review each grant
with a comment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core.audit import SYSTEM_ACTOR, AuditAction, current_actor, record
from ..core.authz import (
    RELATIONSHIP_RULES,
    Forbidden,
    Permission,
    Principal,
    break_glass_reach,
    can,
    ensure,
)
from ..core.errors import DomainError
from ..db import utcnow
from .models import BREAK_GLASS_STATES, AuditEntry, BreakGlass, BreakGlassState

P = Permission
REASON_MIN_CHARS = 15
COMMENT_MIN_CHARS = 5


class BreakGlassError(DomainError):
    """A break-glass request or review refused (lazy message, shown with ``flash_error``)."""

    code = "refused"


class AlreadyInScope(BreakGlassError):
    code = "in_scope"


class ReauthFailed(BreakGlassError):
    code = "reauth"


class AlreadyReviewed(BreakGlassError):
    code = "reviewed"
    status = 409


class OwnGrant(BreakGlassError):
    code = "own_grant"
    status = 409


def student_ref(student_id: uuid.UUID | str | None) -> str:
    """The short pseudonymous reference supervisors see instead of a name."""
    return "" if student_id is None else str(student_id).replace("-", "")[:8].upper()


def has_regular_access(principal: Principal, student: Any) -> bool:
    return can(principal, P.RECORD_READ, student)


def _route_rule(principal: Principal, permission: Permission, target: Any) -> bool:
    """A route that reads a record (declared with RECORD_READ / SCREENING_READ and no object)
    is open to a user holding a live grant; the service then checks the student itself, which
    only the granted student passes."""
    return (
        target is None
        and permission in {P.RECORD_READ, P.SCREENING_READ}
        and bool(break_glass_reach(principal))
    )


if _route_rule not in RELATIONSHIP_RULES:
    RELATIONSHIP_RULES.append(_route_rule)


# --------------------------------------------------------------------------- grants


def active_grant(
    session: Session, user_id: uuid.UUID, student_id: uuid.UUID, now: dt.datetime | None = None
) -> BreakGlass | None:
    now = now or utcnow()
    return session.scalar(
        select(BreakGlass)
        .where(
            BreakGlass.user_id == user_id,
            BreakGlass.student_id == student_id,
            BreakGlass.ended_at.is_(None),
            BreakGlass.expires_at > now,
        )
        .order_by(BreakGlass.started_at.desc())
        .limit(1)
    )


def end_break_glass(
    session: Session, principal: Principal, grant: BreakGlass, now: dt.datetime | None = None
) -> bool:
    """End a grant early (its holder, or a supervisor). Returns False when it had ended already
    (ended by hand or expired: nothing to do, nothing recorded)."""
    if grant.user_id != principal.user_id and not can(principal, P.AUDIT_REVIEW):
        raise Forbidden(P.BREAK_GLASS, grant)
    now = now or utcnow()
    if (
        not BREAK_GLASS_STATES.allowed(grant.state, BreakGlassState.ENDED)
        or grant.expires_at <= now
    ):
        return False
    BREAK_GLASS_STATES.move(grant, BreakGlassState.ENDED)
    grant.ended_at = now
    record(
        session, AuditAction.BREAK_GLASS_END, object_type="break_glass", object_id=grant.id,
        student_id=grant.student_id, purpose="break_glass",
        detail={"by": "holder" if grant.user_id == principal.user_id else "supervisor"},
        actor=dataclasses.replace(current_actor(), break_glass_id=grant.id),
    )  # fmt: skip
    return True


def close_expired_grants(session: Session, now: dt.datetime, *, limit: int = 500) -> int:
    """Record the end of grants that ran out (the scheduler, every minute): ``ended_at`` is
    set to the expiry time and an end entry tagged with the grant says so, so the trail shows
    when access stopped without anyone ending it. Access itself already stopped at expiry."""
    grants = session.scalars(
        select(BreakGlass)
        .where(BreakGlass.state == BreakGlassState.ACTIVE, BreakGlass.expires_at <= now)
        .order_by(BreakGlass.expires_at)
        .limit(limit)
    ).all()
    for grant in grants:
        BREAK_GLASS_STATES.move(grant, BreakGlassState.EXPIRED)
        grant.ended_at = grant.expires_at
        record(
            session, AuditAction.BREAK_GLASS_END, object_type="break_glass", object_id=grant.id,
            student_id=grant.student_id, purpose="break_glass", detail={"by": "expiry"},
            actor=dataclasses.replace(SYSTEM_ACTOR, break_glass_id=grant.id),
        )  # fmt: skip
    return len(grants)


def grant_status(grant: BreakGlass, now: dt.datetime | None = None) -> BreakGlassState:
    """The grant's state as people should read it: an active grant past its expiry is expired
    already (access stopped), even before the expiry job records it."""
    state = BreakGlassState(grant.state)
    if state is BreakGlassState.ACTIVE and grant.expires_at <= (now or utcnow()):
        return BreakGlassState.EXPIRED
    return state


def open_grant_for_review(session: Session, principal: Principal, grant: BreakGlass) -> None:
    """A supervisor opens a grant (its reason is shown): recorded."""
    ensure(principal, P.AUDIT_REVIEW)
    record(
        session, AuditAction.BREAK_GLASS_VIEW, object_type="break_glass", object_id=grant.id,
        student_id=grant.student_id, purpose="review", fields=["reason", "review_comment"],
    )  # fmt: skip


def review_break_glass(
    session: Session,
    principal: Principal,
    grant: BreakGlass,
    comment: str,
    now: dt.datetime | None = None,
) -> None:
    """Mark a grant reviewed with a comment; a supervisor never reviews their own grant."""
    ensure(principal, P.AUDIT_REVIEW)
    if grant.user_id == principal.user_id:
        raise OwnGrant(_l("Another supervisor must review your own break-glass access."))
    if grant.reviewed_at is not None:
        raise AlreadyReviewed(_l("This break-glass access was already reviewed."))
    comment = (comment or "").strip()
    if len(comment) < COMMENT_MIN_CHARS:
        raise BreakGlassError(_l("Write a review comment."))
    grant.reviewed_by_id = principal.user_id
    grant.reviewed_at = now or utcnow()
    grant.review_comment = comment
    record(
        session, AuditAction.BREAK_GLASS_REVIEW, object_type="break_glass", object_id=grant.id,
        student_id=grant.student_id, purpose="review", fields=["review_comment"],
        detail={"grant_user": grant.user_id},
    )  # fmt: skip


def entries_under_grant(session: Session, grant_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.break_glass_id == grant_id)
        )
        or 0
    )
