"""Break-glass access (start, end, review) and the audited reads of the supervisor's console.

A break-glass grant opens ONE student's record to a user who has no relationship to the student,
for ``settings.break_glass_minutes``, after a written reason and re-entering the password (and
the TOTP code when the user has one). The reason is encrypted; every entry written under the
grant carries its id (see :func:`wellbeing.core.audit.record`); supervisors are alerted through
``events.BREAK_GLASS_STARTED`` and review each grant with a comment.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..auth.services import verify_password, verify_totp
from ..config import Settings
from ..core import events
from ..core.audit import SYSTEM_ACTOR, AuditAction, Outcome, current_actor, record
from ..core.authz import (
    RELATIONSHIP_RULES,
    Forbidden,
    Permission,
    Principal,
    Role,
    break_glass_reach,
    can,
    ensure,
)
from ..db import utcnow
from .models import AuditEntry, BreakGlass

P = Permission
REASON_MIN_CHARS = 15
COMMENT_MIN_CHARS = 5


class BreakGlassError(Exception):
    """A break-glass request or review refused; ``code`` is a short token, ``message`` English
    (translated by the view)."""

    code = "refused"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class AlreadyInScope(BreakGlassError):
    code = "in_scope"


class ReauthFailed(BreakGlassError):
    code = "reauth"


class AlreadyReviewed(BreakGlassError):
    code = "reviewed"


class OwnGrant(BreakGlassError):
    code = "own_grant"


def student_ref(student_id: uuid.UUID | str | None) -> str:
    """The short pseudonymous reference supervisors see instead of a name."""
    return "" if student_id is None else str(student_id).replace("-", "")[:8].upper()


# --------------------------------------------------------------------------- policy


def may_break_glass(session: Session, principal: Principal, student: Any) -> bool:
    """Counsellors for any student; psychology teachers only for a student of a school they do
    not serve (their own school's students are in their scope already); supervisors only where
    the district's policy allows it (``break_glass.supervisors``, off by default): they audit
    everyone else's access, so reading case content themselves is the exception."""
    if not can(principal, P.BREAK_GLASS):
        return False
    roles = principal.roles
    if Role.COUNSELLOR in roles:
        return True
    if Role.PSYCH_TEACHER in roles and student.school_id not in principal.school_ids(
        Role.PSYCH_TEACHER
    ):
        return True
    if Role.SUPERVISOR in roles:
        return supervisors_may_break_glass(session, student)
    return False


def supervisors_may_break_glass(session: Session, student: Any) -> bool:
    from ..risk.policy import policy_for_student

    return policy_for_student(session, student).supervisor_break_glass


def refusal_reason(session: Session, principal: Principal, student: Any) -> str:
    """Why :func:`may_break_glass` said no, as a code: ``supervisor_policy`` when only the
    district's policy stands in the way, else ``role``."""
    if (
        Role.SUPERVISOR in principal.roles
        and can(principal, P.BREAK_GLASS)
        and not supervisors_may_break_glass(session, student)
    ):
        return "supervisor_policy"
    return "role"


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


def start_break_glass(
    session: Session,
    principal: Principal,
    user: User,
    settings: Settings,
    student: Any,
    *,
    reason: str,
    password: str,
    totp_code: str | None = None,
    now: dt.datetime | None = None,
) -> BreakGlass:
    """Check the policy and the re-authentication, then open the grant (audited, alerted)."""
    if not may_break_glass(session, principal, student):
        raise Forbidden(P.BREAK_GLASS, student, rule=refusal_reason(session, principal, student))
    if has_regular_access(principal, student):
        raise AlreadyInScope("You already have access to this student's record.")
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN_CHARS:
        raise BreakGlassError("Write the reason in at least 15 characters.")
    now = now or utcnow()
    factor = None
    if not verify_password(settings, user, password or ""):
        factor = "password"
    elif user.totp_enabled and not verify_totp(user, totp_code or "", now=now):
        factor = "totp"
    if factor is not None:
        record(
            session, AuditAction.REAUTH_FAILED, object_type="student", object_id=student.id,
            student_id=student.id, school_id=student.school_id, purpose="break_glass",
            detail={"factor": factor}, outcome=Outcome.DENIED,
        )  # fmt: skip
        raise ReauthFailed("Re-authentication failed: check your password and code.")
    grant = BreakGlass(
        user_id=user.id,
        student_id=student.id,
        started_at=now,
        expires_at=now + dt.timedelta(minutes=settings.break_glass_minutes),
        reason=reason,
    )
    session.add(grant)
    session.flush()
    record(
        session, AuditAction.BREAK_GLASS_START, object_type="break_glass", object_id=grant.id,
        student_id=student.id, school_id=student.school_id, purpose="break_glass",
        fields=["reason"],
        detail={"minutes": settings.break_glass_minutes, "expires_at": grant.expires_at,
                "factors": ["password", "totp"] if user.totp_enabled else ["password"]},
        actor=dataclasses.replace(current_actor(), break_glass_id=grant.id),
    )  # fmt: skip
    events.emit(events.BREAK_GLASS_STARTED, session, grant)
    return grant


def end_break_glass(
    session: Session, principal: Principal, grant: BreakGlass, now: dt.datetime | None = None
) -> bool:
    """End a grant early (its holder, or a supervisor). Returns False when it had ended already
    (ended by hand or expired: nothing to do, nothing recorded)."""
    if grant.user_id != principal.user_id and not can(principal, P.AUDIT_REVIEW):
        raise Forbidden(P.BREAK_GLASS, grant)
    now = now or utcnow()
    if grant.ended_at is not None or grant.expires_at <= now:
        return False
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
        .where(BreakGlass.ended_at.is_(None), BreakGlass.expires_at <= now)
        .order_by(BreakGlass.expires_at)
        .limit(limit)
    ).all()
    for grant in grants:
        grant.ended_at = grant.expires_at
        record(
            session, AuditAction.BREAK_GLASS_END, object_type="break_glass", object_id=grant.id,
            student_id=grant.student_id, purpose="break_glass", detail={"by": "expiry"},
            actor=dataclasses.replace(SYSTEM_ACTOR, break_glass_id=grant.id),
        )  # fmt: skip
    return len(grants)


def grant_status(grant: BreakGlass, now: dt.datetime | None = None) -> str:
    """ "active", "ended" (by hand, before expiry) or "expired"."""
    now = now or utcnow()
    if grant.ended_at is not None and grant.ended_at < grant.expires_at:
        return "ended"
    return "expired" if grant.expires_at <= now else "active"


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
        raise OwnGrant("Another supervisor must review your own break-glass access.")
    if grant.reviewed_at is not None:
        raise AlreadyReviewed("This break-glass access was already reviewed.")
    comment = (comment or "").strip()
    if len(comment) < COMMENT_MIN_CHARS:
        raise BreakGlassError("Write a review comment.")
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


@dataclasses.dataclass(frozen=True)
class Notified:
    """One person told of a break-glass grant when it started, and by which channels."""

    name: str  # the display name
    channels: tuple[str, ...]  # "inbox", "email"


def grant_notified(session: Session, grant: BreakGlass) -> list[Notified]:
    """Who the grant's alert reached (read back from the alert's recipients, so the message the
    holder sees says what really happened, never a reassuring guess)."""
    from ..alerts.models import Alert, AlertRecipient

    rows = session.execute(
        select(User.id, User.display_name, AlertRecipient.channel)
        .join(AlertRecipient, AlertRecipient.user_id == User.id)
        .join(Alert, Alert.id == AlertRecipient.alert_id)
        .where(Alert.kind == "break_glass", Alert.source_id == grant.id)
        .order_by(User.username)
    ).all()
    people: dict[uuid.UUID, tuple[str, list[str]]] = {}
    for user_id, name, channel in rows:
        channels = people.setdefault(user_id, (name, []))[1]
        if channel not in channels:
            channels.append(channel)
    return [Notified(n, tuple(sorted(c, reverse=True))) for n, c in people.values()]
