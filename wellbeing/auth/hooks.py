"""Per-request identification: browser session cookie or API bearer token → ``g.principal``."""

from __future__ import annotations

import dataclasses

from flask import Flask, current_app, g, request, session
from sqlalchemy import select

from ..core import crypto
from ..core.authz import Permission
from ..db import get_session, utcnow
from .models import ApiToken, User
from .services import build_principal, load_session


def _identify_browser() -> None:
    token = session.get("sid")
    if not token:
        return
    db_session = get_session()
    loaded = load_session(db_session, token, current_app.extensions["wellbeing.settings"])
    if loaded is None:
        session.pop("sid", None)
        db_session.commit()  # keep the revocation of an expired session
        return
    row, user = loaded
    _set_principal(user, build_principal(db_session, user), crypto.token_digest(token)[:16])
    g.user_session = row


def _identify_bearer(header: str) -> None:
    token = header.removeprefix("Bearer ").strip()
    db_session = get_session()
    row = db_session.scalar(select(ApiToken).where(ApiToken.token_digest == crypto.token_digest(token)))
    now = utcnow()
    if row is None or not row.usable(now):
        return
    user = db_session.get(User, row.user_id)
    if user is None or not user.active:
        return
    row.last_used_at = now
    scopes = frozenset(Permission(s) for s in row.scope_list if s in Permission._value2member_map_)
    principal = dataclasses.replace(build_principal(db_session, user), token_scopes=scopes)
    _set_principal(user, principal, "token:" + row.prefix)


def _set_principal(user: User, principal, session_hash: str) -> None:  # type: ignore[no-untyped-def]
    g.user, g.principal = user, principal
    g.audit_actor = dataclasses.replace(
        g.audit_actor,
        user_id=user.id,
        username=user.username,
        role=str(principal.primary_role) if principal.primary_role else None,
        scope=principal.describe_scope(),
        session_hash=session_hash,
    )


def _identify() -> None:
    if request.endpoint == "static":
        return
    header = request.headers.get("Authorization", "")
    if request.path.startswith("/api/") and header.startswith("Bearer "):
        _identify_bearer(header)
    else:
        _identify_browser()


def init_auth(app: Flask) -> None:
    app.before_request(_identify)
