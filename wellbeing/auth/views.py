"""Sign in (password, then TOTP or forced enrolment), sign out, language, the account page:
second factor enrolment and reset, password change, personal API tokens."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import (
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup

from ..config import SUPPORTED_LOCALES
from ..core.authz import Permission
from ..db import get_session, utcnow
from ..extensions import limiter
from ..labels import role_label
from ..web import flash_error, require
from . import services, throttle
from .forms import (
    LoginForm,
    MfaResetForm,
    PasswordChangeForm,
    RecoveryCodesForm,
    SecondFactorForm,
    TokenForm,
    TotpForm,
)
from .models import ApiToken, User
from .redirects import safe_next
from .view_support import (
    app_settings,
    bp,
    failed_attempt,
    login_limit,
    reauth_form,
    reauthenticated,
    user_key,
    warn_if_few_attempts_left,
)

# The password step is valid for this long: the second factor (or enrolment) must follow.
PENDING_LOGIN_SECONDS = 600


def _username_key() -> str:
    return "login-user:" + (request.form.get("username", "") or "").strip().lower()[:64]


def _pending_key() -> str:
    return "login-pending:" + str(session.get("pending_user", ""))


def _safe_next(target: object) -> str:
    """Every redirect to a user-supplied address goes through :func:`.redirects.safe_next`."""
    return safe_next(target, url_for("workbench.home"))


@bp.errorhandler(429)
def throttled(_exc: Exception) -> ResponseReturnValue:
    """A throttle ran out: say so, and until when, on a page of the user's flow (not the bare
    error page). The words do not depend on whether the username exists."""
    signing_in = g.get("user") is None
    return render_template(
        "auth/throttled.html",
        message=throttle.paused_message(signing_in=signing_in),
        again=request.path,
        signing_in=signing_in,
    ), 429


# --------------------------------------------------------------------------- sign in


@bp.route("/login", methods=["GET", "POST"])
@require(Permission.PUBLIC)
@limiter.limit(login_limit, methods=["POST"], deduct_when=failed_attempt)
@limiter.limit(login_limit, key_func=_username_key, methods=["POST"], deduct_when=failed_attempt)
def login() -> ResponseReturnValue:
    form = LoginForm()
    if form.validate_on_submit():
        step = services.check_password_step(
            get_session(), app_settings(), form.username.data or "", form.password.data or ""
        )
        if step.user is None:
            services.record_failed_login(form.username.data or "", request.remote_addr, "password")
            flash(_("Wrong username or password."), "error")
            warn_if_few_attempts_left()
            return render_template("auth/login.html", form=form), 200
        locale = session.get("locale")
        session.clear()  # a new login starts from a clean cookie (no fixation)
        if locale:
            session["locale"] = locale
        session["pending_user"] = str(step.user.id)
        session["pending_at"] = int(utcnow().timestamp())
        session["next"] = _safe_next(request.args.get("next"))
        if step.needs_totp:
            return redirect(url_for("auth.login_totp"))
        if step.needs_enrolment:
            return redirect(url_for("auth.mfa_enrol"))
        return _finish_login(step.user, mfa_passed=False)
    return render_template("auth/login.html", form=form)


def _pending_user() -> User | None:
    """The user who passed the password step of this browser's login, if recent enough."""
    user_id, started = session.get("pending_user"), session.get("pending_at")
    if not user_id or not isinstance(started, int):
        return None
    if int(utcnow().timestamp()) - started > PENDING_LOGIN_SECONDS:
        session.pop("pending_user", None)
        return None
    try:
        user = get_session().get(User, uuid.UUID(user_id))
    except ValueError:
        return None
    return user if user is not None and user.active else None


def _sign_in(user: User, mfa_passed: bool, factor: str | None = None) -> str:
    """Start the user's session (a fresh cookie); returns where the user was going."""
    next_url = _safe_next(session.get("next"))
    locale = session.get("locale")
    new = services.complete_login(get_session(), user, request.remote_addr, mfa_passed, factor)
    session.clear()
    session["sid"] = new.token
    if locale:
        session["locale"] = locale
    session.permanent = False
    return next_url


def _finish_login(user: User, mfa_passed: bool, factor: str | None = None) -> ResponseReturnValue:
    return redirect(_sign_in(user, mfa_passed, factor))


@bp.route("/login/totp", methods=["GET", "POST"])
@require(Permission.PUBLIC)
@limiter.limit(login_limit, methods=["POST"], deduct_when=failed_attempt)
@limiter.limit(login_limit, key_func=_pending_key, methods=["POST"], deduct_when=failed_attempt)
def login_totp() -> ResponseReturnValue:
    user = _pending_user()
    if user is None or not user.totp_enabled:
        return redirect(url_for("auth.login"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        factor = services.verify_second_factor(
            get_session(), app_settings(), user, form.code.data or ""
        )
        if factor is not None:
            response = _finish_login(user, mfa_passed=True, factor=factor)
            if factor == "recovery":  # after the sign-in, which starts a fresh cookie
                _flash_recovery_left(user)
            return response
        services.record_failed_login(user.username, request.remote_addr, "totp")
        flash(_("That code is not valid, or was already used."), "error")
        warn_if_few_attempts_left()
    return render_template("auth/totp.html", form=form)


def _flash_recovery_left(user: User) -> None:
    left = services.remaining_recovery_codes(get_session(), user)
    flash(ngettext("You signed in with a recovery code. %(num)d recovery code is left.",
                   "You signed in with a recovery code. %(num)d recovery codes are left.",
                   left), "success")  # fmt: skip
    if left <= 3:
        flash(_("Make new recovery codes on your account page, and if your phone is lost, "
                "reset two-factor authentication there."), "error")  # fmt: skip


@bp.post("/logout")
@require(Permission.SELF_SESSION)
def logout() -> ResponseReturnValue:
    services.logout(get_session(), g.user_session, g.user)
    locale = session.get("locale")
    session.clear()
    if locale:  # the next page speaks the language of this message
        session["locale"] = locale
    flash(_("You have signed out."), "success")
    return redirect(url_for("auth.login"))


@bp.post("/locale")
@require(Permission.PUBLIC)
def set_locale() -> ResponseReturnValue:
    locale = request.form.get("locale", "")
    if locale not in SUPPORTED_LOCALES:
        return redirect(url_for("auth.login"))
    if g.get("user") is not None:
        services.set_locale(get_session(), g.user, locale)
    session["locale"] = locale
    return redirect(_safe_next(request.form.get("next")))


# --------------------------------------------------------------------------- account


@bp.get("/account")
@require(Permission.SELF_ACCOUNT)
def account() -> ResponseReturnValue:
    roles = sorted(role_label(role) for role in g.principal.roles)
    return render_template(
        "auth/account.html",
        mfa_required=services.mfa_required(g.user),
        locales=SUPPORTED_LOCALES,
        roles=roles,
        recovery_left=services.remaining_recovery_codes(get_session(), g.user),
        recovery_total=services.RECOVERY_CODE_COUNT,
    )


@bp.route("/account/mfa/enrol", methods=["GET", "POST"])
@require(Permission.PUBLIC)
@limiter.limit(login_limit, methods=["POST"], deduct_when=failed_attempt)
def mfa_enrol() -> ResponseReturnValue:
    """Set up TOTP: for a signed-in user, or right after the password step of a user whose role
    requires a second factor (who gets a session only once this succeeds)."""
    signed_in = g.get("user") is not None and g.get("user_session") is not None
    user = g.user if signed_in else _pending_user()
    if user is None:
        return redirect(url_for("auth.login"))
    if user.totp_enabled:
        if signed_in:
            flash(_("Two-factor authentication is already set up."), "success")
            return redirect(url_for("auth.account"))
        return redirect(url_for("auth.login_totp"))
    secret = services.pending_totp_secret(user)
    form = TotpForm()
    if form.validate_on_submit():
        if services.confirm_enrolment(get_session(), user, form.code.data or ""):
            codes = services.regenerate_recovery_codes(get_session(), app_settings(), user)
            g.auth_ok = True
            if signed_in:
                services.mark_session_mfa(g.user_session)
                onward = url_for("auth.account")
            else:
                onward = _sign_in(user, mfa_passed=True)
            # The codes are in this response only (not flashed: the cookie would carry them).
            return render_template("auth/recovery_codes.html", codes=codes, onward=onward,
                                   enrolled=True, form=None, left=len(codes))  # fmt: skip
        flash(_("That code is not valid, or was already used."), "error")
    uri = services.totp_uri(user, secret)
    return render_template(
        "auth/enrol.html",
        form=form,
        secret=secret,
        qr_svg=Markup(services.totp_qr_svg(uri)),  # noqa: S704 (generated SVG: a path only)
        required=services.mfa_required(user),
        signed_in=signed_in,
    )


@bp.route("/account/password", methods=["GET", "POST"])
@require(Permission.SELF_ACCOUNT)
@limiter.limit(login_limit, key_func=user_key, methods=["POST"], deduct_when=failed_attempt)
def change_password() -> ResponseReturnValue:
    form = reauth_form(PasswordChangeForm())
    if form.validate_on_submit() and reauthenticated(form, "password"):
        try:
            ended = services.change_password(
                get_session(), app_settings(), g.user, form.new_password.data or "", g.user_session
            )
        except services.PasswordPolicyError as exc:
            form.new_password.errors = [*form.new_password.errors, exc.message]
        else:
            flash(
                _("Your password was changed. Other sessions signed out: %(n)d.", n=ended),
                "success",
            )
            return redirect(url_for("auth.account"))
    return render_template("auth/password.html", form=form, must_change=g.user.password_must_change)


@bp.route("/account/mfa/reset", methods=["GET", "POST"])
@require(Permission.SELF_ACCOUNT)
@limiter.limit(login_limit, key_func=user_key, methods=["POST"], deduct_when=failed_attempt)
def mfa_reset() -> ResponseReturnValue:
    if not g.user.totp_enabled:
        return redirect(url_for("auth.mfa_enrol"))
    form = reauth_form(MfaResetForm())
    if form.validate_on_submit() and reauthenticated(form, "mfa_reset"):
        services.reset_mfa(get_session(), g.user, g.user_session)
        flash(
            _("Two-factor authentication was removed. Set it up again with your new device."),
            "success",
        )
        return redirect(url_for("auth.mfa_enrol"))
    return render_template("auth/mfa_reset.html", form=form, required=services.mfa_required(g.user))


@bp.route("/account/recovery-codes", methods=["GET", "POST"])
@require(Permission.SELF_ACCOUNT)
@limiter.limit(login_limit, key_func=user_key, methods=["POST"], deduct_when=failed_attempt)
def recovery_codes() -> ResponseReturnValue:
    """How many recovery codes are left; a new set (after re-authentication) replaces them."""
    if not g.user.totp_enabled:
        return redirect(url_for("auth.mfa_enrol"))
    form = reauth_form(RecoveryCodesForm())
    if form.validate_on_submit() and reauthenticated(form, "recovery_codes"):
        codes = services.regenerate_recovery_codes(get_session(), app_settings(), g.user)
        g.auth_ok = True
        return render_template("auth/recovery_codes.html", codes=codes,
                               onward=url_for("auth.account"), enrolled=False, form=None,
                               left=len(codes))  # fmt: skip
    return render_template(
        "auth/recovery_codes.html", codes=None, form=form, enrolled=False,
        left=services.remaining_recovery_codes(get_session(), g.user),
    )  # fmt: skip


# --------------------------------------------------------------------------- API tokens


def _token_form() -> TokenForm:
    form = TokenForm()
    # The scope's code is only the value sent back; the person reads its label.
    form.scopes.choices = [(s.name, str(s.label)) for s in services.scopes_for(g.principal)]
    form.days.choices = [
        (d, ngettext("%(num)d day", "%(num)d days", d)) for d in services.TOKEN_DAYS
    ]
    if request.method == "GET":
        form.days.data = 90
    return form


def _render_tokens(
    form: TokenForm, new_token: str | None = None, status: int = 200
) -> ResponseReturnValue:
    tokens = services.list_api_tokens(get_session(), g.user)
    return render_template(
        "auth/tokens.html",
        form=form,
        tokens=tokens,
        new_token=new_token,
        now=utcnow(),
        scopes=services.API_SCOPES,
    ), status


@bp.route("/account/tokens", methods=["GET", "POST"])
@require(Permission.SELF_TOKENS)
def tokens() -> ResponseReturnValue:
    form = _token_form()
    if form.validate_on_submit():
        try:
            new = services.create_api_token(
                get_session(), g.principal, g.user,
                name=form.name.data or "", scopes=list(form.scopes.data or []), days=form.days.data,
            )  # fmt: skip
        except services.TokenError as exc:
            flash_error(exc)
        else:
            # Shown once, in this response only (not flashed: the cookie would carry it).
            return _render_tokens(_token_form(), new_token=new.token)
    return _render_tokens(form)


@bp.post("/account/tokens/<uuid:token_id>/revoke")
@require(Permission.SELF_TOKENS)
def revoke_token(token_id: uuid.UUID) -> ResponseReturnValue:
    try:
        services.revoke_api_token(get_session(), g.principal, token_id)
    except services.TokenNotFound:
        abort(404)
    flash(_("The token was revoked."), "success")
    return redirect(url_for("auth.tokens"))


def token_state(token: ApiToken, now: dt.datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    return "active" if token.expires_at > now else "expired"


@bp.app_template_global("token_state")
def _token_state_global(token: ApiToken, now: dt.datetime) -> str:
    return token_state(token, now)


# The administrators' reset pages are routes of this blueprint, in their own module.
from . import admin_views  # noqa: E402, F401
