"""Forms of the audit console and of the break-glass review."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..core.forms import SelectChoice
from .services import COMMENT_MIN_CHARS


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


class ReviewForm(FlaskForm):
    comment = TextAreaField(
        _l("Review comment"),
        validators=[DataRequired(), Length(min=COMMENT_MIN_CHARS, max=2000)],
    )


class ConfirmForm(FlaskForm):
    """A button that only needs the CSRF token."""
