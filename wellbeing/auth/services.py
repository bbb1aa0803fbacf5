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
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..audit.models import BreakGlass
from ..config import Settings
from ..core import crypto
from ..core.authz import Permission, Principal, Role, Scope
from ..db import utcnow
from .models import ApiToken, User, UserSession

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


# --------------------------------------------------------------------------- TOTP


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=TOTP_ISSUER)


def verify_totp(
    user: User, code: str, secret: str | None = None, now: dt.datetime | None = None
) -> bool:
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
    return any(
        Role(m.role) in {Role.COUNSELLOR, Role.SUPERVISOR, Role.ADMIN} for m in user.memberships
    )


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
            BreakGlass.user_id == user.id,
            BreakGlass.expires_at > now,
            BreakGlass.ended_at.is_(None),
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


def check_password_step(
    session: Session, settings: Settings, username: str, password: str
) -> LoginStep:
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


# --------------------------------------------------------------------------- enrolment, re-auth


def totp_qr_svg(uri: str) -> str:
    """The provisioning URI as an inline SVG QR code (a path, no script or style: strict CSP)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(encoding="unicode")


class MfaError(ValueError):
    pass


def pending_totp_secret(user: User) -> str:
    """The secret being enrolled (kept encrypted on the user until confirmed)."""
    if user.totp_enabled:
        raise MfaError(_l("Two-factor authentication is already set up."))
    secret = user.totp_secret
    if not secret:
        secret = new_totp_secret()
        user.totp_secret = secret
    return secret


def confirm_enrolment(
    session: Session, user: User, code: str, now: dt.datetime | None = None
) -> bool:
    """Turn TOTP on when ``code`` matches the pending secret."""
    from ..core import audit

    if user.totp_enabled:
        raise MfaError(_l("Two-factor authentication is already set up."))
    if not user.totp_secret or not verify_totp(user, code, now=now):
        return False
    user.totp_enabled = True
    audit.record(session, audit.AuditAction.MFA_ENROL, object_type="user", object_id=user.id)
    return True


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
) -> bool:
    """Ask again for the password (and the TOTP code when enabled) before a sensitive change.

    A failure is audited (REAUTH_FAILED) in its own transaction, so it is kept whatever the
    request does next. ``purpose`` is a short token (``password``, ``mfa_reset``, ...).
    """
    from flask import current_app, has_request_context

    from ..core import audit

    ok = verify_password(settings, user, password)
    factor = "password"
    if ok and user.totp_enabled:
        ok = verify_totp(user, code or "", now=now)
        factor = "totp"
    if ok:
        if current is not None:
            current.reauth_at = now or utcnow()
        return True
    kwargs = {
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
        audit.record(session, audit.AuditAction.REAUTH_FAILED, **kwargs)  # type: ignore[arg-type]
    return False


def _revoke_other_sessions(session: Session, user: User, keep: UserSession | None) -> int:
    stmt = update(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
    )
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    result = session.execute(stmt.values(revoked_at=utcnow()))
    return int(getattr(result, "rowcount", 0) or 0)


def change_password(
    session: Session, settings: Settings, user: User, new_password: str, current: UserSession | None
) -> int:
    """Set a new password (after :func:`reauthenticate`) and end every other session of the user.

    Returns how many other sessions were ended. API tokens are kept: they are listed and
    revocable on the account page.
    """
    from ..core import audit

    check_password_policy(new_password)
    if verify_password(settings, user, new_password):
        raise PasswordPolicyError(_l("The new password must differ from the current one."))
    user.password_hash = hash_password(settings, new_password)
    user.password_changed_at = utcnow()
    ended = _revoke_other_sessions(session, user, current)
    audit.record(session, audit.AuditAction.PASSWORD_CHANGE, object_type="user", object_id=user.id,
                 fields=["password"], detail={"sessions_ended": ended})  # fmt: skip
    return ended


def reset_mfa(session: Session, user: User, current: UserSession | None) -> int:
    """Remove the second factor (after :func:`reauthenticate`); the user enrols again.

    Other sessions end; the current one is marked as not MFA-verified, so users whose role
    requires a second factor are sent to enrolment before anything else.
    """
    from ..core import audit

    if not user.totp_enabled:
        raise MfaError(_l("Two-factor authentication is not set up."))
    user.totp_secret = None
    user.totp_enabled = False
    if current is not None:
        current.mfa_passed = False
    ended = _revoke_other_sessions(session, user, current)
    audit.record(session, audit.AuditAction.MFA_RESET, object_type="user", object_id=user.id,
                 fields=["totp_secret"], detail={"sessions_ended": ended})  # fmt: skip
    return ended


def admin_reset_mfa(session: Session, actor: Principal | None, user: User) -> None:
    """An administrator removes a user's second factor (lost phone): every session of the user
    ends and the user enrols again at the next sign-in. ``actor=None`` is the CLI."""
    from ..core import audit
    from ..core.authz import ensure

    if actor is not None:
        ensure(actor, Permission.USERS_MANAGE)
    user.totp_secret = None
    user.totp_enabled = False
    revoke_all_sessions(session, user.id)
    audit.record(session, audit.AuditAction.MFA_RESET, object_type="user", object_id=user.id,
                 fields=["totp_secret"], detail={"by": "admin"})  # fmt: skip


def mark_session_mfa(row: UserSession) -> None:
    row.mfa_passed = True


# --------------------------------------------------------------------------- API tokens


@dataclass(frozen=True)
class ApiScope:
    """A named token scope: what an API client may do, as a set of permissions."""

    name: str
    label: object  # lazy translation
    permissions: frozenset[Permission]


API_SCOPES: dict[str, ApiScope] = {}
TOKEN_DAYS = (30, 90, 180, 365)
MAX_ACTIVE_TOKENS = 20
TOKEN_PREFIX = "wbp_"  # noqa: S105 (a marker, not a secret)


def register_scope(name: str, label: object, *permissions: Permission) -> None:
    """Modules may add scopes for their API endpoints (at import of their ``api.py``)."""
    API_SCOPES[name] = ApiScope(name, label, frozenset(permissions))


def _register_default_scopes() -> None:
    register_scope(
        "screening:intake", _l("Send screening results (intake)"), Permission.API_SCREENING_INTAKE
    )
    register_scope("students:read", _l("Look up students you are responsible for"),
                   Permission.STUDENTS_SEARCH, Permission.RECORD_READ)  # fmt: skip
    register_scope("screening:read", _l("Read screening results"), Permission.SCREENING_READ)
    register_scope("alerts:read", _l("Read your alerts"), Permission.SELF_INBOX)
    register_scope("followups:read", _l("Read your follow-ups"), Permission.SELF_AGENDA)


_register_default_scopes()


class TokenError(ValueError):
    pass


class TokenNotFound(LookupError):
    pass


def scopes_for(principal: Principal) -> list[ApiScope]:
    """The scopes this user may put on a token: those whose permissions the user's roles grant."""
    granted = principal.permissions()
    return [scope for scope in API_SCOPES.values() if scope.permissions <= granted]


def token_permissions(scope_names: list[str]) -> frozenset[Permission]:
    """What a token's scopes allow (always including its own identity, ``/api/v1/me``).

    ``authz.can`` then intersects this with the user's role permissions and scope."""
    perms: set[Permission] = {Permission.SELF_SESSION}
    for name in scope_names:
        scope = API_SCOPES.get(name)
        if scope is not None:
            perms |= scope.permissions
    return frozenset(perms)


@dataclass
class NewToken:
    token: str  # shown once, never stored
    row: ApiToken


def create_api_token(
    session: Session,
    principal: Principal,
    user: User,
    *,
    name: str,
    scopes: list[str],
    days: int,
    now: dt.datetime | None = None,
) -> NewToken:
    from ..core import audit
    from ..core.authz import ensure

    ensure(principal, Permission.SELF_TOKENS)
    if principal.user_id != user.id:
        raise TokenError(_l("Tokens are created by their owner."))
    allowed = {scope.name for scope in scopes_for(principal)}
    chosen = sorted(set(scopes))
    if not chosen:
        raise TokenError(_l("Choose at least one scope."))
    if not set(chosen) <= allowed:
        raise TokenError(_l("Your role does not allow one of these scopes."))
    if days not in TOKEN_DAYS:
        raise TokenError(_l("Choose a validity period from the list."))
    name = name.strip()[:100]
    if not name:
        raise TokenError(_l("Give the token a name."))
    now = now or utcnow()
    active = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    if sum(1 for t in active if t.usable(now)) >= MAX_ACTIVE_TOKENS:
        raise TokenError(_l("Too many active tokens: revoke one first."))
    token = TOKEN_PREFIX + crypto.random_token()
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_digest=crypto.token_digest(token),
        prefix=token[:12],
        scopes=" ".join(chosen),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    session.add(row)
    session.flush()
    audit.record(session, audit.AuditAction.TOKEN_CREATE, object_type="api_token", object_id=row.id,
                 detail={"scopes": chosen, "days": days, "prefix": row.prefix})  # fmt: skip
    return NewToken(token, row)


def list_api_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(
        session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.created_at.desc())
            .limit(100)
        )
    )


def revoke_api_token(session: Session, principal: Principal, token_id: uuid.UUID) -> ApiToken:
    """Revoke one of the principal's own tokens (someone else's is "not found")."""
    from ..core import audit
    from ..core.authz import ensure

    ensure(principal, Permission.SELF_TOKENS)
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != principal.user_id:
        raise TokenNotFound(str(token_id))
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        audit.record(
            session, audit.AuditAction.TOKEN_REVOKE, object_type="api_token", object_id=row.id,
            detail={"prefix": row.prefix},
        )  # fmt: skip
    return row


def authenticate_token(
    session: Session, token: str, now: dt.datetime | None = None
) -> tuple[ApiToken, User] | None:
    """The usable token row and its active user, or None (unknown, expired, revoked, disabled)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    row = session.scalar(
        select(ApiToken).where(ApiToken.token_digest == crypto.token_digest(token))
    )
    now = now or utcnow()
    if row is None or not row.usable(now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        row.last_used_at = now
    return row, user
