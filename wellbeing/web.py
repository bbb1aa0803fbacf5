"""Request lifecycle: who is asking, the declared permission of every view, the one place where
the request's session is committed or rolled back, security headers and error pages.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import (
    Flask,
    Request,
    Response,
    abort,
    current_app,
    flash,
    g,
    has_app_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Response as BaseResponse

from .config import Settings
from .core import audit, crypto
from .core.authz import Forbidden, Permission, Principal, can, downloads_refused
from .core.errors import DomainError
from .db import disk_full, get_db

F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def get_settings() -> Settings:
    """The running app's settings (set by ``create_app``)."""
    settings: Settings = current_app.extensions["wellbeing.settings"]
    return settings


def current_principal() -> Principal | None:
    return g.get("principal")


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def require(
    permission: Permission, *, sensitive: bool = False, download: bool = False
) -> Callable[[F], F]:
    """Declare the permission a view needs (role level; services check the object).

    ``sensitive=True`` marks a view that shows a child's data: the response is refused unless
    the request recorded an audit entry, so a read that fails to audit is never served.
    ``download=True`` marks a view that hands out a file or an export: refused to anyone who
    holds a live break-glass grant (:func:`~wellbeing.core.authz.downloads_refused`);
    tests/audit/test_downloads.py fails when a view sends a file without this mark.
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
            if download and downloads_refused(principal):
                raise Forbidden(permission, rule="break_glass_download", message=_(
                    "Downloads and exports are not available while you hold break-glass "
                    "access. End it under “My break-glass access” first; the record itself "
                    "stays readable on screen until then."))  # fmt: skip
            g.sensitive_view = sensitive
            return view(*args, **kwargs)

        # Read by the policy tests and the request-size check (function attributes).
        wrapper.__dict__.update(permission=permission, sensitive=sensitive, download=download)
        return cast(F, wrapper)

    return decorate


def api_error(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    """The API's one error shape (``#/components/schemas/Error``): ``code``, ``message`` and
    ``details`` (a list, empty unless there is something per field or item to say). A 401
    names the scheme to use (``WWW-Authenticate: Bearer``, RFC 6750)."""
    response = jsonify({"error": {"code": code, "message": message, "details": details or []}})
    response.status_code = status
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="wellbeing"')
    return response


# --------------------------------------------------------------------------- request size

_UPLOAD = "upload"


def accepts_upload(view: F) -> F:
    """Let this view receive a file of up to ``WELLBEING_MAX_UPLOAD_MB``; every other request
    body is limited to :data:`~wellbeing.config.BODY_LIMIT` (413 beyond)."""
    view.__dict__["body_limit"] = _UPLOAD
    return view


def accepts_body(limit: int) -> Callable[[F], F]:
    """Let this view receive a body of up to ``limit`` bytes (a JSON batch, say)."""

    def decorate(view: F) -> F:
        view.__dict__["body_limit"] = limit
        return view

    return decorate


def body_limit(endpoint: str | None) -> int:
    """The most bytes a request to ``endpoint`` may send."""
    view = current_app.view_functions.get(endpoint) if endpoint else None
    limit = getattr(view, "body_limit", None)
    if limit == _UPLOAD:
        return int(current_app.extensions["wellbeing.settings"].max_upload_mb) * 1024 * 1024
    if isinstance(limit, int):
        return limit
    return int(current_app.config["MAX_CONTENT_LENGTH"])


class LimitedRequest(Request):
    """Reads the body limit of the matched view, so the limit holds from the first read on —
    including CSRF's, which runs before any ``before_request`` of ours."""

    @property
    def max_content_length(self) -> int | None:
        if self._max_content_length is not None or not has_app_context():
            return super().max_content_length
        return body_limit(self.endpoint)

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def _too_large() -> Response:
    limit = body_limit(request.endpoint)
    if is_api_request():
        return api_error(413, "too_large", f"The request body may be at most {limit} bytes.")
    size = f"{limit / (1024 * 1024):g} MiB" if limit >= 1024 * 1024 else f"{limit // 1024} KiB"
    if getattr(current_app.view_functions.get(request.endpoint or ""), "body_limit", None):
        reason = _("The file is too large: at most %(size)s can be uploaded.", size=size)
    else:
        reason = _("The request is too large: at most %(size)s can be sent here.", size=size)
    return _error_response(413, reason)


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
        except Exception as exc:
            session.rollback()
            current_app.logger.exception("request %s failed at commit", g.get("request_id"))
            response = _db_error_page(503 if _db_down() else 500, exc)
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
    # Same-origin only: nothing goes to other sites, and Flask-WTF's HTTPS check (a form post
    # must come with a Referer of this host) passes; with no-referrer every post fails over TLS.
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.is_secure and current_app.extensions["wellbeing.settings"].production:
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    if current_principal() is not None or is_api_request():
        headers["Cache-Control"] = "no-store"


# --------------------------------------------------------------------------- errors

# Shown to people in their language (errors/error.html); the API sends the English text.
_ERROR_TITLES = {
    400: _l("The request could not be understood."),
    401: _l("Please sign in."),
    403: _l("You do not have access to this page."),
    404: _l("This page does not exist."),
    405: _l("This action is not allowed here."),
    409: _l("This was changed in the meantime; nothing was saved."),
    413: _l("The file is too large."),
    422: _l("This could not be saved; nothing was changed."),
    429: _l("Too many attempts. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. The error was logged."),
    503: _l("The service is temporarily unavailable. Please try again shortly."),
}
_API_CODES = {
    400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 413: "too_large", 415: "unsupported_media_type", 422: "invalid",
    409: "conflict", 429: "rate_limited", 500: "internal_error", 503: "unavailable",
}  # fmt: skip


# A 503 (the database unreachable or full) tells browsers and clients when to try again.
RETRY_AFTER_SECONDS = 10


def _error_response(status: int, reason: Any = None) -> Response:
    """The error page (or API error); ``reason``, a translated text, replaces the generic one."""
    if is_api_request():
        with force_locale("en"):
            title = _ERROR_TITLES.get(status)
            message = str(title) if title else f"{HTTP_STATUS_CODES.get(status, 'Error')}."
        response = api_error(status, _API_CODES.get(status, "error"), str(reason or message))
    else:
        body = render_template(
            "errors/error.html", status=status, message=reason or str(_ERROR_TITLES[status])
        )
        response = Response(body, status=status, mimetype="text/html")
    if status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def flash_error(exc: DomainError) -> None:
    """The one way a page shows a service's refusal: its message, in the reader's language."""
    flash(exc.message, "error")


def _handle_domain(exc: DomainError) -> Response:
    """A refusal no view caught: the API answers its JSON error (``code``, the message in
    English), a page shows the error page with the translated message. Nothing was committed:
    the request's session is rolled back by the teardown."""
    if is_api_request():
        with force_locale("en"):
            return api_error(exc.status, exc.code, exc.message)
    status = exc.status if exc.status in _ERROR_TITLES else 400
    return _error_response(status, exc.message)


def record_denied(exc: Forbidden, **detail: str) -> None:
    """Audit a refused access (it survives the request's rollback: :func:`audit.record_now`),
    however it is answered: 403 page, JSON error, or a 404 that hides the object."""
    target = exc.target
    audit.record_now(
        get_db(),
        audit.AuditAction.ACCESS_DENIED,
        object_type=type(target).__name__.lower() if target is not None else "route",
        object_id=getattr(target, "id", None) or request.endpoint,
        student_id=getattr(target, "student_id", None),
        school_id=getattr(target, "school_id", None),
        detail={
            "permission": str(exc.permission),
            "endpoint": request.endpoint or "",
            **({"rule": exc.rule} if exc.rule else {}),
            **detail,
        },
        outcome=audit.Outcome.DENIED,
        actor=g.get("audit_actor"),
    )


def _handle_forbidden(exc: Forbidden) -> BaseResponse:
    principal = current_principal()
    record_denied(exc)
    if principal is None and not is_api_request():
        return redirect(url_for("auth.login"))
    return _error_response(403, exc.message)


def _handle_http(exc: HTTPException) -> BaseResponse:
    status = exc.code or 500
    if status == 413:
        return _too_large()
    if status not in _ERROR_TITLES and not is_api_request():
        return exc.get_response()
    response = _error_response(status)
    for name, value in exc.get_headers():  # Allow on a 405, Retry-After on a 429, ...
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def _handle_db_error(exc: Exception) -> Response:
    current_app.logger.error(
        "database error in request %s: %s", g.get("request_id"), type(exc).__name__
    )
    # 503 only when the database is really unreachable, or the connection was lost under this
    # request (the server restarted: trying again will work); a bad query is a 500, even when
    # SQLite reports it as an OperationalError.
    lost = isinstance(exc, DBAPIError) and exc.connection_invalidated
    return _db_error_page(503 if lost or _db_down() else 500, exc)


def _db_error_page(status: int, exc: BaseException | None = None) -> Response:
    """The error page after a database failure, drawn as for a signed-out visitor: the menu
    and its badges would ask the database again (and fail while it is down). A database out
    of space says so (503: nothing was saved; an administrator must act)."""
    g.pop("principal", None)
    try:
        get_locale()  # the user's language, kept for this request (Flask-Babel caches it)
    except Exception:  # their row expired with the rolled-back session: the session's language
        g.pop("user", None)
    reason = None
    if exc is not None and disk_full(exc):
        request_id = g.get("request_id")
        current_app.logger.critical("the database is out of space (request %s)", request_id)
        status = 503
        reason = _(
            "The database has run out of storage space, so nothing was saved. Please tell "
            "your administrator."
        )
    response = _error_response(status, reason)
    response.headers["Cache-Control"] = "no-store"
    return response


def _handle_any(exc: Exception) -> BaseResponse:
    if isinstance(exc, HTTPException):
        return _handle_http(exc)
    current_app.logger.exception("unhandled error in request %s", g.get("request_id"))
    return _error_response(500)


def init_web(app: Flask) -> None:
    app.request_class = LimitedRequest
    app.before_request(_before_request)
    app.after_request(_after_request)
    app.teardown_request(_teardown)
    app.register_error_handler(Forbidden, _handle_forbidden)
    app.register_error_handler(DomainError, _handle_domain)
    app.register_error_handler(HTTPException, _handle_http)
    app.register_error_handler(DBAPIError, _handle_db_error)
    app.register_error_handler(Exception, _handle_any)


__all__ = [
    "abort",
    "accepts_body",
    "accepts_upload",
    "api_error",
    "current_principal",
    "flash_error",
    "init_web",
    "require",
]
