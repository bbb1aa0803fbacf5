"""API tokens: named scopes, creating (shown once, stored as a digest), listing, revoking and
authenticating a bearer token."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit, crypto
from ..core.authz import Permission, Principal, ensure
from ..core.errors import DomainError, NotFound
from ..db import utcnow
from .models import ApiToken, User


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


class TokenError(DomainError):
    """A refused token request (scopes, validity, name, too many)."""

    code = "token_refused"


class TokenNotFound(NotFound):
    """Not one of the principal's own tokens (someone else's is "not found" too)."""


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
    ensure(principal, Permission.SELF_TOKENS)
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != principal.user_id:
        raise TokenNotFound(_l("This token does not exist."))
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
