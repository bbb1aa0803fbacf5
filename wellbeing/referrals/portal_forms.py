"""Forms of the partner portal: the liaison's moves on a referral (shape only; the rules are in
:mod:`.partner_moves` and :mod:`.transitions`)."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, RadioField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .models import MAX_TEXT

DT = "%Y-%m-%dT%H:%M"
ATTENDANCE_LABELS = {"attended": _l("The student came"), "missed": _l("The student did not come")}


class MoveForm(FlaskForm):
    """A move with nothing to write (acknowledge): the CSRF token only."""


class DeclineForm(FlaskForm):
    reason = TextAreaField(
        _l("Why your organisation cannot take the referral"),
        validators=[DataRequired(message=_l("Write why the referral is declined.")),
                    Length(max=MAX_TEXT)],
        description=_l("The district counselling centre reads it and may send the referral to "
                       "another partner."),
    )  # fmt: skip


class AppointmentForm(FlaskForm):
    at = DateTimeLocalField(
        _l("Date and time of the appointment"),
        format=DT,
        validators=[DataRequired(message=_l("Give the date and time of the appointment."))],
    )
    note = TextAreaField(
        _l("Department, place, what to bring"),
        validators=[Optional(), Length(max=MAX_TEXT)],
        description=_l("The school and the district centre read it; no e-mail carries it."),
    )


class AttendanceForm(FlaskForm):
    attendance = RadioField(
        _l("Did the student come to the appointment?"),
        choices=list(ATTENDANCE_LABELS.items()),
        validators=[DataRequired(message=_l("Choose whether the student came."))],
    )


def _text(label: Any) -> TextAreaField:
    return TextAreaField(label, validators=[Optional(), Length(max=MAX_TEXT)])


class FeedbackForm(FlaskForm):
    summary = TextAreaField(
        _l("Summary"),
        validators=[DataRequired(message=_l("Write a summary.")), Length(max=MAX_TEXT)],
        description=_l("What was found and done. Kept encrypted; the school's psychology "
                       "teachers and the district centre read it."),
    )  # fmt: skip
    assessment = _text(_l("Assessment"))
    for_school = _text(_l("Recommendations for the school"))
    for_family = _text(_l("Recommendations for the family"))
    next_appointment = _text(_l("Next appointment"))
    return_advice = _text(_l("Advice on returning to school"))
    advises_return = BooleanField(_l("We advise that the student return to school"))
