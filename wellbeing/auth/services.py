"""Passwords, the login flow and re-authentication; the entry points of the auth module.

Server-side sessions and the acting principal are in :mod:`.sessions`, the second factor in
:mod:`.mfa`, API tokens in :mod:`.tokens`; their public names are re-exported here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, has_request_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import audit, crypto
from ..core.errors import DomainError
from ..db import utcnow
from .hashing import password_hasher
from .mfa import TOTP_ISSUER as TOTP_ISSUER
from .mfa import MfaError as MfaError
from .mfa import admin_reset_mfa as admin_reset_mfa
from .mfa import confirm_enrolment as confirm_enrolment
from .mfa import mfa_required as mfa_required
from .mfa import new_totp_secret as new_totp_secret
from .mfa import pending_totp_secret as pending_totp_secret
from .mfa import reset_mfa as reset_mfa
from .mfa import totp_qr_svg as totp_qr_svg
from .mfa import totp_uri as totp_uri
from .mfa import verify_second_factor as verify_second_factor
from .mfa import verify_totp as verify_totp
from .models import User, UserSession
from .recovery import RECOVERY_CODE_COUNT as RECOVERY_CODE_COUNT
from .recovery import RecoveryError as RecoveryError
from .recovery import regenerate_codes as regenerate_codes
from .recovery import remaining_codes as remaining_codes
from .sessions import NewSession as NewSession
from .sessions import build_principal as build_principal
from .sessions import load_session as load_session
from .sessions import mark_session_mfa as mark_session_mfa
from .sessions import revoke_all_sessions as revoke_all_sessions
from .sessions import revoke_other_sessions
from .sessions import revoke_session as revoke_session
from .sessions import start_session as start_session
from .tokens import API_SCOPES as API_SCOPES
from .tokens import MAX_ACTIVE_TOKENS as MAX_ACTIVE_TOKENS
from .tokens import TOKEN_DAYS as TOKEN_DAYS
from .tokens import TOKEN_PREFIX as TOKEN_PREFIX
from .tokens import ApiScope as ApiScope
from .tokens import NewToken as NewToken
from .tokens import TokenError as TokenError
from .tokens import TokenNotFound as TokenNotFound
from .tokens import authenticate_token as authenticate_token
from .tokens import create_api_token as create_api_token
from .tokens import list_api_tokens as list_api_tokens
from .tokens import register_scope as register_scope
from .tokens import revoke_api_token as revoke_api_token
from .tokens import scopes_for as scopes_for
from .tokens import token_permissions as token_permissions

# The account views' names for the recovery-code functions.
regenerate_recovery_codes = regenerate_codes
remaining_recovery_codes = remaining_codes


class PasswordPolicyError(DomainError):
    """A password the policy refuses (too short, one kind of character, unchanged)."""

    code = "password_policy"


def check_password_policy(password: str) -> None:
    if len(password) < 10:
        raise PasswordPolicyError(_l("Passwords need at least 10 characters."))
    if password.isdigit() or password.isalpha():
        raise PasswordPolicyError(_l("Use letters and digits (or other characters) together."))


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


# --------------------------------------------------------------------------- login flow


@dataclass
class LoginStep:
    """Result of the password step: ``user`` set when the password was right."""

    user: User | None
    needs_totp: bool = False
    needs_enrolment: bool = False


def check_password_step(
    session: Session, settings: Settings, username: str, password: str
) -> LoginStep:
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


def complete_login(
    session: Session, user: User, ip: str | None, mfa_passed: bool, factor: str | None = None
) -> NewSession:
    """``factor``: ``"recovery"`` when a recovery code stood in for the TOTP code."""
    new = start_session(session, user, ip, mfa_passed)
    audit.record(
        session,
        audit.AuditAction.LOGIN,
        actor=audit.Actor(user_id=user.id, username=user.username, ip=ip,
                          session_hash=new.row.token_digest[:16]),
        object_type="user", object_id=user.id,
        detail={"mfa": mfa_passed, **({"factor": factor} if factor == "recovery" else {})},
    )  # fmt: skip
    return new


def record_failed_login(username: str, ip: str | None, reason: str) -> None:
    """In its own transaction: the failure must be kept even though the request rolls back."""
    audit.record_now(
        current_app.extensions["wellbeing.db"], audit.AuditAction.LOGIN_FAILED,
        outcome=audit.Outcome.DENIED, object_type="user",
        detail={"reason": reason, "username_digest": crypto.token_digest(username.lower())[:16]},
        actor=audit.Actor(ip=ip),
    )  # fmt: skip


def logout(session: Session, row: UserSession, user: User) -> None:
    revoke_session(row)
    audit.record(session, audit.AuditAction.LOGOUT, object_type="user", object_id=user.id)


def set_locale(session: Session, user: User, locale: str) -> None:
    user.locale = locale
    audit.record(session, audit.AuditAction.LOCALE_CHANGE, object_type="user", object_id=user.id,
                 detail={"locale": locale})  # fmt: skip


def reauthenticate(
    session: Session,
    settings: Settings,
    user: User,
    password: str,
    code: str | None,
    *,
    purpose: str,
    current: UserSession | None = None,
    now: dt.datetime | None = None,
    second_factor: bool = True,
) -> bool:
    """Ask again for the password (and the TOTP code when enabled) before a sensitive change.

    A failure is audited (REAUTH_FAILED) in its own transaction, so it is kept whatever the
    request does next. ``purpose`` is a short token (``password``, ``mfa_reset``, ...).
    ``second_factor=False`` only for a session that passed it moments ago (views decide).
    """
    ok = verify_password(settings, user, password)
    factor = "password"
    if ok and user.totp_enabled and second_factor:  # a recovery code may stand in for the TOTP code
        ok = verify_second_factor(session, settings, user, code or "", now=now) is not None
        factor = "totp"
    if ok:
        if current is not None:
            current.reauth_at = now or utcnow()
        return True
    kwargs: dict[str, Any] = {
        "outcome": audit.Outcome.DENIED,
        "object_type": "user",
        "object_id": user.id,
        "purpose": purpose,  # same shape as break-glass re-authentication (audit module)
        "detail": {"factor": factor},
    }
    if has_request_context():
        audit.record_now(
            current_app.extensions["wellbeing.db"], audit.AuditAction.REAUTH_FAILED, **kwargs
        )
    else:
        audit.record(session, audit.AuditAction.REAUTH_FAILED, **kwargs)
    return False


def change_password(
    session: Session, settings: Settings, user: User, new_password: str, current: UserSession | None
) -> int:
    """Set a new password (after :func:`reauthenticate`) and end every other session of the user.

    Returns how many other sessions were ended. API tokens are kept: they are listed and
    revocable on the account page.
    """
    check_password_policy(new_password)
    if verify_password(settings, user, new_password):
        raise PasswordPolicyError(_l("The new password must differ from the current one."))
    user.password_hash = hash_password(settings, new_password)
    user.password_changed_at = utcnow()
    user.password_must_change = False
    ended = revoke_other_sessions(session, user, current)
    audit.record(session, audit.AuditAction.PASSWORD_CHANGE, object_type="user", object_id=user.id,
                 fields=["password"], detail={"sessions_ended": ended})  # fmt: skip
    return ended
