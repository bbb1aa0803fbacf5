"""Forms of the administration screens (schools, classes, users, memberships)."""

from __future__ import annotations

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, Length, Optional, Regexp

from ..core.forms import PLEASE_CHOOSE, SelectChoice
from ..labels import ROLE_LABELS
from ..orgs.labels import grade_label
from ..orgs.models import GRADE_RANGE

ROLE_CHOICES = [SelectChoice(str(role), label) for role, label in ROLE_LABELS.items()]


class SchoolForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$", message=_l("1-32 letters, digits, - or _.")
            ),
        ],
        description=_l("Short code used by the roster import, e.g. NO1-JH."),
    )
    name = StringField(_l("School name"), validators=[DataRequired(), Length(max=200)])


class SchoolEditForm(FlaskForm):
    name = StringField(_l("School name"), validators=[DataRequired(), Length(max=200)])
    active = BooleanField(_l("Active"))


class ClassForm(FlaskForm):
    grade = SelectField(
        _l("Grade"),
        coerce=int,
        choices=[SelectChoice(g, LazyString(grade_label, g)) for g in GRADE_RANGE],
        validators=[DataRequired()],
    )
    label = StringField(
        _l("Class"), validators=[DataRequired(), Length(max=40)], description=_l("e.g. 1班")
    )


class _ScopeFields(FlaskForm):
    # No role is preselected: a missed field would otherwise grant the first role's access.
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice("", PLEASE_CHOOSE), *ROLE_CHOICES],
        validators=[DataRequired(message=_l("Choose a role."))],
    )
    school = SelectField(
        _l("School"),
        validators=[Optional()],
        description=_l("For psychology teachers and school leaders."),
    )
    school_class = SelectField(
        _l("Class"), validators=[Optional()], description=_l("For class teachers.")
    )

    def set_choices(self, schools: list[tuple[str, str]], classes: list[tuple[str, str]]) -> None:
        self.school.choices = [
            SelectChoice("", _l("— district —")),
            *(SelectChoice(v, t) for v, t in schools),
        ]
        self.school_class.choices = [
            SelectChoice("", _l("— none —")),
            *(SelectChoice(v, t) for v, t in classes),
        ]


class MembershipForm(_ScopeFields):
    pass


class UserCreateForm(_ScopeFields):
    username = StringField(
        _l("Username"),
        validators=[
            DataRequired(),
            Regexp(
                r"^[a-z0-9][a-z0-9._-]{1,63}$",
                message=_l("2-64 lowercase letters, digits, '.', '_' or '-'."),
            ),
        ],
        filters=[lambda value: value.strip().lower() if isinstance(value, str) else value],
    )
    display_name = StringField(_l("Display name"), validators=[Optional(), Length(max=100)])
    email = StringField(_l("E-mail"), validators=[Optional(), Length(max=200)])
    password = PasswordField(
        _l("Initial password"),
        validators=[DataRequired(), Length(min=10, max=200)],
        description=_l(
            "At least 10 characters, letters and digits together. Tell the user in person."
        ),
    )

    field_order = (
        "username",
        "display_name",
        "email",
        "password",
        "role",
        "school",
        "school_class",
    )


class ActiveForm(FlaskForm):
    active = HiddenField(validators=[AnyOf(["0", "1"])])


class ConfirmForm(FlaskForm):
    """A form with only the CSRF token (buttons that change something)."""
