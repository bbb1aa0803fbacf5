"""Forms of the alerts module."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Form, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..ui import TIER_NAMES
from .models import AlertState
from .queries import ALL


class AcknowledgeForm(FlaskForm):
    """Only the CSRF token: acknowledging says "I have seen it and I am on it"."""


class ResolveForm(FlaskForm):
    note = TextAreaField(
        _l("What was done (resolution note)"),
        validators=[DataRequired(), Length(max=4000)],
        description=_l("Stored encrypted. Visible to the people who handle this student's case."),
        render_kw={"rows": 4},
    )


class QueueFilterForm(Form):
    """The district queue's filters (a GET form: no CSRF, nothing changes). Unknown values are
    refused with a message and the filter falls back to its default."""

    school = SelectField(_l("School"), choices=[("", _l("All schools"))], default="")
    tier = SelectField(
        _l("Tier"),
        choices=[("", _l("All tiers")), ("3", TIER_NAMES[3]), ("2", TIER_NAMES[2]), ("1", TIER_NAMES[1])],
        default="",
    )  # fmt: skip
    age = SelectField(
        _l("Open for"),
        choices=[
            ("", _l("Any time")), ("1h", _l("More than 1 hour")), ("1d", _l("More than 1 day")),
            ("3d", _l("More than 3 days")), ("7d", _l("More than 7 days")),
        ],
        default="",
    )  # fmt: skip
    state = SelectField(
        _l("State"),
        choices=[
            (AlertState.OPEN, _l("Not acknowledged")),
            (AlertState.ACKNOWLEDGED, _l("Acknowledged, not resolved")),
            (AlertState.RESOLVED, _l("Resolved")), (ALL, _l("All")),
        ],
        default=AlertState.OPEN,
    )  # fmt: skip
