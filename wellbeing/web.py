"""Request lifecycle: who is asking, the declared permission of every view, the one place where
the request's session is committed or rolled back, security headers and error pages.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .core import audit, crypto
from .core.authz import Forbidden, Permission, Principal, can
from .db import get_db

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def current_principal() -> Principal | None:
    return g.get("principal")


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def require(permission: Permission, *, sensitive: bool = False) -> Callable[[F], F]:
    """Declare the permission a view needs (role level; services check the object).

    ``sensitive=True`` marks a view that shows a child's data: the response is refused unless
    the request recorded an audit entry, so a read that fails to audit is never served.
    """

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_principal()
            if permission != Permission.PUBLIC and principal is None:
                if is_api_request():
                    return api_error(401, "unauthenticated", "A valid API token is required.")
                return redirect(url_for("auth.login", next=request.full_path))
            if not can(principal, permission):
                raise Forbidden(permission)
            g.sensitive_view = sensitive
            return view(*args, **kwargs)

        wrapper.permission = permission  # type: ignore[attr-defined]
        wrapper.sensitive = sensitive  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def api_error(status: int, code: str, message: str) -> Response:
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


# --------------------------------------------------------------------------- lifecycle


def _before_request() -> None:
    g.request_id = secrets.token_hex(8)
    g.keyring_token = crypto.bind_keyring(current_app.extensions["wellbeing.keyring"])
    g.audit_actor = audit.Actor(
        ip=request.remote_addr, user_agent=request.user_agent.string, request_id=g.request_id
    )


def _after_request(response: Response) -> Response:
    session = g.pop("db_session", None)
    if session is not None:
        try:
            if response.status_code < 400:
                _check_sensitive_read_audited()
                session.commit()
            else:
                session.rollback()
        except Exception:
            session.rollback()
            current_app.logger.exception("request %s failed at commit", g.get("request_id"))
            response = _error_response(503 if _db_down() else 500)
        finally:
            session.close()
    audit.flush_after_request(get_db())
    _security_headers(response)
    return response


def _db_down() -> bool:
    """Is the database unreachable? Probed on a raw DBAPI connection: going through the engine
    would BEGIN IMMEDIATE on SQLite and wait for the write lock (a busy database is not down)."""
    try:
        raw = get_db().engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        finally:
            raw.close()
    except Exception:
        return True
    return False


def _check_sensitive_read_audited() -> None:
    if g.get("sensitive_view") and not g.get("audit_actions"):
        raise RuntimeError("a view marked sensitive returned data without an audit entry")


def _teardown(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
    try:
        audit.flush_after_request(get_db())
    except Exception:  # the request already failed; never mask its error with this one
        current_app.logger.exception("deferred audit entries of request %s", g.get("request_id"))
    token = g.pop("keyring_token", None)
    if token is not None:
        crypto.unbind_keyring(token)


def _security_headers(response: Response) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if current_principal() is not None or is_api_request():
        headers["Cache-Control"] = "no-store"


# --------------------------------------------------------------------------- errors

_ERROR_TITLES = {
    400: "The request could not be understood.",
    401: "Please sign in.",
    403: "You do not have access to this page.",
    404: "This page does not exist.",
    405: "This action is not allowed here.",
    413: "The file is too large.",
    429: "Too many attempts. Please wait a moment and try again.",
    500: "Something went wrong on our side. The error was logged.",
    503: "The service is temporarily unavailable. Please try again shortly.",
}
_API_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "too_large", 429: "rate_limited", 500: "internal_error",
    503: "unavailable",
}  # fmt: skip


def _error_response(status: int) -> Response:
    if is_api_request():
        return api_error(status, _API_CODES.get(status, "error"), _ERROR_TITLES.get(status, ""))
    body = render_template("errors/error.html", status=status, message=_(_ERROR_TITLES[status]))
    return Response(body, status=status, mimetype="text/html")


def _handle_forbidden(exc: Forbidden) -> Response:
    principal = current_principal()
    target = exc.target
    audit.record_now(
        get_db(),
        audit.AuditAction.ACCESS_DENIED,
        object_type=type(target).__name__.lower() if target is not None else "route",
        object_id=getattr(target, "id", None) or request.endpoint,
        student_id=getattr(target, "student_id", None),
        school_id=getattr(target, "school_id", None),
        detail={"permission": str(exc.permission), "endpoint": request.endpoint or ""},
        outcome=audit.Outcome.DENIED,
        actor=g.get("audit_actor"),
    )
    if principal is None and not is_api_request():
        return redirect(url_for("auth.login"))
    return _error_response(403)


def _handle_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status not in _ERROR_TITLES:
        return exc.get_response()
    return _error_response(status)


def _handle_db_error(exc: Exception) -> Response:
    current_app.logger.error(
        "database error in request %s: %s", g.get("request_id"), type(exc).__name__
    )
    # 503 only when the database is really unreachable (a bad query is a 500, even when
    # SQLite reports it as an OperationalError).
    return _error_response(503 if _db_down() else 500)


def _handle_any(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    current_app.logger.exception("unhandled error in request %s", g.get("request_id"))
    return _error_response(500)


def init_web(app: Flask) -> None:
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown)
    app.register_error_handler(Forbidden, _handle_forbidden)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(DBAPIError, _handle_db_error)
    app.register_error_handler(Exception, _handle_any)


__all__ = ["abort", "api_error", "current_principal", "init_web", "require"]
