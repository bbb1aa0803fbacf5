"""Server-side sessions and the acting principal.

The session cookie (signed by Flask) carries only a random token; the server keeps its digest
in ``user_session``. Logout, account disable and timeouts end the server row, so a copied cookie
stops working at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import crypto
from ..core.audit_models import BreakGlass
from ..core.authz import Principal, Role, Scope
from ..db import utcnow
from .models import User, UserSession


@dataclass
class NewSession:
    token: str
    row: UserSession


def start_session(session: Session, user: User, ip: str | None, mfa_passed: bool) -> NewSession:
    token = crypto.random_token()
    row = UserSession(
        token_digest=crypto.token_digest(token), user_id=user.id, ip=ip, mfa_passed=mfa_passed
    )
    session.add(row)
    session.flush()
    return NewSession(token, row)


def load_session(
    session: Session, token: str, settings: Settings, now: dt.datetime | None = None
) -> tuple[UserSession, User] | None:
    """The live session for ``token``, or None (ending it when idle or past the absolute limit)."""
    now = now or utcnow()
    row = session.scalar(
        select(UserSession).where(UserSession.token_digest == crypto.token_digest(token))
    )
    if row is None or row.revoked_at is not None:
        return None
    idle = dt.timedelta(minutes=settings.idle_timeout_minutes)
    absolute = dt.timedelta(hours=settings.absolute_timeout_hours)
    if now - row.last_seen_at > idle or now - row.created_at > absolute:
        row.revoked_at = now
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        row.revoked_at = now
        return None
    row.last_seen_at = now
    return row, user


def revoke_session(row: UserSession) -> None:
    row.revoked_at = row.revoked_at or utcnow()


def revoke_all_sessions(session: Session, user_id: uuid.UUID) -> int:
    """End every live session of the user; returns how many there were."""
    result = session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return int(getattr(result, "rowcount", 0) or 0)


def build_principal(session: Session, user: User, now: dt.datetime | None = None) -> Principal:
    now = now or utcnow()
    scopes = tuple(
        Scope(Role(m.role), m.district_id, m.school_id, m.class_id, m.partner_id)
        for m in sorted(user.memberships, key=lambda m: (m.role, str(m.school_id), str(m.class_id)))
    )
    glass = session.scalars(
        select(BreakGlass.student_id).where(
            BreakGlass.user_id == user.id,
            BreakGlass.expires_at > now,
            BreakGlass.ended_at.is_(None),
        )
    ).all()
    return Principal(user.id, user.username, scopes, frozenset(glass))


def revoke_other_sessions(session: Session, user: User, keep: UserSession | None) -> int:
    stmt = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    result = session.execute(stmt.values(revoked_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def mark_session_mfa(row: UserSession) -> None:
    row.mfa_passed = True
