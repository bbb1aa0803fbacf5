"""Checklist step, closing and guardian contact forms.

Every select that records a fact (which guardian, how, the referral outcome, the tier at closing)
starts on an empty "please choose" option and is required: nothing is recorded that the user did
not choose. Each step has its own form with exactly the data that step records.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, RadioField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..core.forms import int_or_none, please_choose
from ..ui import TIER_NAMES

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
CONSENT_PURPOSE_LABELS = [
    ("partner_sharing", _l("Sharing with a partner")), ("referral", _l("Referral")),
    ("screening", _l("Screening")),
]  # fmt: skip
CONSENT_LABELS = [
    ("given", _l("Consent given")), ("refused", _l("Consent refused")),
    ("withdrawn", _l("Consent withdrawn")),
]  # fmt: skip
OUTCOME_LABELS = [("considered", _l("Considered, not needed now")), ("made", _l("Referral made"))]
DT = "%Y-%m-%dT%H:%M"


def _note() -> TextAreaField:
    return TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=4000)])


def _relation() -> SelectField:
    return SelectField(
        _l("Which guardian"), choices=please_choose(RELATION_LABELS),
        validators=[DataRequired(message=_l("Choose which guardian was contacted."))],
    )  # fmt: skip


def _channel() -> SelectField:
    return SelectField(
        _l("How"), choices=please_choose(CHANNEL_LABELS),
        validators=[DataRequired(message=_l("Choose how the guardian was contacted."))],
    )  # fmt: skip


def _contacted_at() -> DateTimeLocalField:
    return DateTimeLocalField(
        _l("When"),
        format=DT,
        validators=[DataRequired(message=_l("Give the time of the contact."))],
    )


def _summary() -> TextAreaField:
    return TextAreaField(
        _l("What was said"),
        validators=[DataRequired(message=_l("Write what was said.")), Length(max=4000)],
    )


class StepForm(FlaskForm):
    """A step that records only who and when (and an optional note)."""

    note = _note()


class GuardianStepForm(FlaskForm):
    relation = _relation()
    channel = _channel()
    contacted_at = _contacted_at()
    summary = _summary()
    note = _note()


class ReferralStepForm(FlaskForm):
    outcome = SelectField(
        _l("Referral"), choices=please_choose(OUTCOME_LABELS),
        validators=[DataRequired(message=_l("Say whether a referral was considered or made."))],
    )  # fmt: skip
    note = _note()


class FollowupStepForm(FlaskForm):
    followup_due = DateTimeLocalField(
        _l("Follow-up due"), format=DT,
        validators=[DataRequired(message=_l("Give the date and time of the follow-up."))],
        description=_l("The follow-up is scheduled with you as its owner."),
    )  # fmt: skip
    note = _note()


STEP_FORMS: dict[str, type[FlaskForm]] = {
    "guardian_notified": GuardianStepForm,
    "referral": ReferralStepForm,
    "followup_scheduled": FollowupStepForm,
}


def step_form(step: str, **kwargs: object) -> FlaskForm:
    """The form of ``step``; its fields' ids carry the step (one page shows every step's form)."""
    form = STEP_FORMS.get(step, StepForm)(**kwargs)
    for f in form:
        if f.type != "CSRFTokenField":
            f.id = f.label.field_id = f"{step}-{f.name}"
    return form


class GuardianContactForm(FlaskForm):
    """A contact of the log, with an optional consent entry (both selects or neither: the
    service refuses half an entry)."""

    relation = _relation()
    channel = _channel()
    contacted_at = _contacted_at()
    summary = _summary()
    # Radios, nothing pre-chosen: no consent entry unless the user picks one of each.
    consent = RadioField(
        _l("Informed consent (optional)"), choices=CONSENT_LABELS, validators=[Optional()]
    )
    consent_purpose = RadioField(
        _l("Consent for"), choices=CONSENT_PURPOSE_LABELS, validators=[Optional()]
    )


class CloseForm(FlaskForm):
    summary = TextAreaField(
        _l("Closing summary"),
        validators=[DataRequired(message=_l("Write the closing summary.")), Length(max=4000)],
        description=_l("What happened, what was done, how the student is now. Kept encrypted."),
    )
    tier = SelectField(
        _l("The student's tier now"), coerce=int_or_none,
        choices=please_choose([(level, TIER_NAMES[level]) for level in (0, 1, 2, 3)]),
        validators=[InputRequired(message=_l("Choose the student's current tier."))],
        description=_l("It must be the tier on the tier page, confirmed by a person."),
    )  # fmt: skip
    confirm = BooleanField(
        _l("I confirm that the crisis response is complete and the crisis can be closed."),
        validators=[DataRequired(message=_l("Tick the confirmation to close the crisis."))],
    )
