"""Open crises with elapsed time, the checklist, and guardian contacts."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from ..alerts.services import event_items
from ..auth.names import user_names
from ..core.authz import Permission
from ..core.errors import DomainError
from ..db import get_session, utcnow
from ..risk import consequences
from ..students.models import Student
from ..web import require
from . import guardian_log, notices, services, stepdown
from .consent import consent_states
from .forms import (
    CHANNEL_LABELS,
    CONSENT_LABELS,
    CONSENT_PURPOSE_LABELS,
    OUTCOME_LABELS,
    RELATION_LABELS,
    STEP_LABELS,
    CloseForm,
    GuardianContactForm,
    step_form,
)
from .models import FIRST_STEP, STEPS, Crisis

bp = Blueprint("crisis", __name__)


@bp.record_once
def _plug_into_tier_pages(state: BlueprintSetupState) -> None:
    """Hand the tier pages (``risk``, below) what a decision means for the student's crisis."""
    state.app.extensions[consequences.EXTENSION] = consequences.TierConsequences(
        open_crisis=services.crisis_for_student,
        approve_stepdown=stepdown.approve_stepdown,
        stepdown_message=notices.stepdown_message,
        decision_message=notices.decision_message,
    )


LABELS = {
    "step": STEP_LABELS, "relation": dict(RELATION_LABELS), "channel": dict(CHANNEL_LABELS),
    "outcome": dict(OUTCOME_LABELS), "consent": dict(CONSENT_LABELS),
    "purpose": dict(CONSENT_PURPOSE_LABELS),
}  # fmt: skip


def _tz() -> dt.tzinfo:
    tz: dt.tzinfo = current_app.extensions["wellbeing.settings"].tz
    return tz


def _local_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    return None if value is None else value.replace(tzinfo=_tz())


@bp.get("/crisis")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def index() -> ResponseReturnValue:
    rows = services.open_crises(get_session(), g.principal)
    return render_template("crisis/index.html", rows=rows, now=utcnow(), total=len(STEPS))


def _now_local() -> dt.datetime:
    return utcnow().astimezone(_tz()).replace(second=0, microsecond=0, tzinfo=None)


def _detail_page(crisis_id: uuid.UUID, failed: tuple[str, Any] | None = None) -> str:
    """The checklist; ``failed`` = (step or "close", its submitted form) re-shows that form
    with its errors and what the user typed (nothing is lost). A refused attempt is rolled
    back first, so nothing of it is half-written, while this page's read is still audited."""
    session = get_session()
    if failed is not None:
        session.rollback()
    found = services.get_crisis(session, g.principal, crisis_id)
    if found is None:
        abort(404)
    crisis, student, done = found
    people: set[uuid.UUID | None] = {s.done_by_id for s in done.values()}
    if crisis.closed_by_id is not None:
        people.add(crisis.closed_by_id)
    names = user_names(session, people)
    contacts = {
        c.id: c
        for c in guardian_log.guardian_contacts(session, g.principal, student, audited=False)
    }
    followups = services.step_followups(session, done)
    forms: dict[str, Any] = {
        step: step_form(step, formdata=None) for step in STEPS if step not in done
    }
    if "guardian_notified" in forms:
        forms["guardian_notified"].contacted_at.data = _now_local()
    close_form = CloseForm(formdata=None)
    missing = services.missing_steps(done)
    if failed is not None:
        what, submitted = failed
        shown = what in forms if what != "close" else crisis.is_open and not missing
        if what == "close":
            close_form = submitted
        else:
            forms[what] = submitted
        if not shown:  # the form is not on the page any more: say why at the top
            for error in (e for f in submitted for e in f.errors):
                flash(str(error), "error")
    return render_template(
        "crisis/detail.html", crisis=crisis, student=student, done=done, steps=STEPS, names=names,
        contacts=contacts, followups=followups, labels=LABELS, forms=forms, close_form=close_form,
        missing=missing, now=utcnow(), first_step=FIRST_STEP,
        linked=event_items(session, g.principal, crisis.alert_id, exclude=crisis.id),
    )  # fmt: skip


@bp.get("/crisis/<uuid:crisis_id>")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def detail(crisis_id: uuid.UUID) -> ResponseReturnValue:
    return _detail_page(crisis_id)


@bp.post("/crisis/<uuid:crisis_id>/steps/<step>")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def step(crisis_id: uuid.UUID, step: str) -> ResponseReturnValue:
    session = get_session()
    crisis = session.get(Crisis, crisis_id)
    if crisis is None or step not in STEPS:
        abort(404)
    form = step_form(step)
    if form.validate_on_submit():
        data = form.data
        guardian = None
        if step == "guardian_notified":
            guardian = {
                "relation": data["relation"], "channel": data["channel"],
                "contacted_at": _local_to_utc(data["contacted_at"]), "summary": data["summary"],
            }  # fmt: skip
        try:
            row = services.complete_step(
                session, g.principal, crisis, step, note=data.get("note"),
                outcome=data.get("outcome"), guardian=guardian,
                followup_due=_local_to_utc(data.get("followup_due")),
            )  # fmt: skip
        except DomainError as exc:
            note_field = form["note"]
            note_field.errors = [*note_field.errors, exc.message]
        else:
            flash(notices.step_message(session, row), "success")
            return redirect(url_for("crisis.detail", crisis_id=crisis.id))
    return _detail_page(crisis.id, (step, form))


@bp.post("/crisis/<uuid:crisis_id>/close")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def close(crisis_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    crisis = session.get(Crisis, crisis_id)
    if crisis is None:
        abort(404)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            services.close_crisis(
                session, g.principal, crisis, summary=form.summary.data, tier=form.tier.data,
                confirmed=bool(form.confirm.data),
            )  # fmt: skip
        except DomainError as exc:
            form.summary.errors = [*form.summary.errors, exc.message]
        else:
            flash(notices.close_message(crisis), "success")
            return redirect(url_for("crisis.detail", crisis_id=crisis.id))
    return _detail_page(crisis.id, ("close", form))


@bp.route("/crisis/students/<uuid:student_id>/guardian-contacts", methods=["GET", "POST"])
@require(Permission.CRISIS_MANAGE, sensitive=True)
def guardian_contacts(student_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    student = session.get(Student, student_id)
    if student is None:
        abort(404)
    form = GuardianContactForm()
    if form.validate_on_submit():
        try:
            contact = guardian_log.record_guardian_contact(
                session, g.principal, student, relation=form.relation.data, channel=form.channel.data,
                contacted_at=_local_to_utc(form.contacted_at.data), summary=form.summary.data,
                consent=form.consent.data, consent_purpose=form.consent_purpose.data,
            )  # fmt: skip
        except DomainError as exc:
            form.summary.errors = [*form.summary.errors, exc.message]
        else:
            flash(
                _("Guardian contact recorded. This records the contact; the system sent no "
                  "message."),
                "success",
            )  # fmt: skip
            if contact.consent:
                flash(
                    _("Consent entry recorded: %(decision)s, %(purpose)s, %(guardian)s.",
                      decision=LABELS["consent"][contact.consent],
                      purpose=LABELS["purpose"][contact.consent_purpose or ""],
                      guardian=LABELS["relation"][contact.relation]),
                    "success",
                )  # fmt: skip
            return redirect(url_for("crisis.guardian_contacts", student_id=student.id))
    if form.contacted_at.data is None:
        form.contacted_at.data = _now_local()
    contacts = guardian_log.guardian_contacts(session, g.principal, student)
    names = user_names(session, {c.staff_id for c in contacts})
    return render_template(
        "crisis/guardian_contacts.html", student=student, contacts=contacts, form=form, names=names,
        labels=LABELS, consents=sorted(consent_states(session, student.id).values(),
                                       key=lambda e: (e.relation, e.purpose)),
    )  # fmt: skip
