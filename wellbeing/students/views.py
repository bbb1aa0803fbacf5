"""Student search, the student page (growth record) and the roster upload."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime, get_timezone
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.authz import Permission
from ..core.errors import DomainError
from ..core.forms import SelectChoice
from ..db import get_session
from ..orgs.labels import class_label, school_label
from ..orgs.models import SchoolClass
from ..web import accepts_upload, flash_error, require
from . import export_views, guardians, queries, reading, services
from . import transfer as student_transfer
from .forms import GuardianForm, RosterUploadForm, SearchForm, TimelineFilterForm
from .leaving_views import leavers_bp
from .messages import ROSTER_MESSAGES
from .models import Student
from .timeline import PER_KIND_LIMIT
from .timeline import kinds as timeline_kinds
from .transfer_forms import TransferForm

bp = Blueprint("students", __name__, url_prefix="/students")
# The leavers page (``/students/leavers``) is the module's second page blueprint.
BLUEPRINTS = (leavers_bp,)


def translate_message(message: str) -> str:
    return ROSTER_MESSAGES(message)


# --------------------------------------------------------------------------- search


@bp.get("/")
@require(Permission.STUDENTS_SEARCH)
def search_form() -> ResponseReturnValue:
    return render_template("students/search.html", form=SearchForm(formdata=None), result=None)


@bp.get("/search")
@require(Permission.STUDENTS_SEARCH, sensitive=True)
def search() -> ResponseReturnValue:
    form = SearchForm(formdata=request.args)
    if not form.validate():
        return render_template("students/search.html", form=form, result=None), 400
    try:
        result = reading.search_students(get_session(), g.principal, form.q.data or "")
    except services.StudentError as exc:
        form.q.errors = [*form.q.errors, exc.message]
        return render_template("students/search.html", form=form, result=None), 400
    return render_template("students/search.html", form=form, result=result)


# --------------------------------------------------------------------------- student page


@bp.get("/<uuid:student_id>")
@require(Permission.RECORD_READ, sensitive=True)
def record(student_id: uuid.UUID) -> ResponseReturnValue:
    opened = reading.open_record(get_session(), g.principal, student_id)
    if opened is None:
        abort(404)
    return render_template("students/record.html", student=opened.student, sections=opened.sections)


@bp.get("/<uuid:student_id>/timeline")
@require(Permission.RECORD_READ, sensitive=True)
def timeline(student_id: uuid.UUID) -> ResponseReturnValue:
    """The growth-record timeline, filtered by kind and dates (a GET form: bad dates are shown
    beside their field and nothing is read)."""
    labels = timeline_kinds()
    form = TimelineFilterForm(formdata=request.args)
    form.kinds.choices = [SelectChoice(kind, str(label)) for kind, label in labels.items()]
    valid = form.validate()
    since, until = day_start(form.since.data), day_start(form.until.data, plus_days=1)
    opened = reading.open_timeline(
        get_session(), g.principal, student_id, since=since, until=until,
        kinds=(form.kinds.data or None) if valid else (),
    )  # fmt: skip
    if opened is None:
        abort(404)
    student, found = opened
    page = render_template(
        "students/timeline.html", student=student, form=form, items=found.items, labels=labels,
        valid=valid, capped=found.capped, per_kind=PER_KIND_LIMIT,
    )  # fmt: skip
    return page, 200 if valid else 400


# --------------------------------------------------------------------------- copy for a guardian


@bp.get("/<uuid:student_id>/export")
@require(Permission.RECORD_EXPORT, sensitive=True, download=True)
def export_form(student_id: uuid.UUID) -> ResponseReturnValue:
    """Copy of the record for a guardian: who asked (and restricted notes, for counsellors)."""
    return export_views.form_page(student_id)


@bp.post("/<uuid:student_id>/export")
@require(Permission.RECORD_EXPORT, sensitive=True, download=True)
def export_copy(student_id: uuid.UUID) -> ResponseReturnValue:
    """The copy as one self-contained HTML file (or the form again with what to correct)."""
    return export_views.download(student_id)


def day_start(day: dt.date | None, plus_days: int = 0) -> dt.datetime | None:
    """Midnight of ``day`` + ``plus_days`` where the school is (the app's time zone), in UTC:
    the filter's half-open bounds."""
    if day is None:
        return None
    zone = ZoneInfo(str(get_timezone()))  # by name: Babel hands out pytz zones
    local = dt.datetime.combine(day + dt.timedelta(days=plus_days), dt.time(), zone)
    return local.astimezone(dt.UTC)


# --------------------------------------------------------------------------- roster import


@bp.route("/import", methods=["GET", "POST"])
@require(Permission.ROSTER_IMPORT)
@accepts_upload
def roster_import() -> ResponseReturnValue:
    session = get_session()
    form = RosterUploadForm()
    schools = queries.importable_schools(session)
    form.school.choices = [SelectChoice(str(s.id), school_label(s)) for s in schools]
    if request.method == "GET":
        return render_template("students/import.html", form=form, result=None)
    if not form.validate_on_submit():
        return render_template("students/import.html", form=form, result=None), 400
    school = next(s for s in schools if str(s.id) == form.school.data)
    upload = form.file.data
    result = services.import_roster(
        session, g.principal, school, upload.stream, upload.filename or "roster.csv",
        dry_run=form.dry_run.data,
    )  # fmt: skip
    status = 200 if result.ok else 400
    return render_template(
        "students/import.html", form=form, result=result, school=school, message=translate_message
    ), status


# --------------------------------------------------------------------------- guardians


@bp.route("/<uuid:student_id>/guardians/<int:index>", methods=["GET", "POST"])
@require(Permission.RECORD_WRITE, sensitive=True)
def guardian(student_id: uuid.UUID, index: int) -> ResponseReturnValue:
    """Correct a guardian's details by hand (``index`` one past the last adds a guardian)."""
    session = get_session()
    student = session.get(Student, student_id)
    if student is None:
        abort(404)
    stored = guardians.load_guardian(session, g.principal, student, index)
    form = GuardianForm(data=stored if request.method == "GET" else None)
    if form.validate_on_submit():
        try:
            changed = guardians.correct_guardian(
                session, g.principal, student, index, name=form.name.data, phone=form.phone.data,
                relation=form.relation.data,
            )  # fmt: skip
        except DomainError as exc:
            flash_error(exc)
        else:
            if changed:
                flash(_("Guardian's details corrected. A roster import will not overwrite them."),
                      "success")  # fmt: skip
            else:
                flash(_("Nothing changed."), "success")
            return redirect(url_for("students.record", student_id=student.id))
    return render_template(
        "students/guardian.html", student=student, form=form, index=index,
        adding=not stored, corrected=stored.get(guardians.CORRECTED, []),
    )  # fmt: skip


# --------------------------------------------------------------------------- transfers


@bp.route("/transfer", methods=["GET", "POST"])
@require(Permission.STUDENTS_TRANSFER)
def transfer() -> ResponseReturnValue:
    """Move a student to another school of the district (admins, district counsellors)."""
    session = get_session()
    form = TransferForm()
    schools = queries.importable_schools(session)
    form.from_school.choices = [SelectChoice(str(s.id), school_label(s)) for s in schools]
    form.to_school.choices = list(form.from_school.choices)
    form.class_id.choices = transfer_class_choices(session, schools)
    if request.method == "GET" or not form.validate_on_submit():
        status = 200 if request.method == "GET" else 400
        return render_template("students/transfer.html", form=form), status
    try:
        outcome = student_transfer.transfer_by_number(
            session, g.principal, uuid.UUID(form.from_school.data), form.student_number.data or "",
            uuid.UUID(form.to_school.data),
            uuid.UUID(form.class_id.data) if form.class_id.data else None,
        )  # fmt: skip
    except DomainError as exc:
        flash_error(exc)
        return render_template("students/transfer.html", form=form), exc.status
    flash(transfer_confirmation(outcome), "success")
    return redirect(url_for("students.transfer"))


def transfer_class_choices(session: Session, schools: list[Any]) -> Any:
    """The class select: "not known yet", then each school's classes under its name."""
    names = {s.id: school_label(s) for s in schools}
    groups: dict[str, list[tuple[str, str]]] = {"": [("", _("Not known yet"))]}
    for klass in session.scalars(
        select(SchoolClass).order_by(SchoolClass.school_id, SchoolClass.grade, SchoolClass.label)
    ):
        if klass.school_id in names:
            groups.setdefault(names[klass.school_id], []).append(
                (str(klass.id), class_label(klass.grade, klass.label))
            )
    return groups


def transfer_confirmation(outcome: student_transfer.TransferOutcome) -> str:
    """What happened, in one message: which student, which schools, who was alerted, and until
    when the sending school reads what it wrote."""
    moved = _("Student %(number)s moved from %(old)s to %(new)s.", number=outcome.student.student_number,
              old=outcome.from_school.name, new=outcome.to_school.name)  # fmt: skip
    if outcome.school_class is not None:
        klass = class_label(outcome.school_class.grade, outcome.school_class.label)
        then = _("Class: %(class)s.", **{"class": klass})
        moved = _("%(first)s %(then)s", first=moved, then=then)
    if outcome.alerted:
        alerted = _("Alerted: %(names)s (psychology teachers of %(school)s).",
                    names=_(", ").join(outcome.alerted), school=outcome.to_school.name)  # fmt: skip
    else:
        alerted = _("%(school)s has no psychology teacher: the alert goes up the escalation "
                    "ladder.", school=outcome.to_school.name)  # fmt: skip
    until = _("%(school)s reads what it wrote about the student until %(date)s.",
              school=outcome.from_school.name,
              date=format_datetime(outcome.transfer.read_until, "yyyy-MM-dd"))  # fmt: skip
    # One template: Chinese runs sentences together, English puts a space between them.
    return _("%(moved)s %(alerted)s %(until)s", moved=moved, alerted=alerted, until=until)


@bp.get("/moved-away")
@require(Permission.RECORD_READ, sensitive=True)
def moved_away() -> ResponseReturnValue:
    """Students who left the viewer's school for another school of the district, while the
    school still reads what it wrote about them (they are no longer in its search)."""
    rows = student_transfer.list_moved_away(get_session(), g.principal)
    return render_template("students/moved_away.html", rows=rows)
