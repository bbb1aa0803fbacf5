"""Forms of the risk module: set/confirm a tier, special-care categories, the policy editor."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length

from ..core.forms import MultiCheckboxField, SelectChoice, int_or_none, please_choose
from ..ui import TIER_NAMES
from .services import REASON_MAX


class TierForm(FlaskForm):
    # Starts on "please choose": a pre-selected current tier turned a forgotten choice into a
    # recorded confirmation.
    tier = SelectField(
        _l("Tier"),
        coerce=int_or_none,
        choices=please_choose([SelectChoice(level, TIER_NAMES[level]) for level in (0, 1, 2, 3)]),
        validators=[InputRequired(message=_l("Choose the tier."))],
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[
            DataRequired(message=_l("Write the reason for this decision.")),
            Length(max=REASON_MAX),
        ],
        description=_l(
            "Required. What you observed or assessed; kept encrypted in the tier history."
        ),
    )


class SpecialCareForm(FlaskForm):
    categories = MultiCheckboxField(_l("Special-care categories"), choices=[])


class ConfirmForm(FlaskForm):
    """A button-only form (CSRF token)."""


class PolicyForm(FlaskForm):
    body = TextAreaField(
        _l("Policy (YAML or JSON)"),
        validators=[DataRequired(), Length(max=60000)],
        render_kw={"rows": 30, "spellcheck": "false"},
    )


class PolicyConfirmForm(FlaskForm):
    """Step two of the policy editor: exactly the previewed text and its digest."""

    body = HiddenField(validators=[DataRequired(), Length(max=60000)])
    digest = HiddenField(validators=[DataRequired(), Length(min=64, max=64)])
