"""Forms of counselling notes: the note (new or a draft being changed) and an addendum."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, IntegerField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..core.forms import MultiCheckboxField, SelectChoice, int_or_none, please_choose
from ..ui import TIER_NAMES
from .models import MAX_CONTENT, MAX_DURATION

# People's names of the codes a note stores (never shown raw).
TYPE_LABELS = {
    "individual": _l("Individual session"),
    "group": _l("Group session"),
    "guardian": _l("With a guardian"),
    "teacher": _l("With a teacher"),
    "phone": _l("Phone call"),
}
RISK_ITEM_LABELS = {
    "suicidal_thoughts": _l("Thoughts of suicide"),
    "suicide_plan": _l("A plan or intent to die"),
    "self_harm": _l("Self-harm"),
    "previous_attempt": _l("A previous attempt"),
    "hopelessness": _l("Hopelessness"),
    "access_to_means": _l("Access to means"),
    "substance_use": _l("Alcohol or drug use"),
    "harm_to_others": _l("Risk of harming others"),
    "abuse_or_neglect": _l("Abuse or neglect"),
    "protective_factors": _l("Protective factors present"),
}


class NoteForm(FlaskForm):
    session_date = DateField(_l("Date of the session"), validators=[DataRequired()])
    note_type = SelectField(
        _l("Type"),
        choices=please_choose(list(TYPE_LABELS.items())),
        validators=[DataRequired(message=_l("Choose the type of session."))],
    )
    duration_minutes = IntegerField(
        _l("Session length (minutes)"),
        validators=[InputRequired(), NumberRange(min=1, max=MAX_DURATION)],
    )
    content = TextAreaField(
        _l("What happened"),
        validators=[DataRequired(message=_l("Write what happened in the session.")),
                    Length(max=MAX_CONTENT)],
        description=_l("Kept encrypted. Once signed, the note cannot be changed; a correction "
                       "is added as an addendum."),
    )  # fmt: skip
    restricted = BooleanField(
        _l("Restricted note (only you and district counsellors read it)"),
    )
    checklist = MultiCheckboxField(
        _l("Risk assessment (tick what is present)"), choices=list(RISK_ITEM_LABELS.items())
    )
    proposed_tier = SelectField(
        _l("Proposed tier"),
        coerce=int_or_none,
        choices=[("", _l("No change")), *(SelectChoice(t, TIER_NAMES[t]) for t in (0, 1, 2, 3))],
        validators=[Optional()],
        description=_l("When signed, a different tier is recorded as a provisional decision "
                       "for a person to confirm on the tier page."),
    )  # fmt: skip


class AddendumForm(FlaskForm):
    text = TextAreaField(
        _l("Addendum"),
        validators=[DataRequired(message=_l("Write the addendum.")), Length(max=MAX_CONTENT)],
        description=_l("The note stays as it was; the addendum is shown below it."),
    )


class SignForm(FlaskForm):
    """Signing a draft (no fields: the CSRF token)."""
