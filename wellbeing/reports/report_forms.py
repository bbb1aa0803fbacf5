"""The filters of a report page (issue 16 item 1): school, grade, period and campaign.

A GET form (bookmarkable, nothing to replay: no CSRF token). The choices are set by
``report_services.filter_choices`` from what the viewer may see; a date that cannot be read or
a period that ends before it starts is said beside its field.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField
from wtforms.validators import Optional, ValidationError

from ..students.forms import PlainDateField

# The longest period a report covers: a longer one is almost always a typing slip (2062).
MAX_PERIOD_DAYS = 5 * 366


def default_period(today: dt.date) -> tuple[dt.date, dt.date]:
    """The last twelve months, whole months: the first day of the month eleven months ago to
    today (so a monthly series has twelve points, this month the last)."""
    month = today.year * 12 + today.month - 1 - 11
    return dt.date(month // 12, month % 12 + 1, 1), today


class ReportFilterForm(FlaskForm):
    class Meta:
        csrf = False  # read-only GET filter

    school = SelectField(_l("School"), choices=[], validate_choice=False, default="")
    grade = SelectField(_l("Grade"), choices=[], validate_choice=False, default="")
    start = PlainDateField(_l("From (date)"), validators=[Optional()])
    end = PlainDateField(_l("To (date, inclusive)"), validators=[Optional()])
    campaign = SelectField(_l("Screening campaign"), choices=[], validate_choice=False, default="")

    def validate_grade(self, field: SelectField) -> None:
        if field.data and field.data not in {value for value, _label in _pairs(field)}:
            raise ValidationError(_l("Choose a grade from the list."))

    def validate_campaign(self, field: SelectField) -> None:
        if field.data and field.data not in {value for value, _label in _pairs(field)}:
            raise ValidationError(_l("Choose a campaign from the list."))

    def validate_end(self, field: PlainDateField) -> None:
        if field.data and self.start.data:
            if field.data < self.start.data:
                raise ValidationError(_l("The end date is before the start date."))
            if (field.data - self.start.data).days > MAX_PERIOD_DAYS:
                raise ValidationError(_l("A report covers at most five years."))


def _pairs(field: SelectField) -> list[tuple[str, Any]]:
    return [(str(choice[0]), choice[1]) for choice in field.choices or []]
