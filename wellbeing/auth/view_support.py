"""The ``auth`` blueprint and what its pages share: the settings, the throttle keys and the
re-authentication step (current password, and code if the user has a second factor). Kept apart
from :mod:`.views` so :mod:`.admin_views` can add routes without importing the views back."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, flash, g, request
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..config import Settings
from ..db import get_session, utcnow
from . import services, throttle
from .forms import PasswordChangeForm

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=FlaskForm)


def app_settings() -> Settings:
    settings: Settings = current_app.extensions["wellbeing.settings"]
    return settings


def login_limit() -> str:
    return app_settings().login_limit


def user_key() -> str:
    user = g.get("user")
    return "reauth:" + (str(user.id) if user is not None else request.remote_addr or "")


def failed_attempt(response: Response) -> bool:
    """Only failed attempts count towards the throttles (a success redirects, or shows what was
    made and marks ``g.auth_ok``)."""
    return response.status_code != 302 and not g.get("auth_ok")


def warn_if_few_attempts_left() -> None:
    warning = throttle.failure_warning()
    if warning:
        flash(warning, "error")


# A session this young that passed the second factor need not give a new code to replace a
# temporary password (the code it used is spent, the next one may be 30 s away).
FRESH_SECOND_FACTOR = dt.timedelta(minutes=10)


def reauth_form(form: F) -> F:
    fresh = (
        g.user.password_must_change
        and g.user_session.mfa_passed
        and utcnow() - g.user_session.created_at < FRESH_SECOND_FACTOR
    )
    if not g.user.totp_enabled or (fresh and isinstance(form, PasswordChangeForm)):
        del form.code
    return form


def reauthenticated(form: Any, purpose: str) -> bool:
    code = form.code.data if "code" in form else None
    ok = services.reauthenticate(
        get_session(), app_settings(), g.user, form.current_password.data, code,
        purpose=purpose, current=g.user_session, second_factor="code" in form,
    )  # fmt: skip
    if not ok:
        flash(_("Your current password or code is not right."), "error")
        warn_if_few_attempts_left()
    return ok
