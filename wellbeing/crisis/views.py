"""Open crises with elapsed time, the checklist, and guardian contacts."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..core.authz import Permission
from ..db import get_session, utcnow
from ..students.models import Student
from ..ui import nav_item
from ..web import require
from . import services
from .forms import (
    CHANNEL_LABELS,
    OUTCOME_LABELS,
    RELATION_LABELS,
    STEP_LABELS,
    CloseForm,
    GuardianContactForm,
    StepForm,
)
from .models import STEPS, Crisis

bp = Blueprint("crisis", __name__)

nav_item("crisis.index", _l("Crises"), Permission.CRISIS_MANAGE, 25)

LABELS = {
    "step": STEP_LABELS, "relation": dict(RELATION_LABELS), "channel": dict(CHANNEL_LABELS),
    "outcome": dict(OUTCOME_LABELS),
}  # fmt: skip


def _tz():  # type: ignore[no-untyped-def]
    return current_app.extensions["wellbeing.settings"].tz


def _local_to_utc(value):  # type: ignore[no-untyped-def]
    return None if value is None else value.replace(tzinfo=_tz())


@bp.get("/crisis")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def index():  # type: ignore[no-untyped-def]
    rows = services.open_crises(get_session(), g.principal)
    return render_template("crisis/index.html", rows=rows, now=utcnow(), total=len(STEPS))


@bp.get("/crisis/<uuid:crisis_id>")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def detail(crisis_id: uuid.UUID):  # type: ignore[no-untyped-def]
    session = get_session()
    found = services.get_crisis(session, g.principal, crisis_id)
    if found is None:
        abort(404)
    crisis, student, done = found
    from ..concerns.services import user_names

    names = user_names(session, {s.done_by_id for s in done.values()} | {crisis.closed_by_id})
    contacts = {
        c.id: c for c in services.guardian_contacts(session, g.principal, student, audited=False)
    }
    form = StepForm()
    form.contacted_at.data = form.contacted_at.data or utcnow().astimezone(_tz()).replace(
        second=0, microsecond=0, tzinfo=None
    )
    return render_template(
        "crisis/detail.html", crisis=crisis, student=student, done=done, steps=STEPS, names=names,
        contacts=contacts, labels=LABELS, form=form, close_form=CloseForm(),
        missing=services.missing_steps(done), now=utcnow(),
    )  # fmt: skip


@bp.post("/crisis/<uuid:crisis_id>/steps/<step>")
@require(Permission.CRISIS_MANAGE)
def step(crisis_id: uuid.UUID, step: str):  # type: ignore[no-untyped-def]
    session = get_session()
    crisis = session.get(Crisis, crisis_id)
    if crisis is None or step not in STEPS:
        abort(404)
    form = StepForm()
    if not form.validate_on_submit():
        flash(_("Please check the form."), "error")
        return redirect(url_for("crisis.detail", crisis_id=crisis.id))
    guardian = None
    if step == "guardian_notified":
        guardian = {
            "relation": form.relation.data, "channel": form.channel.data,
            "contacted_at": _local_to_utc(form.contacted_at.data), "summary": form.summary.data or "",
        }  # fmt: skip
    try:
        services.complete_step(
            session, g.principal, crisis, step, note=form.note.data, outcome=form.outcome.data,
            guardian=guardian, followup_due=_local_to_utc(form.followup_due.data),
        )  # fmt: skip
    except services.CrisisError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Step recorded."), "success")
    return redirect(url_for("crisis.detail", crisis_id=crisis.id))


@bp.post("/crisis/<uuid:crisis_id>/close")
@require(Permission.CRISIS_MANAGE)
def close(crisis_id: uuid.UUID):  # type: ignore[no-untyped-def]
    session = get_session()
    crisis = session.get(Crisis, crisis_id)
    if crisis is None:
        abort(404)
    if not CloseForm().validate_on_submit():
        abort(400)
    try:
        services.close_crisis(session, g.principal, crisis)
    except services.CrisisError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Crisis closed."), "success")
    return redirect(url_for("crisis.detail", crisis_id=crisis.id))


@bp.route("/crisis/students/<uuid:student_id>/guardian-contacts", methods=["GET", "POST"])
@require(Permission.CRISIS_MANAGE, sensitive=True)
def guardian_contacts(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    session = get_session()
    student = session.get(Student, student_id)
    if student is None:
        abort(404)
    form = GuardianContactForm()
    if form.validate_on_submit():
        try:
            services.record_guardian_contact(
                session, g.principal, student, relation=form.relation.data, channel=form.channel.data,
                contacted_at=_local_to_utc(form.contacted_at.data), summary=form.summary.data,
            )  # fmt: skip
        except services.CrisisError as exc:
            form.summary.errors = [*form.summary.errors, str(exc)]
        else:
            flash(_("Guardian contact recorded."), "success")
            return redirect(url_for("crisis.guardian_contacts", student_id=student.id))
    if form.contacted_at.data is None:
        form.contacted_at.data = (
            utcnow().astimezone(_tz()).replace(second=0, microsecond=0, tzinfo=None)
        )
    contacts = services.guardian_contacts(session, g.principal, student)
    from ..concerns.services import user_names

    names = user_names(session, {c.staff_id for c in contacts})
    return render_template(
        "crisis/guardian_contacts.html", student=student, contacts=contacts, form=form, names=names,
        labels=LABELS,
    )  # fmt: skip
