"""The break-glass request page: a written reason and the re-authentication, then the record."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, flash, g, redirect, render_template, request
from flask.typing import ResponseReturnValue

from ..audit.services import AlreadyInScope, BreakGlassError, has_regular_access
from ..core.authz import Forbidden, Permission
from ..db import get_session
from ..extensions import limiter
from ..students.models import Student
from ..web import flash_error, get_settings, require
from . import messages, services
from .forms import BreakGlassForm

bp = Blueprint("breakglass", __name__)
P = Permission


def _student_url(student_id: uuid.UUID) -> str:
    return f"/students/{student_id}"


def _break_glass_limit() -> str:
    return get_settings().login_limit


def _break_glass_key() -> str:
    user = g.get("user")
    return f"break-glass:{user.id if user else request.remote_addr}"


@bp.route("/break-glass/<uuid:student_id>", methods=["GET", "POST"])
@require(P.BREAK_GLASS)
@limiter.limit(_break_glass_limit, key_func=_break_glass_key, methods=["POST"])
def start(student_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    student = session.get(Student, student_id)
    if student is None:
        abort(404)
    if has_regular_access(g.principal, student):
        flash(messages.IN_SCOPE, "success")
        return redirect(_student_url(student_id))
    if not services.may_break_glass(session, g.principal, student):
        rule = services.refusal_reason(session, g.principal, student)
        raise Forbidden(P.BREAK_GLASS, student, rule=rule, message=messages.REFUSALS.get(rule))
    form = BreakGlassForm()
    if not g.user.totp_enabled:
        del form.code
    if form.validate_on_submit():
        try:
            grant = services.start_break_glass(
                session, g.principal, g.user, get_settings(), student,
                reason=form.reason.data or "", password=form.password.data or "",
                totp_code=form.code.data if "code" in form else None,
            )  # fmt: skip
        except AlreadyInScope:
            return redirect(_student_url(student_id))
        except BreakGlassError as exc:
            flash_error(exc)
        else:
            flash(messages.granted(session, grant, get_settings().tz), "success")
            return redirect(_student_url(student_id))
    return render_template(
        "audit/break_glass_form.html", form=form, student_id=student_id,
        minutes=get_settings().break_glass_minutes,
    )  # fmt: skip
