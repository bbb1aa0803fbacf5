"""Checklist step and guardian contact forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

STEP_LABELS = {
    "acknowledge": _l("Acknowledged: someone is on it"),
    "assessment": _l("On-site assessment done"),
    "guardian_notified": _l("Guardian notified"),
    "safety_plan": _l("Safety plan made"),
    "referral": _l("Referral considered or made"),
    "followup_scheduled": _l("Follow-up scheduled"),
}
RELATION_LABELS = [
    ("mother", _l("Mother")), ("father", _l("Father")), ("grandparent", _l("Grandparent")),
    ("other_relative", _l("Other relative")), ("legal_guardian", _l("Legal guardian")),
    ("other", _l("Other")),
]  # fmt: skip
CHANNEL_LABELS = [
    ("phone", _l("Phone")), ("in_person", _l("In person")), ("video", _l("Video call")),
    ("message", _l("Message")),
]  # fmt: skip
OUTCOME_LABELS = [("considered", _l("Considered, not needed now")), ("made", _l("Referral made"))]


class StepForm(FlaskForm):
    note = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=4000)])
    outcome = SelectField(_l("Referral"), choices=OUTCOME_LABELS, validators=[Optional()])
    relation = SelectField(_l("Which guardian"), choices=RELATION_LABELS, validators=[Optional()])
    channel = SelectField(_l("How"), choices=CHANNEL_LABELS, validators=[Optional()])
    contacted_at = DateTimeLocalField(_l("When"), format="%Y-%m-%dT%H:%M", validators=[Optional()])
    summary = TextAreaField(_l("What was said"), validators=[Optional(), Length(max=4000)])
    followup_due = DateTimeLocalField(
        _l("Follow-up due"), format="%Y-%m-%dT%H:%M", validators=[Optional()]
    )


class GuardianContactForm(FlaskForm):
    relation = SelectField(
        _l("Which guardian"), choices=RELATION_LABELS, validators=[DataRequired()]
    )
    channel = SelectField(_l("How"), choices=CHANNEL_LABELS, validators=[DataRequired()])
    contacted_at = DateTimeLocalField(
        _l("When"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )
    summary = TextAreaField(_l("What was said"), validators=[DataRequired(), Length(max=4000)])


class CloseForm(FlaskForm):
    pass
