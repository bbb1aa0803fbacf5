"""The download of a report's list of names, with a reason (``reports.named``): its own
blueprint, ``reports_named`` (listed in ``views.BLUEPRINTS``).

``GET /reports/coverage/unscreened``: the form (the reason); ``POST``: the CSV file, or the
form again (400) saying what is missing. Query arguments ``school`` and ``campaign`` (both
optional: the psychology teacher's one school, the latest campaign) and ``grade``.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, abort, current_app, g, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ..core.authz import Permission
from ..db import get_session, utcnow
from ..orgs.models import School
from ..screening.models import Campaign
from ..web import require
from . import named

bp = Blueprint("reports_named", __name__)


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Why you need the names"),
        validators=[
            DataRequired(message=_l("Write why you need the list of names.")),
            Length(max=named.REASON_MAX),
        ],
        description=_l(
            "For example: to arrange a make-up session for these students. Supervisors read "
            "this reason when they review exports."
        ),
    )


def _uuid_arg(name: str) -> uuid.UUID | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        abort(404)


def _grade_arg() -> int | None:
    raw = request.args.get("grade", "")
    return int(raw) if raw.isdigit() and 1 <= int(raw) <= 12 else None


def _scope() -> tuple[School, Campaign]:
    return named.unscreened_scope(
        get_session(), g.principal, _uuid_arg("school"), _uuid_arg("campaign"), now=utcnow(),
        tz=current_app.extensions["wellbeing.settings"].tz,
    )  # fmt: skip


def _page(school: School, campaign: Campaign, form: ReasonForm) -> str:
    return render_template(
        "reports/named_export.html", school=school, campaign=campaign, form=form,
        grade=_grade_arg(),
    )  # fmt: skip


@bp.get("/reports/coverage/unscreened")
@require(Permission.STATS_SCHOOL)
def unscreened_form() -> ResponseReturnValue:
    school, campaign = _scope()
    return _page(school, campaign, ReasonForm())


@bp.post("/reports/coverage/unscreened")
@require(Permission.STATS_SCHOOL, sensitive=True, download=True)
def unscreened() -> ResponseReturnValue:
    school, campaign = _scope()
    form = ReasonForm()
    if not form.validate_on_submit():
        return _page(school, campaign, form), 400
    try:
        file = named.export_unscreened(
            get_session(), g.principal, school, campaign, form.reason.data, grade=_grade_arg()
        )
    except named.NamedExportError as exc:
        form.reason.errors = [*form.reason.errors, exc.message]
        return _page(school, campaign, form), 400
    return Response(
        file.text.encode("utf-8"), mimetype="text/csv",
        headers={
            "Content-Disposition": f"attachment; filename={file.filename}",
            "Cache-Control": "no-store",
        },
    )  # fmt: skip
