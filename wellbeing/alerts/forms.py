"""Forms of the alerts module."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length


class AcknowledgeForm(FlaskForm):
    """Only the CSRF token: acknowledging says "I have seen it and I am on it"."""


class ResolveForm(FlaskForm):
    note = TextAreaField(
        _l("What was done (resolution note)"),
        validators=[DataRequired(), Length(max=4000)],
        description=_l("Stored encrypted. Visible to the people who handle this student's case."),
        render_kw={"rows": 4},
    )
