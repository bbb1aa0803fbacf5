"""Sign in (password, then TOTP), sign out, language, the account page."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..config import SUPPORTED_LOCALES
from ..core.authz import Permission
from ..db import get_session
from ..extensions import limiter
from ..web import require
from . import services
from .forms import LoginForm, TotpForm

bp = Blueprint("auth", __name__)


def _settings():  # type: ignore[no-untyped-def]
    return current_app.extensions["wellbeing.settings"]


def _login_limit() -> str:
    return _settings().login_limit


def _username_key() -> str:
    return "login-user:" + (request.form.get("username", "") or "").strip().lower()[:64]


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("auth.home")


@bp.get("/")
@require(Permission.SELF_SESSION)
def home():  # type: ignore[no-untyped-def]
    return render_template("auth/home.html")


@bp.route("/login", methods=["GET", "POST"])
@require(Permission.PUBLIC)
@limiter.limit(_login_limit, methods=["POST"])
@limiter.limit(_login_limit, key_func=_username_key, methods=["POST"])
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    if form.validate_on_submit():
        step = services.check_password_step(get_session(), _settings(), form.username.data, form.password.data)
        if step.user is None:
            services.record_failed_login(form.username.data, request.remote_addr, "password")
            flash(_("Wrong username or password."), "error")
            return render_template("auth/login.html", form=form), 200
        session.clear()
        session["pending_user"] = str(step.user.id)
        session["next"] = _safe_next(request.args.get("next"))
        if step.needs_totp:
            return redirect(url_for("auth.login_totp"))
        if step.needs_enrolment:
            return redirect(url_for("auth.mfa_enrol"))
        return _finish_login(step.user, mfa_passed=False)
    return render_template("auth/login.html", form=form)


def _pending_user():  # type: ignore[no-untyped-def]
    from .models import User

    user_id = session.get("pending_user")
    if not user_id:
        return None
    import uuid

    user = get_session().get(User, uuid.UUID(user_id))
    return user if user is not None and user.active else None


def _finish_login(user, mfa_passed: bool):  # type: ignore[no-untyped-def]
    next_url = session.get("next") or url_for("auth.home")
    new = services.complete_login(get_session(), user, request.remote_addr, mfa_passed)
    session.clear()
    session["sid"] = new.token
    session.permanent = False
    return redirect(next_url)


@bp.route("/login/totp", methods=["GET", "POST"])
@require(Permission.PUBLIC)
@limiter.limit(_login_limit, methods=["POST"])
def login_totp():  # type: ignore[no-untyped-def]
    user = _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    form = TotpForm()
    if form.validate_on_submit():
        if services.verify_totp(user, form.code.data):
            return _finish_login(user, mfa_passed=True)
        services.record_failed_login(user.username, request.remote_addr, "totp")
        flash(_("That code is not valid, or was already used."), "error")
    return render_template("auth/totp.html", form=form)


@bp.post("/logout")
@require(Permission.SELF_SESSION)
def logout():  # type: ignore[no-untyped-def]
    services.logout(get_session(), g.user_session, g.user)
    session.clear()
    flash(_("You have signed out."), "success")
    return redirect(url_for("auth.login"))


@bp.post("/locale")
@require(Permission.PUBLIC)
def set_locale():  # type: ignore[no-untyped-def]
    locale = request.form.get("locale", "")
    if locale not in SUPPORTED_LOCALES:
        return redirect(url_for("auth.login"))
    if g.get("user") is not None:
        services.set_locale(get_session(), g.user, locale)
    session["locale"] = locale
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/account")
@require(Permission.SELF_ACCOUNT)
def account():  # type: ignore[no-untyped-def]
    return render_template("auth/account.html")


@bp.route("/account/mfa/enrol", methods=["GET", "POST"])
@require(Permission.PUBLIC)
def mfa_enrol():  # type: ignore[no-untyped-def]
    """Placeholder until enrolment lands: see issue 2 (TOTP enrolment by QR code)."""
    return redirect(url_for("auth.login"))
