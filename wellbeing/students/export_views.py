"""The pages of the copy for a guardian (``export.py``): the form (who asked; for district
counsellors, "include restricted notes" and the reason), then the download of one
self-contained HTML file. The routes are in ``views.py`` (on its blueprint) and call these."""

from __future__ import annotations

import uuid

from flask import Response, g, render_template
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, format_datetime
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.errors import DomainError
from ..core.forms import please_choose
from ..db import get_session
from .export import (
    REASON_MAX,
    REQUESTER_LABELS,
    ExportRequest,
    make_copy,
    may_include_restricted,
    student_for_export,
)
from .models import Student

COPY_LOCALE = "zh_CN"


class ExportForm(FlaskForm):
    """Who asked for the copy; the restricted-notes fields are removed for those who may not
    include them (the service refuses them anyway)."""

    requester = SelectField(
        _l("Who asked for the copy"),
        choices=please_choose(list(REQUESTER_LABELS.items())),
        validators=[DataRequired(message=_l("Choose who asked for the copy."))],
    )
    include_restricted = BooleanField(_l("Include restricted counselling notes"))
    reason = TextAreaField(
        _l("Why restricted notes are included"),
        validators=[Optional(), Length(max=REASON_MAX)],
        description=_l(
            "Required when restricted notes are included. Supervisors read this reason when "
            "they review exports."
        ),
    )


def _form(student: Student) -> ExportForm:
    form = ExportForm()
    if not may_include_restricted(g.principal, student):
        del form.include_restricted
        del form.reason
    return form


def _page(student: Student, form: ExportForm) -> str:
    return render_template("students/export.html", student=student, form=form)


def form_page(student_id: uuid.UUID) -> ResponseReturnValue:
    student = student_for_export(get_session(), g.principal, student_id)
    return _page(student, _form(student))


def download(student_id: uuid.UUID) -> ResponseReturnValue:
    """The copy as an attachment, or the form again (400) with what to correct."""
    session = get_session()
    student = student_for_export(session, g.principal, student_id)
    form = _form(student)
    if not form.validate_on_submit():
        return _page(student, form), 400
    include = bool(getattr(form, "include_restricted", None) and form.include_restricted.data)
    request = ExportRequest(
        requester=form.requester.data or "",
        include_restricted=include,
        reason=(form.reason.data or "") if include else "",
    )
    try:
        with force_locale(COPY_LOCALE):  # the copy is read by the guardian, in Chinese
            bundle = make_copy(session, g.principal, student.id, request)
            html = render_template(
                "students/export_copy.html", bundle=bundle,
                produced=format_datetime(bundle.produced_at, "yyyy-MM-dd HH:mm"),
            )  # fmt: skip
    except DomainError as exc:
        target = form.reason if include and hasattr(form, "reason") else form.requester
        target.errors = [*target.errors, exc.message]
        return _page(student, form), 400
    day = bundle.produced_at.date().isoformat()
    return Response(
        html, mimetype="text/html",
        headers={
            "Content-Disposition": f"attachment; filename=record-copy-{day}-{bundle.export_id}.html",
            "Cache-Control": "no-store",
        },
    )  # fmt: skip
