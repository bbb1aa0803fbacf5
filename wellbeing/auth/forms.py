"""Login and account forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

CODE_RE = r"^\s*\d{3}\s?\d{3}\s*$"


def _code_field(optional: bool = False) -> StringField:
    first = Optional() if optional else DataRequired()
    return StringField(
        _l("6-digit code from your authenticator app"),
        validators=[first, Regexp(CODE_RE, message=_l("Enter the 6 digits."))],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 7},
    )


def _at_least_one(form: FlaskForm, field: SelectMultipleField) -> None:
    if not field.data:
        raise StopValidation(_l("Choose at least one scope."))


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TotpForm(FlaskForm):
    code = _code_field()


class ReauthForm(FlaskForm):
    """Current password, and the TOTP code when the user has one (the view drops ``code``
    otherwise)."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    code = _code_field(optional=True)


class PasswordChangeForm(ReauthForm):
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=10, max=200)],
        description=_l("At least 10 characters, mixing letters with digits or other characters."),
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )


class MfaResetForm(ReauthForm):
    pass


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(), Length(max=100)],
        description=_l("What the token is for, e.g. the screening system that will use it."),
    )
    scopes = SelectMultipleField(
        _l("Scopes"),
        choices=[],
        # Not DataRequired: it would put ``required`` on every checkbox (all would be needed).
        validators=[_at_least_one],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    days = SelectField(
        _l("Valid for"),
        choices=[],
        coerce=int,
        validators=[DataRequired()],
    )
