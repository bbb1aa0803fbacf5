"""Passwords, second factor, server-side sessions and the acting principal.

The session cookie (signed by Flask) carries only a random token; the server keeps its digest
in ``user_session``. Logout, account disable and timeouts end the server row, so a copied cookie
stops working at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..audit.models import BreakGlass
from ..config import Settings
from ..core import crypto
from ..core.authz import Principal, Role, Scope
from ..db import utcnow
from .models import User, UserSession

TOTP_ISSUER = "Wellbeing"


def password_hasher(settings: Settings) -> PasswordHasher:
    return PasswordHasher(
        time_cost=settings.argon2_time_cost,
        memory_cost=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


class PasswordPolicyError(ValueError):
    pass


def check_password_policy(password: str) -> None:
    if len(password) < 10:
        raise PasswordPolicyError("Passwords need at least 10 characters.")
    if password.isdigit() or password.isalpha():
        raise PasswordPolicyError("Use letters and digits (or other characters) together.")


def hash_password(settings: Settings, password: str) -> str:
    return password_hasher(settings).hash(password)


# A fixed hash to verify against when the username is unknown, so timing does not reveal it.
_DUMMY: dict[tuple[int, int], str] = {}


def verify_password(settings: Settings, user: User | None, password: str) -> bool:
    hasher = password_hasher(settings)
    if user is None:
        key = (settings.argon2_time_cost, settings.argon2_memory_kib)
        if key not in _DUMMY:
            _DUMMY[key] = hasher.hash("not-a-real-password")
        stored = _DUMMY[key]
    else:
        stored = user.password_hash
    try:
        hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False
    return user is not None and user.active


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip().lower()))


# --------------------------------------------------------------------------- TOTP


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def verify_totp(user: User, code: str, secret: str | None = None, now: dt.datetime | None = None) -> bool:
    """Accept a code of the current step (±1 for clock drift) that is newer than the last used."""
    secret = secret or user.totp_secret
    code = "".join(code.split())
    if not secret or not code.isdigit() or len(code) != 6:
        return False
    totp = pyotp.TOTP(secret)
    moment = now or utcnow()
    step_now = int(moment.timestamp()) // totp.interval
    for step in (step_now - 1, step_now, step_now + 1):
        if step <= user.totp_last_step:
            continue
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            user.totp_last_step = step
            return True
    return False


def mfa_required(user: User) -> bool:
    return any(Role(m.role) in {Role.COUNSELLOR, Role.SUPERVISOR, Role.ADMIN} for m in user.memberships)


# --------------------------------------------------------------------------- sessions


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
    row = session.scalar(select(UserSession).where(UserSession.token_digest == crypto.token_digest(token)))
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


def revoke_all_sessions(session: Session, user_id: uuid.UUID) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def build_principal(session: Session, user: User, now: dt.datetime | None = None) -> Principal:
    now = now or utcnow()
    scopes = tuple(
        Scope(Role(m.role), m.district_id, m.school_id, m.class_id)
        for m in sorted(user.memberships, key=lambda m: (m.role, str(m.school_id), str(m.class_id)))
    )
    glass = session.scalars(
        select(BreakGlass.student_id).where(
            BreakGlass.user_id == user.id, BreakGlass.expires_at > now, BreakGlass.ended_at.is_(None)
        )
    ).all()
    return Principal(user.id, user.username, scopes, frozenset(glass))


# --------------------------------------------------------------------------- login flow


@dataclass
class LoginStep:
    """Result of the password step: ``user`` set when the password was right."""

    user: User | None
    needs_totp: bool = False
    needs_enrolment: bool = False


def check_password_step(session: Session, settings: Settings, username: str, password: str) -> LoginStep:
    from ..core import audit

    user = find_user(session, username)
    if not verify_password(settings, user, password):
        return LoginStep(None)
    assert user is not None  # noqa: S101 (verify_password is False for unknown users)
    if user.totp_enabled:
        return LoginStep(user, needs_totp=True)
    if mfa_required(user):
        return LoginStep(user, needs_enrolment=True)
    _ = audit
    return LoginStep(user)


def complete_login(session: Session, user: User, ip: str | None, mfa_passed: bool) -> NewSession:
    from ..core import audit

    new = start_session(session, user, ip, mfa_passed)
    audit.record(
        session,
        audit.AuditAction.LOGIN,
        actor=audit.Actor(user_id=user.id, username=user.username, ip=ip,
                          session_hash=new.row.token_digest[:16]),
        object_type="user", object_id=user.id, detail={"mfa": mfa_passed},
    )  # fmt: skip
    return new


def record_failed_login(username: str, ip: str | None, reason: str) -> None:
    """In its own transaction: the failure must be kept even though the request rolls back."""
    from flask import current_app

    from ..core import audit

    audit.record_now(
        current_app.extensions["wellbeing.db"], audit.AuditAction.LOGIN_FAILED,
        outcome=audit.Outcome.DENIED, object_type="user",
        detail={"reason": reason, "username_digest": crypto.token_digest(username.lower())[:16]},
        actor=audit.Actor(ip=ip),
    )  # fmt: skip


def logout(session: Session, row: UserSession, user: User) -> None:
    from ..core import audit

    revoke_session(row)
    audit.record(session, audit.AuditAction.LOGOUT, object_type="user", object_id=user.id)


def set_locale(session: Session, user: User, locale: str) -> None:
    from ..core import audit

    user.locale = locale
    audit.record(session, audit.AuditAction.LOCALE_CHANGE, object_type="user", object_id=user.id,
                 detail={"locale": locale})  # fmt: skip
