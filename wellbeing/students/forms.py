"""Forms of the student register: search and roster upload."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, DateField, SelectField, StringField, ValidationError
from wtforms.validators import DataRequired, Length, Optional

from ..core.forms import MultiCheckboxField


class SearchForm(FlaskForm):
    """A GET form: the query never goes into a POST body that could be replayed."""

    class Meta:
        csrf = False  # read-only GET search

    q = StringField(
        _l("Full name, student number or pinyin initials"),
        validators=[DataRequired(), Length(max=60)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


class RosterUploadForm(FlaskForm):
    school = SelectField(_l("School"), validators=[DataRequired()])
    file = FileField(
        _l("Roster file (CSV or XLSX)"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(["csv", "txt", "xlsx"], _l("Use a .csv or .xlsx file.")),
        ],
        description=_l(
            "Columns: student number, name, sex, birth date, grade, class (Chinese headers "
            "学号/姓名/性别/出生日期/年级/班级 work too); optional national ID, guardian, "
            "guardian phone. CSV in UTF-8 or GB18030."
        ),
    )
    dry_run = BooleanField(_l("Only check the file (write nothing)"))


class PlainDateField(DateField):
    """A ``YYYY-MM-DD`` date whose refusal says what to type (WTForms' own message does not)."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(
                str(_l("Enter a date as YYYY-MM-DD, for example 2026-09-01."))
            ) from exc


class TimelineFilterForm(FlaskForm):
    """The timeline's filter: a GET form (bookmarkable, nothing to replay), kinds and dates.

    ``kinds`` choices are set by the view from the contributed kinds; none ticked means all.
    """

    class Meta:
        csrf = False  # read-only GET filter

    kinds = MultiCheckboxField(_l("Show"))
    since = PlainDateField(_l("From (date)"), validators=[Optional()])
    until = PlainDateField(_l("To (date, inclusive)"), validators=[Optional()])

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))


class GuardianForm(FlaskForm):
    """A guardian's details, corrected by hand on the record (``guardians.correct_guardian``)."""

    name = StringField(_l("Name"), validators=[Optional(), Length(max=50)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=32)])
    relation = StringField(
        _l("Relation to the student"), validators=[Optional(), Length(max=20)],
        description=_l("For example mother, father, grandmother."),
    )  # fmt: skip
