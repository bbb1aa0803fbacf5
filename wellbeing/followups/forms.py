"""Follow-up forms."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..core.forms import please_choose
from .models import NOTE_MAX

DT_FORMAT = "%Y-%m-%dT%H:%M"

# Labels for the codes stored on a follow-up (never shown raw).
OUTCOME_LABELS = {
    "seen": _l("Seen the student"),
    "not_seen": _l("Not seen"),
    "rescheduled": _l("Rescheduled"),
}
SOURCE_LABELS = {
    "cadence": _l("Tier cadence"),
    "manual": _l("Scheduled by hand"),
    "plan": _l("Plan task"),
    "review": _l("Plan review"),
}


class CompleteForm(FlaskForm):
    # Nothing pre-chosen: a default "seen" recorded a visit that may never have happened.
    outcome = SelectField(
        _l("Outcome"),
        choices=please_choose(
            [
                ("seen", _l("Seen the student")),
                ("not_seen", _l("Not seen")),
                ("rescheduled", _l("Rescheduled")),
            ]
        ),
        validators=[DataRequired(message=_l("Choose the outcome."))],
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
