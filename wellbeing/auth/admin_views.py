"""Administrators reset another user's password or second factor (lost password, lost phone).

Both pages sit beside the user's detail page (``/admin/users/<id>/...``), need
``USERS_MANAGE`` and the administrator's own password (and code) again; the services end
every session of the user and audit the reset. Routes of the ``auth`` blueprint.
"""

from __future__ import annotations

import uuid

from flask import abort, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..core.authz import Permission
from ..db import get_session
from ..extensions import limiter
from ..orgs.services import OrgError
from ..web import flash_error, require
from . import admin, services
from .forms import AdminResetForm
from .models import User
from .view_support import (
    app_settings,
    bp,
    failed_attempt,
    login_limit,
    reauth_form,
    reauthenticated,
    user_key,
)


def _target_or_404(user_id: uuid.UUID) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _page(target: User, kind: str, **context: object) -> ResponseReturnValue:
    return render_template(
        "auth/admin_reset.html", target=target, kind=kind,
        target_mfa_required=services.mfa_required(target), **context,
    )  # fmt: skip


@bp.route("/admin/users/<uuid:user_id>/reset-password", methods=["GET", "POST"])
@require(Permission.USERS_MANAGE)
@limiter.limit(login_limit, key_func=user_key, methods=["POST"], deduct_when=failed_attempt)
def admin_reset_password(user_id: uuid.UUID) -> ResponseReturnValue:
    target = _target_or_404(user_id)
    if target.id == g.user.id:
        flash(_("Change your own password on your account page."), "error")
        return redirect(url_for("auth.change_password"))
    form = reauth_form(AdminResetForm())
    if form.validate_on_submit() and reauthenticated(form, "admin_password_reset"):
        try:
            temporary, ended = admin.admin_reset_password(
                get_session(), g.principal, app_settings(), target
            )
        except OrgError as exc:
            flash_error(exc)
        else:
            g.auth_ok = True
            # The temporary password is in this response only (never flashed or logged).
            return _page(target, "password", temporary=temporary, ended=ended, form=None)
    return _page(target, "password", form=form)


@bp.route("/admin/users/<uuid:user_id>/reset-mfa", methods=["GET", "POST"])
@require(Permission.USERS_MANAGE)
@limiter.limit(login_limit, key_func=user_key, methods=["POST"], deduct_when=failed_attempt)
def admin_reset_mfa(user_id: uuid.UUID) -> ResponseReturnValue:
    target = _target_or_404(user_id)
    if target.id == g.user.id:
        flash(_("Reset your own second factor on your account page."), "error")
        return redirect(url_for("auth.account"))
    if not target.totp_enabled:
        flash(
            _("%(name)s has not set up two-factor authentication: there is nothing to reset.",
              name=target.display_name),
            "error",
        )  # fmt: skip
        return redirect(url_for("orgs.user_detail", user_id=target.id))
    form = reauth_form(AdminResetForm())
    if form.validate_on_submit() and reauthenticated(form, "admin_mfa_reset"):
        try:
            ended = services.admin_reset_mfa(get_session(), g.principal, target)
        except services.MfaError as exc:
            flash_error(exc)
        else:
            g.auth_ok = True
            return _page(target, "mfa", done=True, ended=ended, form=None)
    return _page(target, "mfa", form=form)
