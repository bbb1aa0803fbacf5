"""The partner portal (``/partner``): a hospital liaison's referrals, each showing the minimum
dataset only (:mod:`.minimum`), and their moves: acknowledge, decline, arrange an appointment,
record attendance, write feedback (:mod:`.partner_moves`, through :mod:`.services`).

Every page is built from :func:`.minimum.dataset` and the partner's own records (appointments,
feedback): never the internal reason, the history's reasons, notes, the plan or the record
(``tests/referrals/test_portal_leaks.py`` checks every page, print and export). A referral of
another organisation answers 404 like one that does not exist (the refusal audited); one that
was sent to the liaison's organisation and since withdrawn, cancelled (consent withdrawn),
declined or past its access shows that, and nothing of its content.

``portal_bp`` is the module's second page blueprint: ``views.BLUEPRINTS`` lists it; until it
does, ``api.bp`` registers it beside itself (see :mod:`.api`).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from flask import Blueprint, Response, current_app, flash, g, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission
from ..core.errors import DomainError, NotFound
from ..core.states import state_label
from ..db import get_session, utcnow
from ..screening.engine.instruments import builtin_instruments
from ..web import flash_error, record_denied, require
from . import minimum, partner_moves, portal_data, queries
from .models import URGENCY_LABELS, Referral, ReferralState
from .portal_forms import (
    ATTENDANCE_LABELS,
    AppointmentForm,
    AttendanceForm,
    DeclineForm,
    FeedbackForm,
    MoveForm,
)

portal_bp = Blueprint("partner_portal", __name__, url_prefix="/partner")

S = ReferralState
# The form each state offers the liaison (a move of the table; nothing else is offered).
FORMS_BY_STATE: dict[str, tuple[str, ...]] = {
    S.SENT: ("acknowledge", "decline"),
    S.ACKNOWLEDGED: ("appointment",),
    S.MISSED: ("appointment",),
    S.SCHEDULED: ("attendance",),
    S.ATTENDED: ("feedback",),
}
FORM_CLASSES: dict[str, type[FlaskForm]] = {
    "acknowledge": MoveForm, "decline": DeclineForm, "appointment": AppointmentForm,
    "attendance": AttendanceForm, "feedback": FeedbackForm,
}  # fmt: skip
OWN_FIELDS = ["appointments.note", "feedback"]


def _tz() -> dt.tzinfo:
    tz: dt.tzinfo = current_app.extensions["wellbeing.settings"].tz
    return tz


def _locale() -> str:
    return str(get_locale() or "zh_CN")


# --------------------------------------------------------------------------- labels


def sex_label(sex: str | None) -> str:
    if sex == "M":
        return _("Male")
    if sex == "F":
        return _("Female")
    return _("Other") if sex else ""


def screening_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shared screening results with every code labelled (instrument, scales, bands, item
    texts and answers), for the page; the values are the dataset's, nothing added."""
    instruments, locale = builtin_instruments(), _locale()
    rows = []
    for result in results:
        inst = instruments.get(result["instrument"])
        scales = {s.code: s for s in inst.scales} if inst else {}
        scores = []
        for code, score in result["scores"].items():
            scale = scales.get(code)
            band = (
                next((b for b in scale.bands if b.code == score.get("band")), None)
                if scale
                else None
            )
            scores.append({"name": scale.name.get(locale) if scale else _("Score"),
                           "value": score.get("value"),
                           "band": band.label.get(locale) if band else ""})  # fmt: skip
        answers = []
        for n, (code, value) in enumerate((result.get("answers") or {}).items(), start=1):
            item = inst.items_by_code.get(code) if inst else None
            option = item.option(value) if item is not None and isinstance(value, int) else None
            text = (
                item.text.get(locale) if item is not None and inst and inst.show_item_texts else ""
            )
            answers.append({"n": n, "text": text or _("Item %(n)s", n=n),
                            "answer": option.label.get(locale) if option else str(value)})  # fmt: skip
        rows.append({"instrument": inst.name.get(locale) if inst else _("Questionnaire"),
                     "date": result["date"], "scores": scores, "answers": answers,
                     "shared_answers": "answers" in result})  # fmt: skip
    return rows


# --------------------------------------------------------------------------- reading


def _audit_list(session: Any, referrals: list[Referral], view: str) -> None:
    audit.record(
        session, AuditAction.REFERRAL_VIEW, object_type="referral",
        fields=["name", "age", "school", "grade", "urgency"] if referrals else [],
        detail={"view": view, "students": sorted({str(r.student_id) for r in referrals}),
                "count": len(referrals)},
    )  # fmt: skip


@portal_bp.get("/referrals")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def queue() -> ResponseReturnValue:
    """The liaison's referrals, by what each waits for; withdrawn ones by reference only."""
    session, now = get_session(), utcnow()
    groups = portal_data.liaison_queue(session, g.principal, now)
    shown = [r for group in groups for r in group.referrals]
    data = {r.id: minimum.dataset(r, session) for r in shown}
    _audit_list(session, shown, "partner_queue")
    withdrawn = queries.partner_withdrawn(session, g.principal)
    return render_template(
        "referrals/portal/queue.html", groups=groups, data=data, now=now,
        withdrawn=withdrawn, reference=portal_data.reference, urgencies=URGENCY_LABELS,
    )  # fmt: skip


def _not_visible(referral: Referral | None) -> NotFound:
    """The 404 of a referral that is not the liaison's (the refusal audited when it exists)."""
    if referral is not None:
        record_denied(Forbidden(Permission.PARTNER_REFERRALS, referral), answered="not_found")
    return NotFound(_("There is no such referral."))


def _access_ended(referral: Referral, why: str) -> str:
    """What is left of a referral the liaison no longer reads: its reference and why."""
    audit.record(
        get_session(), AuditAction.REFERRAL_VIEW, object_type="referral", object_id=referral.id,
        fields=[], detail={"view": "partner_ended", "access": why},
    )  # fmt: skip
    return render_template(
        "referrals/portal/ended.html", reference=portal_data.reference(referral.id),
        label=portal_data.ACCESS_LABELS[why], text=portal_data.ACCESS_TEXTS[why],
    )  # fmt: skip


def _open(referral_id: uuid.UUID) -> tuple[Referral, dict[str, Any]] | str:
    """The referral and its dataset (audited), or the page saying the access ended (a str),
    or 404."""
    session, now = get_session(), utcnow()
    referral = session.get(Referral, referral_id)
    access = portal_data.access_of(session, g.principal, referral, now)
    if referral is None or access is None:
        raise _not_visible(referral)
    if access != "open":
        return _access_ended(referral, access)
    return minimum.partner_view(session, g.principal, referral_id, now)


def _own_records(referral: Referral) -> tuple[list[Any], Any]:
    session = get_session()
    appointments = queries.appointments_of(session, referral.id)
    feedback = queries.feedback_of(session, referral.id)
    if appointments or feedback is not None:
        audit.record(
            session, AuditAction.REFERRAL_VIEW, object_type="referral", object_id=referral.id,
            student_id=referral.student_id, school_id=referral.school_id, fields=OWN_FIELDS,
            detail={"view": "partner_own"},
        )  # fmt: skip
    return appointments, feedback


def _render(referral_id: uuid.UUID, failed: tuple[str, FlaskForm] | None = None) -> ResponseReturnValue:  # fmt: skip
    """The referral page; ``failed`` = (move, its submitted form) shows that form again with
    its errors (the refused attempt rolled back first: nothing of it is half-written)."""
    if failed is not None:
        get_session().rollback()
    found = _open(referral_id)
    if isinstance(found, str):
        return found
    referral, data = found
    appointments, feedback = _own_records(referral)
    forms = {name: FORM_CLASSES[name](formdata=None) for name in FORMS_BY_STATE.get(referral.state, ())}  # fmt: skip
    if failed is not None and failed[0] in forms:
        forms[failed[0]] = failed[1]
    history = [(e.to_state, e.at) for e in queries.events_of(get_session(), referral.id)
               if e.to_state != S.DRAFT and e.at >= (referral.sent_at or e.at)]  # fmt: skip
    return render_template(
        "referrals/portal/referral.html", referral=referral, data=data, forms=forms,
        screening=screening_rows(data["screening"]), appointments=appointments,
        feedback=feedback, history=history, state=state_label(S(referral.state)),
        urgencies=URGENCY_LABELS, sex=sex_label(data["sex"]), attendance=ATTENDANCE_LABELS,
        reference=portal_data.reference(referral.id), state_label=lambda s: state_label(S(s)),
    )  # fmt: skip


@portal_bp.get("/referrals/<uuid:referral_id>")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def referral(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _render(referral_id)


@portal_bp.get("/referrals/<uuid:referral_id>/print")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def print_page(referral_id: uuid.UUID) -> ResponseReturnValue:
    """The minimum dataset on one A4 page (the browser prints it; no PDF made here)."""
    found = _open(referral_id)
    if isinstance(found, str):
        return found
    referral, data = found
    return render_template(
        "referrals/portal/print.html", referral=referral, data=data,
        screening=screening_rows(data["screening"]), urgencies=URGENCY_LABELS,
        sex=sex_label(data["sex"]), reference=portal_data.reference(referral.id),
        printed_at=utcnow(),
    )  # fmt: skip


@portal_bp.get("/referrals/<uuid:referral_id>/export.json")
@require(Permission.PARTNER_REFERRALS, sensitive=True, download=True)
def export(referral_id: uuid.UUID) -> ResponseReturnValue:
    """The referral as a JSON file for a hospital system without the API (the API's shape)."""
    found = _open(referral_id)
    if isinstance(found, str):
        return found
    referral, data = found
    appointments, feedback = _own_records(referral)
    document = portal_data.partner_document(referral, data, appointments, feedback)
    body = json.dumps(document, ensure_ascii=False, indent=2, default=str)
    name = f"referral-{portal_data.reference(referral.id)}.json"
    return Response(body, mimetype="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


# --------------------------------------------------------------------------- moves


def _done(referral_id: uuid.UUID, message: str) -> ResponseReturnValue:
    session = get_session()
    referral = session.get(Referral, referral_id)
    if referral is not None:
        counts = portal_data.told_counts(session, referral, g.principal.user_id)
        joint = "" if _locale().startswith("zh") else " "  # no space between Chinese sentences
        message = f"{message}{joint}{portal_data.told_summary(counts)}"
    flash(message, "success")
    return redirect(url_for("partner_portal.referral", referral_id=referral_id))


def _move(referral_id: uuid.UUID, name: str) -> ResponseReturnValue:
    """Validate the move's form, make the move, confirm it; a refusal is shown on the page
    (an illegal move: its message; another organisation's referral: 404)."""
    form = FORM_CLASSES[name]()
    if not form.validate_on_submit():
        return _render(referral_id, (name, form))
    session, principal = get_session(), g.principal
    try:
        message = _call(session, principal, referral_id, name, form)
    except NotFound as exc:
        raise _not_visible(session.get(Referral, referral_id)) from exc
    except DomainError as exc:
        flash_error(exc)
        return _render(referral_id, (name, form))
    return _done(referral_id, message)


def _call(session: Any, principal: Any, referral_id: uuid.UUID, name: str, form: Any) -> str:
    """One partner move through the services; returns what the confirmation says."""
    if name == "acknowledge":
        partner_moves.acknowledge(session, principal, referral_id)
        return _("You acknowledged the referral.")
    if name == "decline":
        partner_moves.decline(session, principal, referral_id, form.reason.data or "")
        return _("You declined the referral; it goes back to the district counselling centre.")
    if name == "appointment":
        local = form.at.data.replace(tzinfo=_tz())
        partner_moves.schedule(session, principal, referral_id, local.astimezone(dt.UTC),
                               note=form.note.data)  # fmt: skip
        return _("Appointment recorded for %(when)s.", when=local.strftime("%Y-%m-%d %H:%M"))
    if name == "attendance":
        attended = form.attendance.data == "attended"
        partner_moves.record_attendance(session, principal, referral_id, attended)
        if attended:
            return _("Recorded that the student came. Write your feedback next.")
        return _("Recorded that the student did not come. Arrange a new appointment, or the "
                 "district counselling centre may close the referral.")  # fmt: skip
    data = partner_moves.FeedbackInput(
        summary=form.summary.data or "", assessment=form.assessment.data or "",
        for_school=form.for_school.data or "", for_family=form.for_family.data or "",
        next_appointment=form.next_appointment.data or "",
        return_advice=form.return_advice.data or "", advises_return=bool(form.advises_return.data),
    )  # fmt: skip
    partner_moves.record_feedback(session, principal, referral_id, data)
    return _("Feedback sent to the school and the district counselling centre.")


@portal_bp.post("/referrals/<uuid:referral_id>/acknowledge")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def acknowledge(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, "acknowledge")


@portal_bp.post("/referrals/<uuid:referral_id>/decline")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def decline(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, "decline")


@portal_bp.post("/referrals/<uuid:referral_id>/appointment")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def appointment(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, "appointment")


@portal_bp.post("/referrals/<uuid:referral_id>/attendance")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def attendance(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, "attendance")


@portal_bp.post("/referrals/<uuid:referral_id>/feedback")
@require(Permission.PARTNER_REFERRALS, sensitive=True)
def feedback(referral_id: uuid.UUID) -> ResponseReturnValue:
    return _move(referral_id, "feedback")
