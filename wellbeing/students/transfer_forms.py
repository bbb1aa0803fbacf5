"""The transfer page's form (``students.transfer``): which student, to which school and class."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class TransferForm(FlaskForm):
    """The student is named by school and student number: the people who move students (admins,
    district counsellors) do not browse records to find them."""

    from_school = SelectField(_l("School the student is at now"), validators=[DataRequired()])
    student_number = StringField(
        _l("Student number"), validators=[DataRequired(), Length(max=32)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )  # fmt: skip
    to_school = SelectField(_l("Move to school"), validators=[DataRequired()])
    class_id = SelectField(
        _l("Class at the new school (optional)"), validators=[Optional()],
        description=_l("Leave empty when the class is not known yet: the next roster import of "
                       "the new school sets it."),
    )  # fmt: skip
