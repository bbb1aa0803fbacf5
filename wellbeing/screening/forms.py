"""Screening forms. Questionnaire answers are radio groups rendered from the instrument and
read with :func:`answers_from_form` (the fields depend on the campaign's instruments)."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict, TypeVar

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..core.forms import MultiCheckboxField, please_choose
from .engine.instruments import Instrument

T = TypeVar("T")


def given(value: T | None) -> T:
    """A required field's value after ``validate_on_submit()`` (DataRequired has checked it)."""
    if value is None:
        raise ValueError("a required field is empty after validation")
    return value


class CampaignFields(TypedDict):
    name: str
    instruments: list[str]
    grades: list[int]
    opens_on: dt.date
    closes_on: dt.date
    consent_text: str


class CampaignForm(FlaskForm):
    name = StringField(_l("Campaign name"), validators=[DataRequired(), Length(max=200)])
    # Nothing ticked until the user ticks it (PHQ-9 alone is a campaign of its own).
    instruments = MultiCheckboxField(
        _l("Instruments"), required=True, message=_l("Choose at least one instrument.")
    )
    school = SelectField(_l("Schools"), validators=[DataRequired()])
    grade_from = IntegerField(
        _l("From grade"), default=4, validators=[DataRequired(), NumberRange(1, 12)]
    )
    grade_to = IntegerField(
        _l("To grade"), default=12, validators=[DataRequired(), NumberRange(1, 12)]
    )
    opens_on = DateField(_l("Opens on"), validators=[DataRequired()])
    closes_on = DateField(_l("Closes on"), validators=[DataRequired()])
    consent_text = TextAreaField(
        _l("Informed consent text"), validators=[Optional(), Length(max=5000)]
    )

    def fields(self) -> CampaignFields:
        """The validated values, as :func:`~wellbeing.screening.services.create_campaign` takes
        them."""
        return CampaignFields(
            name=given(self.name.data), instruments=list(given(self.instruments.data)),
            grades=list(range(given(self.grade_from.data), given(self.grade_to.data) + 1)),
            opens_on=given(self.opens_on.data), closes_on=given(self.closes_on.data),
            consent_text=self.consent_text.data or "",
        )  # fmt: skip


class ImportForm(FlaskForm):
    file = FileField(
        _l("Result file (CSV or XLSX)"),
        validators=[
            FileRequired(),
            FileAllowed(["csv", "txt", "xlsx"], _l("CSV or XLSX files only.")),
        ],
    )
    mapping = SelectField(_l("Column mapping"), validators=[Optional()])
    dry_run = BooleanField(_l("Check only (write nothing)"))


class MappingForm(FlaskForm):
    name = StringField(_l("Mapping name"), validators=[DataRequired(), Length(max=100)])
    lines = TextAreaField(
        _l("Columns"),
        description=_l(
            "One line per column: header in the file = column name (e.g. 学号 = student_number, "
            "1. 做事时提不起劲或没有兴趣 = phq9_1)."
        ),
        validators=[DataRequired(), Length(max=20000)],
    )


class EntryForm(FlaskForm):
    student_number = StringField(_l("Student number"), validators=[DataRequired(), Length(max=32)])
    school = SelectField(_l("School"), validators=[Optional()])


class KioskForm(FlaskForm):
    student_numbers = TextAreaField(
        _l("Student numbers"), description=_l("One per line; the students answer one after the other."),
        validators=[DataRequired(), Length(max=4000)],
    )  # fmt: skip
    school = SelectField(_l("School"), validators=[Optional()])


class QuestionnaireForm(FlaskForm):
    """CSRF only; the answers are read from the radio groups."""


class ConfirmForm(FlaskForm):
    """A button-only form (CSRF token)."""


class ReviewForm(FlaskForm):
    # The decision is a fact the reviewer states: no tier is preselected (the current one was,
    # so a submit with a reason confirmed a tier nobody chose).
    tier = SelectField(
        _l("Tier"),
        choices=please_choose(
            [("0", _l("Green")), ("1", _l("Yellow")), ("2", _l("Orange")), ("3", _l("Red"))]
        ),
        validators=[DataRequired(message=_l("Choose the tier you decide on."))],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(message=_l("A written reason is required.")), Length(max=2000)],
    )


def field_name(instrument: str, item: str) -> str:
    return f"a__{instrument}__{item}"


def answers_from_form(
    form: Any, instruments: dict[str, Instrument]
) -> tuple[dict[str, dict[str, int | None]], list[str]]:
    """The answers given per instrument, and the item codes whose value is not an option."""
    answers: dict[str, dict[str, int | None]] = {}
    bad: list[str] = []
    for code, instrument in instruments.items():
        values: dict[str, int | None] = {}
        for item in instrument.items:
            raw = (form.get(field_name(code, item.code)) or "").strip()
            if not raw:
                values[item.code] = None
            elif raw.lstrip("-").isdigit() and int(raw) in item.values:
                values[item.code] = int(raw)
            else:
                bad.append(item.code)
        if any(v is not None for v in values.values()):
            answers[code] = values
    return answers, bad


def parse_mapping(text: str) -> dict[str, str]:
    """``header = column`` lines → mapping (blank lines and ``#`` comments ignored)."""
    mapping: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        header, sep, column = line.rpartition("=")
        if not sep or not header.strip():
            raise ValueError(line[:40])
        mapping[header.strip()] = column.strip()
    return mapping
