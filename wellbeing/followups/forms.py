"""Follow-up forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from .services import NOTE_MAX

DT_FORMAT = "%Y-%m-%dT%H:%M"


class CompleteForm(FlaskForm):
    outcome = SelectField(
        _l("Outcome"),
        choices=[
            ("seen", _l("Seen the student")),
            ("not_seen", _l("Not seen")),
            ("rescheduled", _l("Rescheduled")),
        ],
    )
    note = TextAreaField(
        _l("Note"),
        validators=[DataRequired(), Length(max=NOTE_MAX)],
        description=_l("A short note. If the student was not seen, say why."),
        render_kw={"rows": 4},
    )
    reschedule_to = DateTimeLocalField(
        _l("New time (only when rescheduled)"), format=DT_FORMAT, validators=[Optional()]
    )


class ScheduleForm(FlaskForm):
    due_at = DateTimeLocalField(_l("Due"), format=DT_FORMAT, validators=[DataRequired()])


class EmptyForm(FlaskForm):
    """CSRF only (token buttons)."""
