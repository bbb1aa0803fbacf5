"""Student search, the student page (growth record) and the roster upload."""

from __future__ import annotations

import uuid

from flask import Blueprint, abort, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms.fields.choices import SelectChoice

from ..core.authz import Permission
from ..core.messages import TABULAR, MessageCatalog
from ..db import get_session
from ..ui import nav_item
from ..web import require
from . import queries, services
from .forms import RosterUploadForm, SearchForm

bp = Blueprint("students", __name__, url_prefix="/students")

nav_item("students.search_form", _l("Students"), Permission.STUDENTS_SEARCH, 20)
nav_item("students.roster_import", _l("Roster import"), Permission.ROSTER_IMPORT, 83)

# Roster messages are English codes from roster.py (table ones from tabular.py fall back to
# core.messages); these make them translatable without putting cell values into any message.
ROSTER_MESSAGES = MessageCatalog(
    {
        "required": _l("required"),
        "class label is too long": _l("class label is too long"),
        "contains invalid characters": _l("contains invalid characters"),
        "date must be between 1990-01-01 and today": _l("date must be between 1990-01-01 and today"),
        "grade must be between 1 and 12": _l("grade must be between 1 and 12"),
        "national ID check digit does not match": _l("national ID check digit does not match"),
        "national ID must be 17 digits and a check digit": _l(
            "national ID must be 17 digits and a check digit"
        ),
        "national ID must start with 17 digits": _l("national ID must start with 17 digits"),
        "not a recognised grade": _l("not a recognised grade"),
        "not a recognised value for sex": _l("not a recognised value for sex"),
        "not a valid date": _l("not a valid date"),
        "not a valid phone number": _l("not a valid phone number"),
        "student number is too long": _l("student number is too long"),
        "student number may only contain letters, digits, - and _": _l(
            "student number may only contain letters, digits, - and _"
        ),
        "name is too long": _l("name is too long"),
        "guardian name is too long": _l("guardian name is too long"),
        "file has no data rows": _l("file has no data rows"),
        "unknown column ignored": _l("unknown column ignored"),
        "duplicate student number (differs only in letter case or width)": _l(
            "duplicate student number (differs only in letter case or width)"
        ),
    },
    [
        (r"duplicate student number \(first seen on row (\d+)\)",
         lambda m: _("duplicate student number (first seen on row %(row)s)", row=m[1])),
        (r"missing required columns: (.+)",
         lambda m: _("missing required columns: %(columns)s", columns=m[1])),
        (r"more than one column for (.+)",
         lambda m: _("more than one column for %(field)s", field=m[1])),
    ],
    fallback=TABULAR,
)  # fmt: skip


def translate_message(message: str) -> str:
    return ROSTER_MESSAGES(message)


# --------------------------------------------------------------------------- search


@bp.get("/")
@require(Permission.STUDENTS_SEARCH)
def search_form():  # type: ignore[no-untyped-def]
    return render_template("students/search.html", form=SearchForm(formdata=None), result=None)


@bp.get("/search")
@require(Permission.STUDENTS_SEARCH, sensitive=True)
def search():  # type: ignore[no-untyped-def]
    form = SearchForm(formdata=request.args)
    if not form.validate():
        return render_template("students/search.html", form=form, result=None), 400
    try:
        result = services.search_students(get_session(), g.principal, form.q.data)
    except services.StudentError as exc:
        form.q.errors = [*form.q.errors, _(str(exc))]
        return render_template("students/search.html", form=form, result=None), 400
    return render_template("students/search.html", form=form, result=result)


# --------------------------------------------------------------------------- student page


@bp.get("/<uuid:student_id>")
@require(Permission.RECORD_READ, sensitive=True)
def record(student_id: uuid.UUID):  # type: ignore[no-untyped-def]
    opened = services.open_record(get_session(), g.principal, student_id)
    if opened is None:
        abort(404)
    return render_template("students/record.html", student=opened.student, sections=opened.sections)


# --------------------------------------------------------------------------- roster import


@bp.route("/import", methods=["GET", "POST"])
@require(Permission.ROSTER_IMPORT)
def roster_import():  # type: ignore[no-untyped-def]
    session = get_session()
    form = RosterUploadForm()
    schools = queries.importable_schools(session)
    form.school.choices = [SelectChoice(str(s.id), f"{s.name} ({s.code})") for s in schools]
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
