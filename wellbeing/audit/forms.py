"""Forms of the audit console and of break-glass access."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from .services import COMMENT_MIN_CHARS, REASON_MIN_CHARS


class SearchForm(FlaskForm):
    """The console's filters (GET, bookmarkable: no CSRF token)."""

    class Meta:
        csrf = False

    student = StringField(
        _l("Student"),
        validators=[Optional(), Length(max=64)],
        description=_l("Student number, full name, or the short id shown in the list"),
    )
    user = StringField(_l("User (username or id)"), validators=[Optional(), Length(max=64)])
    school = SelectField(_l("School"), choices=[], validate_choice=False, default="")
    action = SelectField(_l("Action"), choices=[], validate_choice=False, default="")
    outcome = SelectField(
        _l("Outcome"),
        choices=[SelectChoice("", _l("Any")), SelectChoice("allowed", _l("Allowed")),
                 SelectChoice("denied", _l("Denied")), SelectChoice("error", _l("Error"))],
        default="",
    )  # fmt: skip
    since = DateField(_l("From (date)"), validators=[Optional()])
    until = DateField(_l("To (date, inclusive)"), validators=[Optional()])
    break_glass = BooleanField(_l("Only entries made under break-glass access"))

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError(_l("The end date is before the start date."))


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


class ReviewForm(FlaskForm):
    comment = TextAreaField(
        _l("Review comment"),
        validators=[DataRequired(), Length(min=COMMENT_MIN_CHARS, max=2000)],
    )


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token."""
