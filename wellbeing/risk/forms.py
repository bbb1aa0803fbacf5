"""Forms of the risk module: set/confirm a tier, special-care categories, the policy editor."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from ..ui import TIER_NAMES
from .services import REASON_MAX


class TierForm(FlaskForm):
    tier = SelectField(
        _l("Tier"),
        coerce=int,
        choices=[SelectChoice(level, TIER_NAMES[level]) for level in (0, 1, 2, 3)],
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


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


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
