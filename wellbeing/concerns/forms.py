"""The quick concern form and the hotline call form."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..core.forms import MultiCheckboxField, please_choose
from ..core.states import state_label
from .models import STATES, ConcernState

CATEGORY_LABELS = [
    ("mood", _l("Mood: low, withdrawn, tearful, anxious")),
    ("self_harm_signs", _l("Signs of self-harm or talk of dying")),
    ("behaviour", _l("Behaviour change")),
    ("bullying", _l("Bullying (as target or as bully)")),
    ("family", _l("Family situation")),
    ("academic", _l("Study pressure or sudden drop")),
    ("other", _l("Other")),
]
URGENCY_LABELS = [
    ("routine", _l("Routine: please look into it")),
    ("soon", _l("Soon: within days")),
    ("immediate_danger", _l("Immediate danger: the student may hurt themselves or others now")),
]
# Rendered when shown (in the reader's language), not at import.
STATE_LABELS = {state: LazyString(state_label, state) for state in STATES}
CALLER_LABELS = [
    ("student", _l("Student")), ("guardian", _l("Guardian")), ("teacher", _l("Teacher")),
    ("other", _l("Other")),
]  # fmt: skip
TOPIC_LABELS = [
    ("mood", _l("Mood")), ("anxiety", _l("Anxiety")), ("self_harm", _l("Self-harm or suicide")),
    ("family", _l("Family")), ("bullying", _l("Bullying")), ("academic", _l("Study")),
    ("relationships", _l("Relationships")), ("other", _l("Other")),
]  # fmt: skip
RISK_LABELS = [
    ("0", _l("Green: no risk")), ("1", _l("Yellow: general concern")),
    ("2", _l("Orange: key concern")), ("3", _l("Red: crisis")),
]  # fmt: skip


class ConcernForm(FlaskForm):
    # Class teachers pick from their own classes' students; others give school + number.
    student_id = SelectField(_l("Student"), choices=[], validators=[Optional()])
    school_id = SelectField(_l("School"), choices=[], validators=[Optional()])
    student_number = StringField(_l("Student number"), validators=[Optional(), Length(max=40)])
    # Nothing pre-chosen: a default would record a kind or an urgency nobody chose.
    category = SelectField(
        _l("What kind of concern?"), choices=please_choose(CATEGORY_LABELS),
        validators=[DataRequired(message=_l("Choose the kind of concern."))],
    )  # fmt: skip
    urgency = RadioField(
        _l("How urgent?"), choices=URGENCY_LABELS,
        validators=[DataRequired(message=_l("Choose how urgent it is."))],
    )  # fmt: skip
    text = TextAreaField(
        _l("What did you see or hear?"),
        validators=[DataRequired(), Length(max=4000)],
        description=_l("Facts: what, when, where. Only the psychology team can read this."),
    )


class MarkForm(FlaskForm):
    action = SelectField(
        choices=[(ConcernState.SEEN, _l("Seen")), (ConcernState.ACTED, _l("Acted on"))],
        validators=[DataRequired()],
    )
    note = TextAreaField(_l("What was done (optional)"), validators=[Optional(), Length(max=4000)])


class HotlineForm(FlaskForm):
    called_at = DateTimeLocalField(
        _l("Call started"), format="%Y-%m-%dT%H:%M", validators=[DataRequired()]
    )
    duration_minutes = IntegerField(
        _l("Duration (minutes)"), validators=[InputRequired(), NumberRange(0, 600)]
    )
    # Who called and how risky it sounded are facts: nothing is pre-chosen.
    caller_type = SelectField(
        _l("Caller"), choices=please_choose(CALLER_LABELS),
        validators=[DataRequired(message=_l("Choose who called."))],
    )  # fmt: skip
    topics = MultiCheckboxField(
        _l("Topics"), choices=TOPIC_LABELS, required=True, message=_l("Choose at least one topic.")
    )
    risk_level = RadioField(
        _l("Risk level"),
        choices=RISK_LABELS,
        validators=[DataRequired(message=_l("Choose the risk level you heard."))],
    )
    school_id = SelectField(
        _l("Student's school (only if the caller named a student)"),
        choices=[],
        validators=[Optional()],
    )
    student_number = StringField(_l("Student number"), validators=[Optional(), Length(max=40)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])
