"""Student search, the student page (growth record) and the roster upload."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_timezone
from flask_babel import gettext as _

from ..core.authz import Permission
from ..core.errors import DomainError
from ..core.forms import SelectChoice
from ..db import get_session
from ..orgs.labels import school_label
from ..web import accepts_upload, flash_error, require
from . import guardians, queries, services
from .forms import GuardianForm, RosterUploadForm, SearchForm, TimelineFilterForm
from .messages import ROSTER_MESSAGES
from .models import Student
from .timeline import kinds as timeline_kinds

bp = Blueprint("students", __name__, url_prefix="/students")


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
        result = services.search_students(get_session(), g.principal, form.q.data or "")
    except services.StudentError as exc:
        form.q.errors = [*form.q.errors, exc.message]
        return render_template("students/search.html", form=form, result=None), 400
    return render_template("students/search.html", form=form, result=result)


# --------------------------------------------------------------------------- student page


@bp.get("/<uuid:student_id>")
@require(Permission.RECORD_READ, sensitive=True)
def record(student_id: uuid.UUID) -> ResponseReturnValue:
    opened = services.open_record(get_session(), g.principal, student_id)
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
    opened = services.open_timeline(
        get_session(), g.principal, student_id, since=since, until=until,
        kinds=(form.kinds.data or None) if valid else (),
    )  # fmt: skip
    if opened is None:
        abort(404)
    student, found = opened
    page = render_template(
        "students/timeline.html", student=student, form=form, items=found.items, labels=labels,
        valid=valid,
    )  # fmt: skip
    return page, 200 if valid else 400


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
