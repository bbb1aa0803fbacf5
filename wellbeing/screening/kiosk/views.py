"""The kiosk: a teacher opens it for a queue of students, then hands the device over; each
student answers in turn (:mod:`.service` holds the rules)."""

from __future__ import annotations

import uuid

from flask import flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _

from ...auth.services import logout
from ...core.authz import Permission
from ...db import get_session
from ...web import flash_error, require
from ..blueprint import bp
from ..errors import ScreeningError
from ..forms import KioskForm, QuestionnaireForm, answers_from_form, field_name
from ..pages import campaign_for, pick_school, questionnaire, school_choices
from . import service as kiosk_service


@bp.route("/screening/campaigns/<uuid:campaign_id>/kiosk", methods=["GET", "POST"])
@require(Permission.SCREENING_KIOSK)
def kiosk_open(campaign_id: uuid.UUID) -> ResponseReturnValue:
    campaign, schools = campaign_for(campaign_id, Permission.SCREENING_KIOSK)
    db = get_session()
    form = KioskForm()
    form.school.choices = school_choices(schools)
    context = {"form": form, "campaign": campaign, "multi": len(schools) > 1,
               "kiosk_minutes": kiosk_service.timeout_minutes()}  # fmt: skip
    if request.method == "GET":
        return render_template("screening/kiosk_open.html", **context)
    if not form.validate_on_submit():
        return render_template("screening/kiosk_open.html", **context), 400
    school = pick_school(schools, form.school.data)
    numbers = [n.strip() for n in (form.student_numbers.data or "").splitlines() if n.strip()]
    try:
        _kiosk, token = kiosk_service.open_kiosk_for_numbers(
            db, g.principal, campaign, school, numbers
        )
    except ScreeningError as exc:
        flash_error(exc)
        return render_template("screening/kiosk_open.html", **context), 400
    # The device is handed to students: end the teacher's session on it first.
    logout(db, g.user_session, g.user)
    session.clear()
    return redirect(url_for("screening.kiosk", token=token))


@bp.route("/screening/kiosk/<token>", methods=["GET", "POST"])
@require(Permission.PUBLIC)
def kiosk(token: str) -> ResponseReturnValue:
    db = get_session()
    row = kiosk_service.load_kiosk(db, token)
    if row is None:
        return render_template("screening/kiosk_done.html"), 404
    campaign = kiosk_service.kiosk_campaign(db, row)
    instruments = questionnaire(campaign)
    form = QuestionnaireForm()
    context = {"form": form, "instruments": instruments, "field_name": field_name, "locale": str(get_locale()),
               "consent": campaign.consent_text, "position": len(row.done_ids) + 1, "count": len(row.student_ids)}  # fmt: skip
    if request.method == "GET":
        return render_template("screening/kiosk.html", **context)
    answers, bad = answers_from_form(request.form, {i.code: i for i in instruments})
    if not form.validate_on_submit() or bad or not answers:
        flash(_("Please answer the questions."), "error")
        return render_template("screening/kiosk.html", **context), 400
    try:
        finished, _held = kiosk_service.kiosk_submit(db, row, answers)
    except ScreeningError:  # the session ended meanwhile; nothing was submitted
        return render_template("screening/kiosk_done.html"), 409
    # Recorded, or held for the psychology teacher's review: saved either way.
    if finished:
        return render_template("screening/kiosk_done.html", thanks=True)
    flash(
        _("Thank you, your answers were saved. Please hand the device to the next student."),
        "success",
    )
    return redirect(url_for("screening.kiosk", token=token))
