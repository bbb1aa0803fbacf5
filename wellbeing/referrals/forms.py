"""Forms of the referral pages: the school's referral (reason, urgency, what is shared), the
submission (consent or an emergency override, to the centre or straight to a partner), the
centre's decisions, and the admin's partner register. Shape only: the services decide."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp

from ..core.forms import MultiCheckboxField, please_choose
from .models import (
    MAX_TEXT,
    OUTCOME_LABELS,
    PARTNER_KIND_LABELS,
    PARTNER_SERVICE_LABELS,
    URGENCY_LABELS,
)
from .partners import CONTACT_KIND_LABELS

HHMM = Regexp(r"^\d{2}:\d{2}$", message=_l("Give the time as HH:MM."))
MAX_DEPARTMENTS = 8
MAX_CONTACTS = 6


class ReferralForm(FlaskForm):
    """The school's referral (new or a draft / returned one being changed)."""

    reason = TextAreaField(
        _l("Reason for the partner"),
        validators=[DataRequired(message=_l("Write the reason for the partner.")),
                    Length(max=MAX_TEXT)],
        description=_l("The partner reads this. Write what they need to know, nothing more."),
    )  # fmt: skip
    internal_reason = TextAreaField(
        _l("Note for the school and the centre (optional)"),
        validators=[Optional(), Length(max=MAX_TEXT)],
        description=_l("Never shown to the partner."),
    )
    urgency = SelectField(
        _l("Urgency"), choices=list(URGENCY_LABELS.items()), validators=[DataRequired()]
    )
    responses = MultiCheckboxField(
        _l("Screening results to share"), choices=[],
        description=_l("Scores and bands of the results you tick. Sharing them needs the "
                       "guardian's consent to sharing with the partner."),
    )  # fmt: skip
    answers = BooleanField(_l("Also share the item answers of those results"))
    guardian = SelectField(_l("Guardian the partner may contact"), choices=[])


class SubmitForm(FlaskForm):
    """Submitting: to the centre, or (red tier) straight to a partner; an override reason when
    there is no consent (red tier only)."""

    partner_id = SelectField(_l("Send straight to a partner (red tier only)"), choices=[])
    override_reason = TextAreaField(
        _l("Emergency override: why there is no guardian consent"),
        validators=[Optional(), Length(max=MAX_TEXT)],
        description=_l("Only for a student in crisis. Recorded as an override, never as "
                       "consent; the school leaders are told at once."),
    )  # fmt: skip


class ReasonForm(FlaskForm):
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(message=_l("Write the reason.")), Length(max=MAX_TEXT)],
    )


class ButtonForm(FlaskForm):
    """A decision with no fields (the CSRF token)."""


class SendForm(FlaskForm):
    partner_id = SelectField(
        _l("Health partner"), choices=[],
        validators=[DataRequired(message=_l("Choose a health partner."))],
    )  # fmt: skip


class CloseForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"), choices=please_choose(list(OUTCOME_LABELS.items())),
        validators=[DataRequired(message=_l("Choose the outcome of the referral."))],
    )  # fmt: skip
    reason = TextAreaField(_l("Note (optional)"), validators=[Optional(), Length(max=MAX_TEXT)])


# --------------------------------------------------------------------------- the admin


class PartnerForm(FlaskForm):
    name = StringField(_l("Name of the partner"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=list(PARTNER_KIND_LABELS.items()))
    services = MultiCheckboxField(_l("Services offered"),
                                  choices=list(PARTNER_SERVICE_LABELS.items()))  # fmt: skip
    departments = TextAreaField(
        _l("Departments"), validators=[Optional(), Length(max=2000)],
        description=_l("One department a line."),
    )  # fmt: skip
    contacts = TextAreaField(
        _l("Contact channels"), validators=[Optional(), Length(max=2000)],
        description=_l("One a line: kind (telephone, e-mail, address or fax), a colon, the "
                       "value, e.g. “telephone: 021-5555-0000”."),
    )  # fmt: skip
    ack_working_days = IntegerField(
        _l("Acknowledgement within (working days)"),
        validators=[InputRequired(), NumberRange(min=0, max=30)],
    )
    red_ack_hours = IntegerField(
        _l("Acknowledgement of a red-tier referral within (working hours)"),
        validators=[InputRequired(), NumberRange(min=1, max=72)],
    )
    appointment_working_days = IntegerField(
        _l("Appointment within (working days)"),
        validators=[InputRequired(), NumberRange(min=1, max=60)],
    )
    feedback_working_days = IntegerField(
        _l("Feedback within (working days)"),
        validators=[InputRequired(), NumberRange(min=1, max=120)],
    )
    access_days = IntegerField(
        _l("Days the partner keeps reading a closed referral"),
        validators=[InputRequired(), NumberRange(min=0, max=365)],
    )
    day_start = StringField(_l("Working day starts"), validators=[DataRequired(), HHMM])
    day_end = StringField(_l("Working day ends"), validators=[DataRequired(), HHMM])
    active = BooleanField(_l("Active (the centre may send referrals to it)"), default=True)


class LiaisonForm(FlaskForm):
    username = StringField(
        _l("User name of the liaison"), validators=[DataRequired(), Length(max=80)],
        description=_l("An existing account. It gets the health-partner role for this "
                       "organisation only and must set up a second factor at its next sign-in."),
    )  # fmt: skip


class CalendarDayForm(FlaskForm):
    day = DateField(_l("Date"), validators=[DataRequired()])
    is_working_day = SelectField(
        _l("This day is"),
        choices=[("0", _l("A holiday (not a working day)")),
                 ("1", _l("A make-up working day (调休)"))],
    )  # fmt: skip
    label = StringField(_l("Name (e.g. Spring Festival)"), validators=[Optional(), Length(max=60)])


CONTACT_WORDS = {
    "phone": "phone", "telephone": "phone", "tel": "phone", "电话": "phone",
    "email": "email", "e-mail": "email", "邮箱": "email", "电子邮件": "email",
    "address": "address", "地址": "address", "fax": "fax", "传真": "fax",
}  # fmt: skip


def parse_contacts(text: str) -> list[dict[str, str]]:
    """``"电话：021-…"`` lines → contact channels; a line with no known kind is a phone."""
    words = {**CONTACT_WORDS, **{str(v).lower(): k for k, v in CONTACT_KIND_LABELS.items()}}
    found = []
    for line in (text or "").splitlines()[:MAX_CONTACTS]:
        line = line.strip().replace("：", ":")
        if not line:
            continue
        word, sep, value = line.partition(":")
        kind = words.get(word.strip().lower()) if sep else None
        if kind is None:
            kind, value = "phone", line
        found.append({"kind": kind, "value": value.strip()})
    return found


def contacts_text(contacts: list[dict[str, str]]) -> str:
    return "\n".join(
        f"{CONTACT_KIND_LABELS.get(c.get('kind', ''), c.get('kind', ''))}: {c.get('value', '')}"
        for c in contacts
    )


def parse_departments(text: str) -> list[dict[str, object]]:
    names = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return [{"name": name, "services": []} for name in names[:MAX_DEPARTMENTS]]
