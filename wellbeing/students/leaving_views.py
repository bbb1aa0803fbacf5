"""The leavers page (``/students/leavers``): the administrator records that students left the
school or graduated, which seals their records (``enrolment.record_leavers``).

One page, no script, in steps on the same form:

1. choose the school, paste the student numbers (one per line) or find students by name,
   number or pinyin initials and add them (``add``), say left or graduated and the date;
2. **preview**: the students found, named as chips, and every problem stated: numbers the school
   does not have (listed) and students already left or graduated (listed by name). A list with
   a problem cannot be confirmed: the administrator corrects it first;
3. **confirm**: the records are sealed and what was still open about the students is closed
   (``STUDENT_LEFT``: alerts resolved, follow-ups cancelled, plans closed, tasks cancelled); the
   confirmation says so in words. The confirmation carries a digest of the list previewed: a
   list edited after its preview is previewed again, never sealed unseen.

Who: whoever imports the school's roster (``ROSTER_IMPORT``: the administrator). The preview
and the search name students, so they are audited (``STUDENT_LIST`` / ``STUDENT_SEARCH``, ids
and field names only); the sealing audits itself. A second blueprint of the ``students`` module
(``views.BLUEPRINTS``), endpoints ``leavers.*``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core import audit
from ..core.authz import Permission, Principal, ensure
from ..core.errors import DomainError
from ..core.forms import SelectChoice
from ..db import get_session
from ..orgs.labels import school_label
from ..orgs.models import School
from ..web import flash_error, require
from . import queries
from .enrolment import record_leavers, school_today
from .forms import PlainDateField
from .models import Student, StudentStatus

leavers_bp = Blueprint("leavers", __name__, url_prefix="/students/leavers")

MAX_NUMBERS = 2000
SEARCH_LIMIT = 20
SHOWN_FIELDS = ["name", "student_number", "class"]


class LeaversForm(FlaskForm):
    school = SelectField(_l("School"), validators=[DataRequired()])
    numbers = TextAreaField(
        _l("Student numbers, one per line"), validators=[Optional(), Length(max=40_000)],
        render_kw={"rows": 8, "autocomplete": "off", "spellcheck": "false", "translate": "no"},
        description=_l("Paste them from a spreadsheet column, or find students below and add "
                       "them."),
    )  # fmt: skip
    status = RadioField(
        _l("The students"), default=StudentStatus.GRADUATED, validators=[DataRequired()],
        choices=[(StudentStatus.GRADUATED, _l("Graduated")),
                 (StudentStatus.LEFT, _l("Left the school"))],
    )  # fmt: skip
    left_on = PlainDateField(_l("Date of leaving"), validators=[DataRequired()])
    q = StringField(
        _l("Find a student by full name, student number or pinyin initials"),
        validators=[Optional(), Length(max=60)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )  # fmt: skip
    checked = HiddenField()  # the digest of the list previewed (see the module docstring)


@dataclass
class Preview:
    """The list as the page shows it before sealing."""

    found: list[Student] = field(default_factory=list)  # in the order typed, to be sealed
    unknown: list[str] = field(default_factory=list)  # numbers the school does not have
    sealed: list[Student] = field(default_factory=list)  # already left or graduated
    too_many: bool = False

    @property
    def ok(self) -> bool:
        return bool(self.found) and not (self.unknown or self.sealed or self.too_many)


def parse_numbers(text: str | None) -> list[str]:
    """One number per line (commas, semicolons and tabs also separate), blanks dropped, each
    number once, in the order given."""
    seen: dict[str, None] = {}
    for part in (text or "").replace(",", "\n").replace(";", "\n").replace("\t", "\n").split():
        seen.setdefault(part.strip(), None)
    return [n for n in seen if n]


def preview(session: Session, principal: Principal, school: School, numbers: list[str]) -> Preview:
    """Find the numbers in the school (one query), audited as a list of the students named."""
    ensure(principal, Permission.ROSTER_IMPORT, school)
    shown = Preview(too_many=len(numbers) > MAX_NUMBERS)
    numbers = numbers[:MAX_NUMBERS]
    index = Student.student_number.blind_index
    rows = session.scalars(
        select(Student).where(
            Student.school_id == school.id,
            Student.student_number_bidx.in_({index(school.id, n) for n in numbers}),
        )
    )
    by_number = {(s.student_number or "").strip().casefold(): s for s in rows}
    for number in numbers:
        student = by_number.get(number.casefold())
        if student is None:
            shown.unknown.append(number)
        elif student.sealed:
            shown.sealed.append(student)
        elif student not in shown.found:
            shown.found.append(student)
    named = shown.found + shown.sealed
    audit.record(
        session, audit.AuditAction.STUDENT_LIST, object_type="student", school_id=school.id,
        fields=SHOWN_FIELDS if named else [],
        detail={"students": [s.id for s in named], "view": "leavers_preview",
                "count": len(named), "unknown": len(shown.unknown)},
    )  # fmt: skip
    return shown


def search(session: Session, principal: Principal, school: School, text: str) -> list[Student]:
    """Exact matches in the school's name, number and initials indexes; audited (ids only)."""
    ensure(principal, Permission.ROSTER_IMPORT, school)
    text = " ".join(text.split())[:60]
    kinds = queries.query_kinds(text)
    found = queries.find_students(session, {school.id}, text, kinds, limit=SEARCH_LIMIT)
    audit.record(
        session, audit.AuditAction.STUDENT_SEARCH, object_type="student", school_id=school.id,
        fields=SHOWN_FIELDS if found else [],
        detail={"students": [s.id for s in found], "by": "+".join(kinds), "count": len(found),
                "view": "leavers"},
    )  # fmt: skip
    return found


def digest(school: str, status: str, left_on: dt.date, numbers: list[str]) -> str:
    """What a confirmation must match: the school, the status, the date and the list."""
    text = "|".join([school, status, left_on.isoformat(), *sorted(numbers)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def confirmation(count: int, status: str, on: dt.date, closed: Counter[str]) -> str:
    """What sealing did, in words: the records, then what closed with them."""
    if status == StudentStatus.GRADUATED:
        sealed = ngettext("%(num)d record sealed: the student graduated on %(date)s.",
                          "%(num)d records sealed: the students graduated on %(date)s.",
                          count, date=on.isoformat())  # fmt: skip
    else:
        sealed = ngettext("%(num)d record sealed: the student left the school on %(date)s.",
                          "%(num)d records sealed: the students left the school on %(date)s.",
                          count, date=on.isoformat())  # fmt: skip
    parts = [
        ngettext("%(num)d alert resolved", "%(num)d alerts resolved", n)
        if kind == "alerts" else
        ngettext("%(num)d follow-up cancelled", "%(num)d follow-ups cancelled", n)
        if kind == "followups" else
        ngettext("%(num)d plan closed", "%(num)d plans closed", n)
        if kind == "plans" else
        ngettext("%(num)d task cancelled", "%(num)d tasks cancelled", n)
        for kind in ("alerts", "followups", "plans", "tasks") if (n := closed[kind])
    ]  # fmt: skip
    if not parts:
        then = _("Nothing else was open about them.")
    else:
        then = _("Closed with them: %(list)s.", list=_(", ").join(parts))
    return _("%(sealed)s %(then)s", sealed=sealed, then=then)


def _page(
    form: LeaversForm, status: int = 200, context: dict[str, object] | None = None
) -> ResponseReturnValue:
    extra = context or {}
    page = render_template("students/leaving.html", form=form, max_numbers=MAX_NUMBERS, **extra)
    return page, status


def _form(session: Session) -> tuple[LeaversForm, list[School]]:
    form = LeaversForm()
    schools = queries.importable_schools(session)
    form.school.choices = [SelectChoice(str(s.id), school_label(s)) for s in schools]
    if request.method == "GET":
        form.left_on.data = school_today()
    return form, schools


@leavers_bp.get("")
@require(Permission.ROSTER_IMPORT)
def page() -> ResponseReturnValue:
    """The empty form (names nothing: not a read of any record)."""
    form, _schools = _form(get_session())
    return _page(form)


@leavers_bp.post("")
@require(Permission.ROSTER_IMPORT, sensitive=True)
def submit() -> ResponseReturnValue:
    """``add`` (a student from the search), ``search``, ``preview`` or ``confirm``."""
    session = get_session()
    form, schools = _form(session)
    action = request.form.get("action", "preview")
    added = request.form.get("add")
    school = next((s for s in schools if str(s.id) == form.school.data), None)
    on = form.left_on.data
    if school is None or not form.validate_on_submit() or on is None:
        return _page(form, 400)
    numbers = parse_numbers(form.numbers.data)
    if added and added not in numbers:
        numbers.append(added)
        form.numbers.data = "\n".join(numbers)
    context: dict[str, object] = {"school": school, "listed": {n.casefold() for n in numbers}}
    if form.q.data and (added or action == "search"):
        context["results"] = search(session, g.principal, school, form.q.data)
    elif action == "search":
        form.q.errors = [*form.q.errors, _("Enter a name, a student number or pinyin initials.")]
        return _page(form, 400, context)
    if not numbers:
        if "results" in context:
            return _page(form, 200, context)
        form.numbers.errors = [*form.numbers.errors, _("Enter at least one student number.")]
        return _page(form, 400, context)
    if on > school_today():
        form.left_on.errors = [*form.left_on.errors,
                               _("The date of leaving cannot be in the future.")]  # fmt: skip
        return _page(form, 400, context)
    shown = preview(session, g.principal, school, numbers)
    form.checked.data = digest(str(school.id), form.status.data or "", on, numbers)
    context["preview"] = shown
    if action != "confirm" or added:
        return _page(form, 200 if shown.ok or added else 400, context)
    if not shown.ok:
        return _page(form, 400, context)
    if request.form.get("checked") != form.checked.data:
        flash(_("The list changed since its preview: check it again, then confirm."), "error")
        return _page(form, 400, context)
    try:
        result = record_leavers(
            session, g.principal, school, numbers, StudentStatus(form.status.data),
            on=on,
        )  # fmt: skip
    except DomainError as exc:
        flash_error(exc)
        return _page(form, exc.status, context)
    flash(confirmation(len(result.sealed), form.status.data, on, result.closed),
          "success")  # fmt: skip
    return redirect(url_for("leavers.page"))
