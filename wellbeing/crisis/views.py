"""Open crises with elapsed time, the checklist, and guardian contacts."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth.names import user_names
from ..core.authz import Permission
from ..db import get_session, utcnow
from ..students.models import Student
from ..ui import nav_item
from ..web import require
from . import notices, services
from .forms import (
    CHANNEL_LABELS,
    OUTCOME_LABELS,
    RELATION_LABELS,
    STEP_LABELS,
    CloseForm,
    GuardianContactForm,
    step_form,
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


def _now_local():  # type: ignore[no-untyped-def]
    return utcnow().astimezone(_tz()).replace(second=0, microsecond=0, tzinfo=None)


def _detail_page(crisis_id: uuid.UUID, failed: tuple[str, object] | None = None):  # type: ignore[no-untyped-def]
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
    names = user_names(session, {s.done_by_id for s in done.values()} | {crisis.closed_by_id})
    contacts = {
        c.id: c for c in services.guardian_contacts(session, g.principal, student, audited=False)
    }
    followups = services.step_followups(session, done)
    forms = {step: step_form(step, formdata=None) for step in STEPS if step not in done}
    if "guardian_notified" in forms:
        forms["guardian_notified"].contacted_at.data = _now_local()  # type: ignore[attr-defined]
    close_form = CloseForm(formdata=None)
    missing = services.missing_steps(done)
    if failed is not None:
        what, submitted = failed
        shown = what in forms if what != "close" else crisis.status == "open" and not missing
        if what == "close":
            close_form = submitted  # type: ignore[assignment]
        else:
            forms[what] = submitted  # type: ignore[assignment]
        if not shown:  # the form is not on the page any more: say why at the top
            for error in (e for f in submitted for e in f.errors):  # type: ignore[attr-defined]
                flash(str(error), "error")
    return render_template(
        "crisis/detail.html", crisis=crisis, student=student, done=done, steps=STEPS, names=names,
        contacts=contacts, followups=followups, labels=LABELS, forms=forms, close_form=close_form,
        missing=missing, now=utcnow(),
    )  # fmt: skip


@bp.get("/crisis/<uuid:crisis_id>")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def detail(crisis_id: uuid.UUID):  # type: ignore[no-untyped-def]
    return _detail_page(crisis_id)


@bp.post("/crisis/<uuid:crisis_id>/steps/<step>")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def step(crisis_id: uuid.UUID, step: str):  # type: ignore[no-untyped-def]
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
        except services.CrisisError as exc:
            form.note.errors = [*form.note.errors, str(exc)]  # type: ignore[attr-defined]
        else:
            flash(notices.step_message(session, row), "success")
            return redirect(url_for("crisis.detail", crisis_id=crisis.id))
    return _detail_page(crisis.id, (step, form))


@bp.post("/crisis/<uuid:crisis_id>/close")
@require(Permission.CRISIS_MANAGE, sensitive=True)
def close(crisis_id: uuid.UUID):  # type: ignore[no-untyped-def]
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
        except services.CrisisError as exc:
            form.summary.errors = [*form.summary.errors, str(exc)]
        else:
            flash(notices.close_message(crisis), "success")
            return redirect(url_for("crisis.detail", crisis_id=crisis.id))
    return _detail_page(crisis.id, ("close", form))


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
            flash(
                _("Guardian contact recorded. This records the contact; the system sent no "
                  "message."),
                "success",
            )  # fmt: skip
            return redirect(url_for("crisis.guardian_contacts", student_id=student.id))
    if form.contacted_at.data is None:
        form.contacted_at.data = _now_local()
    contacts = services.guardian_contacts(session, g.principal, student)
    names = user_names(session, {c.staff_id for c in contacts})
    return render_template(
        "crisis/guardian_contacts.html", student=student, contacts=contacts, form=form, names=names,
        labels=LABELS,
    )  # fmt: skip
