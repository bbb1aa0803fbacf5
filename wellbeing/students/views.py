"""Student search, the student page (growth record) and the roster upload."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, g, render_template, request
from flask.typing import ResponseReturnValue

from ..core.authz import Permission
from ..core.forms import SelectChoice
from ..db import get_session
from ..orgs.labels import school_label
from ..web import accepts_upload, require
from . import queries, services
from .forms import RosterUploadForm, SearchForm
from .messages import ROSTER_MESSAGES

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
