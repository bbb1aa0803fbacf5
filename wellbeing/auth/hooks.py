"""Per-request identification: browser session cookie or API bearer token → ``g.principal``.

Order of the checks on every request (one ``before_request``):

1. identify: under ``/api/`` only an ``Authorization: Bearer`` token authenticates (an
   unknown, expired or revoked token, or a disabled user, is a JSON 401 at once, whatever the
   route); the browser session cookie is never read there, so without a token the request is
   anonymous and a secured API route answers 401 (``WWW-Authenticate: Bearer``). Elsewhere
   only the browser session cookie counts (a token opens no web page);
2. CSRF (Flask-WTF): checked here rather than before identification, for every request
   outside ``/api/``. The API is exempt as a whole, which is safe only because no ambient
   credential (cookie) authenticates it: a forged cross-site request cannot carry a bearer
   header, so it arrives anonymous. This is also why an API post without a token gets the
   401 it needs, not the CSRF 400;
3. second factor: a browser session of a user whose role requires TOTP and whose session has
   not passed it (after an MFA reset, or a role granted later) may only enrol, sign out or
   change the language;
4. temporary password: a session of a user whose password an administrator reset may only
   change it (after the second factor, if that is owed too), sign out or change the language.
"""

from __future__ import annotations

import dataclasses

from flask import Flask, Response, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as BaseResponse  # what redirect() returns

from ..core import crypto
from ..core.authz import Principal
from ..db import get_session
from ..extensions import csrf
from ..web import api_error
from .models import User
from .services import (
    TOKEN_PREFIX,
    authenticate_token,
    build_principal,
    load_session,
    mfa_required,
    token_permissions,
)

# Endpoints a session that still owes its second factor may use.
MFA_PENDING_ENDPOINTS = frozenset({"auth.mfa_enrol", "auth.logout", "auth.set_locale", "static"})
# Endpoints a session with a temporary password (reset by an administrator) may use.
PASSWORD_PENDING_ENDPOINTS = frozenset(
    {"auth.change_password", "auth.logout", "auth.set_locale", "static"}
)


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


def _identify_bearer(header: str) -> Response | None:
    g.auth_method = "bearer"
    token = header[len("Bearer ") :].strip()
    db_session = get_session()
    found = authenticate_token(db_session, token)
    if found is None:
        response = api_error(401, "invalid_token", "The API token is unknown, expired or revoked.")
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    row, user = found
    principal = dataclasses.replace(
        build_principal(db_session, user), token_scopes=token_permissions(row.scope_list)
    )
    g.api_token = row
    # audit_entry.session_hash holds 16 characters: "tok:" and the 8 characters that follow
    # "wbp_" (the prefix shown on the account page), so entries can be traced to the token.
    _set_principal(user, principal, "tok:" + row.prefix.removeprefix(TOKEN_PREFIX)[:12])
    return None


def _set_principal(user: User, principal: Principal, session_hash: str) -> None:
    g.user, g.principal = user, principal
    g.audit_actor = dataclasses.replace(
        g.audit_actor,
        user_id=user.id,
        username=user.username,
        role=str(principal.primary_role) if principal.primary_role else None,
        scope=principal.describe_scope(),
        session_hash=session_hash,
    )


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _check_csrf() -> None:
    if not current_app.config.get("WTF_CSRF_ENABLED", True) or _is_api():
        return
    csrf.protect(apply_exemptions=True)


def _enforce_mfa() -> BaseResponse | None:
    row = g.get("user_session")
    if row is None or row.mfa_passed or request.endpoint in MFA_PENDING_ENDPOINTS:
        return None
    if not mfa_required(g.user):
        return None
    return redirect(url_for("auth.mfa_enrol"))


def _enforce_password_change() -> BaseResponse | None:
    if g.get("user_session") is None or not g.user.password_must_change:
        return None
    if request.endpoint in PASSWORD_PENDING_ENDPOINTS | MFA_PENDING_ENDPOINTS:
        return None
    return redirect(url_for("auth.change_password"))


def _identify() -> BaseResponse | None:
    if request.endpoint == "static":
        return None
    if _is_api():  # bearer token only: see the module docstring
        header = request.headers.get("Authorization", "")
        return _identify_bearer(header) if header[:7].lower() == "bearer " else None
    _identify_browser()
    _check_csrf()
    return _enforce_mfa() or _enforce_password_change()


def init_auth(app: Flask) -> None:
    # CSRF is checked in ``_identify`` (after identification) instead of Flask-WTF's own hook,
    # which would run first and could not exempt bearer-token requests.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.before_request(_identify)
