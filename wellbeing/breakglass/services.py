"""Starting break-glass access: who may (the district's policy), the written reason and the
re-authentication, and who was told (read back from the alert's recipients).

The grant's table, its end, its expiry and its review belong to :mod:`wellbeing.audit` (below
``risk`` and ``alerts``); starting one needs both of those, so it lives in this module, placed
after ``alerts`` in ``MODULES``. Refusals are :class:`~wellbeing.audit.services.BreakGlassError`
(a DomainError); the supervisors are alerted through ``audit.events.BREAK_GLASS_STARTED``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..alerts.models import Alert, AlertRecipient
from ..audit.events import BREAK_GLASS_STARTED, BreakGlassStarted
from ..audit.models import BreakGlass
from ..audit.services import (
    REASON_MIN_CHARS,
    AlreadyInScope,
    BreakGlassError,
    ReauthFailed,
    has_regular_access,
)
from ..auth.models import User
from ..auth.services import verify_password, verify_totp
from ..config import Settings
from ..core.audit import AuditAction, Outcome, current_actor, record
from ..core.authz import Forbidden, Permission, Principal, Role, can
from ..db import utcnow
from ..risk.policy import policy_for_student

P = Permission


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
    """The district's policy (``break_glass.supervisors``) for the student's district."""
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
        raise AlreadyInScope(_l("You already have access to this student's record."))
    reason = (reason or "").strip()
    if len(reason) < REASON_MIN_CHARS:
        raise BreakGlassError(
            _l("Write the reason in at least %(n)s characters."), n=REASON_MIN_CHARS
        )
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
        raise ReauthFailed(_l("Re-authentication failed: check your password and code."))
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
    BREAK_GLASS_STARTED.emit(session, BreakGlassStarted.of(grant))
    return grant


@dataclasses.dataclass(frozen=True)
class Notified:
    """One person told of a break-glass grant when it started, and by which channels."""

    name: str  # the display name
    channels: tuple[str, ...]  # "inbox", "email"


def grant_notified(session: Session, grant: BreakGlass) -> list[Notified]:
    """Who the grant's alert reached (read back from the alert's recipients, so the message the
    holder sees says what really happened, never a reassuring guess)."""
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
