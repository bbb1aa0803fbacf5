"""The break-glass request: a written reason and the re-authentication."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from ..audit.services import REASON_MIN_CHARS


class BreakGlassForm(FlaskForm):
    reason = TextAreaField(
        _l("Why do you need this record now?"),
        validators=[DataRequired(), Length(min=REASON_MIN_CHARS, max=2000)],
        description=_l("Supervisors read this reason when they review your access."),
    )
    password = PasswordField(
        _l("Your password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    code = StringField(
        _l("6-digit code from your authenticator app"),
        validators=[
            Optional(),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Enter the 6 digits.")),
        ],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 7},
    )
