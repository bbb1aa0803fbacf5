"""Forms of the student register: search and roster upload."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length


class SearchForm(FlaskForm):
    """A GET form: the query never goes into a POST body that could be replayed."""

    class Meta:
        csrf = False  # read-only GET search

    q = StringField(
        _l("Full name, student number or pinyin initials"),
        validators=[DataRequired(), Length(max=60)],
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )


class RosterUploadForm(FlaskForm):
    school = SelectField(_l("School"), validators=[DataRequired()])
    file = FileField(
        _l("Roster file (CSV or XLSX)"),
        validators=[
            FileRequired(_l("Choose a file.")),
            FileAllowed(["csv", "txt", "xlsx"], _l("Use a .csv or .xlsx file.")),
        ],
        description=_l(
            "Columns: student number, name, sex, birth date, grade, class (Chinese headers "
            "学号/姓名/性别/出生日期/年级/班级 work too); optional national ID, guardian, "
            "guardian phone. CSV in UTF-8 or GB18030."
        ),
    )
    dry_run = BooleanField(_l("Only check the file (write nothing)"))
