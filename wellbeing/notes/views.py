"""Pages of counselling notes: write one (signed, or a draft), change a draft, sign it, read a
note with its addenda, add an addendum."""

from __future__ import annotations

import datetime as dt
import uuid

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..config import Settings
from ..core.authz import Permission, can
from ..core.errors import DomainError
from ..core.states import state_label
from ..db import get_session
from ..ui import TIER_NAMES
from ..web import flash_error, require
from . import services
from .forms import RISK_ITEM_LABELS, TYPE_LABELS, AddendumForm, NoteForm, SignForm
from .models import CounsellingNote, NoteState
from .queries import Access, is_editable, shown_state

bp = Blueprint("notes", __name__)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["wellbeing.settings"]
    return settings


def _input(form: NoteForm) -> services.NoteInput:
    day = form.session_date.data
    if day is None:  # DataRequired: never None once the form validated
        raise services.NoteError(_l("Choose the date of the session."))
    return services.NoteInput(
        session_date=day, note_type=form.note_type.data or "",
        duration_minutes=form.duration_minutes.data or 0, content=form.content.data or "",
        restricted=bool(form.restricted.data), checklist=list(form.checklist.data or []),
        proposed_tier=form.proposed_tier.data,
    )  # fmt: skip


def _saved(note: CounsellingNote) -> ResponseReturnValue:
    if note.state == NoteState.SIGNED:
        message = _("Counselling note signed and locked. Corrections are added as addenda.")
        if note.decision_id is not None:
            message += " " + _(
                "The proposed tier (%(tier)s) was recorded as a provisional decision: confirm "
                "it on the tier page.", tier=TIER_NAMES[note.proposed_tier or 0],
            )  # fmt: skip
        flash(message, "success")
    else:
        flash(_("Draft saved. Only you can see it; sign it within 24 hours."), "success")
    return redirect(url_for("notes.detail", note_id=note.id))


@bp.route("/students/<uuid:student_id>/notes/new", methods=["GET", "POST"])
@require(Permission.NOTES_WRITE, sensitive=True)
def new(student_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    student = services.student_for_writing(session, g.principal, student_id)
    form = NoteForm()
    if request.method == "GET":
        form.session_date.data = dt.datetime.now(_settings().tz).date()
    if form.validate_on_submit():
        try:
            note = services.write_note(session, g.principal, student, _input(form),
                                       sign=request.form.get("action") == "sign")  # fmt: skip
        except services.NoteError as exc:
            flash_error(exc)
        else:
            return _saved(note)
    return render_template("notes/form.html", form=form, student=student, note=None)


@bp.route("/notes/<uuid:note_id>/edit", methods=["GET", "POST"])
@require(Permission.NOTES_WRITE, sensitive=True)
def edit(note_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    note, student = services.draft_for_editing(session, g.principal, note_id)
    if not is_editable(note):
        flash(_("This note can no longer be changed: add a correction (an addendum) instead."),
              "error")  # fmt: skip
        return redirect(url_for("notes.detail", note_id=note.id))
    form = NoteForm(obj=note) if request.method == "GET" else NoteForm()
    if request.method == "GET":
        form.checklist.data = list(note.checklist or [])
    if form.validate_on_submit():
        try:
            services.edit_draft(session, g.principal, note, _input(form),
                                sign=request.form.get("action") == "sign")  # fmt: skip
        except services.NoteError as exc:
            flash_error(exc)
        else:
            return _saved(note)
    return render_template("notes/form.html", form=form, student=student, note=note)


@bp.post("/notes/<uuid:note_id>/sign")
@require(Permission.NOTES_WRITE)
def sign(note_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    if SignForm().validate_on_submit():
        note, _student = services.get_note(session, g.principal, note_id)
        try:
            services.sign_note(session, g.principal, note)
        except DomainError as exc:
            flash_error(exc)
        else:
            return _saved(note)
    return redirect(url_for("notes.detail", note_id=note_id))


@bp.get("/notes/<uuid:note_id>")
@require(Permission.NOTES_READ, sensitive=True)
def detail(note_id: uuid.UUID) -> ResponseReturnValue:
    view = services.read_note(get_session(), g.principal, note_id)
    return _render_detail(view, AddendumForm())


@bp.post("/notes/<uuid:note_id>/addenda")
@require(Permission.NOTES_WRITE, sensitive=True)
def addendum(note_id: uuid.UUID) -> ResponseReturnValue:
    session = get_session()
    form = AddendumForm()
    if form.validate_on_submit():
        note, _student = services.get_note(session, g.principal, note_id)
        try:
            services.add_addendum(session, g.principal, note, form.text.data or "")
        except services.NoteError as exc:
            flash_error(exc)
        else:
            flash(_("Addendum added. The note is shown as it was, with the addendum below it."),
                  "success")  # fmt: skip
            return redirect(url_for("notes.detail", note_id=note_id))
    return _render_detail(services.read_note(session, g.principal, note_id), form)


def _render_detail(view: services.NoteView, form: AddendumForm) -> ResponseReturnValue:
    note, principal = view.note, g.principal
    is_author = note.author_id == principal.user_id
    full = view.access == Access.FULL
    return render_template(
        "notes/detail.html", view=view, note=note, student=view.student, full=full,
        state=state_label(shown_state(note)), editable=is_author and is_editable(note),
        may_sign=is_author and shown_state(note) != NoteState.SIGNED,
        may_add=full and can(principal, Permission.NOTES_WRITE, view.student)
        and not is_editable(note),
        names=services.people_named(get_session(), view), types=TYPE_LABELS,
        risk_items=RISK_ITEM_LABELS, tiers=TIER_NAMES, form=form, sign_form=SignForm(),
    )  # fmt: skip
