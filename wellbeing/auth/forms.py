"""Login and account forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from ..core.forms import MultiCheckboxField

CODE_RE = r"^\s*\d{3}\s?\d{3}\s*$"


def _code_field(optional: bool = False) -> StringField:
    first = Optional() if optional else DataRequired()
    return StringField(
        _l("6-digit code from your authenticator app"),
        validators=[first, Regexp(CODE_RE, message=_l("Enter the 6 digits."))],
        render_kw={"inputmode": "numeric", "autocomplete": "one-time-code", "maxlength": 7},
    )


def _second_factor_field(optional: bool = False) -> StringField:
    """A TOTP code, or one of the user's recovery codes instead (the service tells them apart;
    full-width digits from a Chinese input method are accepted)."""
    first = Optional() if optional else DataRequired()
    return StringField(
        _l("Code from your authenticator app"),
        validators=[first, Length(max=40)],
        description=_l("6 digits. No phone at hand? Enter one of your recovery codes instead."),
        render_kw={
            "autocomplete": "one-time-code",
            "maxlength": 40,
            "autocapitalize": "off",
            "spellcheck": "false",
        },
    )


class LoginForm(FlaskForm):
    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class TotpForm(FlaskForm):
    """Enrolment: only a code from the app being set up."""

    code = _code_field()


class SecondFactorForm(FlaskForm):
    """The second sign-in step: a TOTP code or a recovery code."""

    code = _second_factor_field()


class ReauthForm(FlaskForm):
    """Current password, and the TOTP code when the user has one (the view drops ``code``
    otherwise)."""

    current_password = PasswordField(
        _l("Current password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    code = _second_factor_field(optional=True)


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


class RecoveryCodesForm(ReauthForm):
    pass


class AdminResetForm(FlaskForm):
    """An administrator's own password (and code) before resetting another user's sign-in; the
    fields of :class:`ReauthForm`, labelled for someone acting on another account."""

    current_password = PasswordField(
        _l("Your own password"),
        validators=[DataRequired(), Length(max=200)],
        render_kw={"autocomplete": "current-password"},
    )
    code = _second_factor_field(optional=True)


class TokenForm(FlaskForm):
    name = StringField(
        _l("Token name"),
        validators=[DataRequired(), Length(max=100)],
        description=_l("What the token is for, e.g. the screening system that will use it."),
    )
    scopes = MultiCheckboxField(
        _l("Scopes"), choices=[], required=True, message=_l("Choose at least one scope.")
    )
    days = SelectField(
        _l("Valid for"),
        choices=[],
        coerce=int,
        validators=[DataRequired()],
    )
