"""Working time: which days a partner (or the district centre) works, and deadlines counted in
working days or working hours.

The week is Monday to Friday; :class:`~.models.CalendarDay` rows are the exceptions a
district's administrator enters each year from the State Council's notice: public holidays that
fall on weekdays (春节, 国庆…: not working) and the 调休 make-up days that fall on a weekend
(working). A partner may have its own rows, which win over the district's for the same date
(a hospital's outpatient department that opens on a holiday, say).

* :meth:`WorkingCalendar.add_working_days`: the end of the working day ``n`` working days
  after the start's local date (a referral sent on Friday afternoon with a two-day SLA is due
  on Tuesday at the end of the day; a holiday week moves it past the holiday).
* :meth:`WorkingCalendar.add_working_hours`: ``n`` hours counted only inside working hours
  (``day_start``-``day_end``, local) of working days.

Both are monotonic in the start and never land on a non-working day (Hypothesis checks it in
``tests/referrals/test_calendar.py``). Times in and out are aware UTC datetimes; the local day
is the configured time zone's (``screening.clock.school_tz``, Asia/Shanghai by default).
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..screening.clock import school_tz
from .models import CalendarDay, HealthPartner

# No search runs further than this (a calendar with no working day at all is a data error).
MAX_SEARCH_DAYS = 3 * 366


class CalendarError(ValueError):
    """A calendar with no working day within :data:`MAX_SEARCH_DAYS` (a data mistake)."""


def parse_hhmm(text: str) -> dt.time:
    hours, minutes = text.split(":")
    return dt.time(int(hours), int(minutes))


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days (Mon-Fri unless ``overrides`` says otherwise) and daily working hours."""

    overrides: Mapping[dt.date, bool] = field(default_factory=lambda: MappingProxyType({}))
    day_start: dt.time = dt.time(8, 30)
    day_end: dt.time = dt.time(17, 30)
    tz: dt.tzinfo = field(default_factory=lambda: zoneinfo.ZoneInfo("Asia/Shanghai"))

    def __post_init__(self) -> None:
        if self.day_end <= self.day_start:
            raise CalendarError("working hours must end after they start")

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return day.weekday() < 5

    def local_date(self, moment: dt.datetime) -> dt.date:
        return moment.astimezone(self.tz).date()

    def _at(self, day: dt.date, time: dt.time) -> dt.datetime:
        return dt.datetime.combine(day, time, tzinfo=self.tz).astimezone(dt.UTC)

    def next_working_day(self, day: dt.date) -> dt.date:
        """``day`` itself if it is a working day, else the first working day after it."""
        for offset in range(MAX_SEARCH_DAYS):
            candidate = day + dt.timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise CalendarError("no working day in the calendar")

    def add_working_days(self, start: dt.datetime, days: int) -> dt.datetime:
        """The end of the ``days``-th working day after ``start``'s local date (``days == 0``:
        the end of that day, or of the next working day if it is not one or has closed)."""
        day = self.local_date(start)
        if days <= 0:
            if start >= self._at(day, self.day_end):  # after closing: the next working day's
                day += dt.timedelta(days=1)
            return self._at(self.next_working_day(day), self.day_end)
        counted = 0
        for _ in range(MAX_SEARCH_DAYS):
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
                if counted == days:
                    return self._at(day, self.day_end)
        raise CalendarError("no working day in the calendar")

    def add_working_hours(self, start: dt.datetime, hours: float) -> dt.datetime:
        """``start`` plus ``hours`` of working time (only inside working hours of working
        days). Zero hours: ``start`` if it is inside working hours, else the next opening."""
        remaining = dt.timedelta(hours=max(0.0, hours))
        cursor = start.astimezone(dt.UTC)
        day = self.local_date(cursor)
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_working_day(day):
                opens, closes = self._at(day, self.day_start), self._at(day, self.day_end)
                begin = max(cursor, opens)
                if begin <= closes:
                    available = closes - begin
                    if remaining <= available:
                        return begin + remaining
                    remaining -= available
            day += dt.timedelta(days=1)
            cursor = self._at(day, dt.time(0, 0))
        raise CalendarError("no working day in the calendar")

    def working_hours_between(self, start: dt.datetime, end: dt.datetime) -> float:
        """Working hours from ``start`` to ``end`` (0 when ``end`` is not after ``start``)."""
        if end <= start:
            return 0.0
        total = dt.timedelta(0)
        day, last = self.local_date(start), self.local_date(end)
        while day <= last:
            if self.is_working_day(day):
                opens = max(start, self._at(day, self.day_start))
                closes = min(end, self._at(day, self.day_end))
                if closes > opens:
                    total += closes - opens
            day += dt.timedelta(days=1)
        return total.total_seconds() / 3600


def _days(
    session: Session, district_id: uuid.UUID, partner_id: uuid.UUID | None
) -> dict[dt.date, bool]:
    stmt = select(CalendarDay.day, CalendarDay.is_working_day).where(
        CalendarDay.district_id == district_id
    )
    stmt = stmt.where(
        CalendarDay.partner_id.is_(None)
        if partner_id is None
        else CalendarDay.partner_id == partner_id
    )
    return {day: bool(working) for day, working in session.execute(stmt)}


def district_calendar(session: Session, district_id: uuid.UUID) -> WorkingCalendar:
    """The district centre's calendar (the district's rows, default working hours)."""
    return WorkingCalendar(MappingProxyType(_days(session, district_id, None)), tz=school_tz())


def partner_calendar(session: Session, partner: HealthPartner) -> WorkingCalendar:
    """The partner's calendar: the district's days, overridden by the partner's own rows; the
    partner's working hours."""
    days = _days(session, partner.district_id, None) | _days(
        session, partner.district_id, partner.id
    )
    return WorkingCalendar(
        MappingProxyType(days),
        parse_hhmm(partner.day_start),
        parse_hhmm(partner.day_end),
        tz=school_tz(),
    )
