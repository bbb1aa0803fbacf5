"""Working time: weekends, public holidays and 调休 make-up days; deadlines in working days and
working hours (examples by hand, properties by Hypothesis)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from types import MappingProxyType

from hypothesis import given, settings
from hypothesis import strategies as st

from wellbeing.referrals.calendar import WorkingCalendar

SH = zoneinfo.ZoneInfo("Asia/Shanghai")
# 2026 国庆: 1-7 October off; Saturday 10 October is a 调休 working day. 春节 example as well.
OVERRIDES = {
    **{dt.date(2026, 10, d): False for d in range(1, 8)},
    dt.date(2026, 10, 10): True,
    **{dt.date(2026, 2, d): False for d in range(16, 21)},
    dt.date(2026, 2, 14): True,
}
CAL = WorkingCalendar(MappingProxyType(OVERRIDES), tz=SH)


def local(y: int, m: int, d: int, h: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, h, minute, tzinfo=SH)


def test_weekends_holidays_and_make_up_days():
    assert CAL.is_working_day(dt.date(2026, 9, 30))  # Wednesday
    assert not CAL.is_working_day(dt.date(2026, 10, 5))  # Monday in the holiday
    assert CAL.is_working_day(dt.date(2026, 10, 10))  # Saturday, 调休
    assert not CAL.is_working_day(dt.date(2026, 10, 11))  # Sunday


def test_working_days_skip_the_holiday_week_and_count_the_make_up_saturday():
    # Sent on Wednesday 30 September afternoon, two working days: Thursday 8 Oct, Friday 9 Oct.
    assert CAL.add_working_days(local(2026, 9, 30, 15), 2) == local(2026, 10, 9, 17, 30)
    # Three: the make-up Saturday 10 October counts.
    assert CAL.add_working_days(local(2026, 9, 30, 15), 3) == local(2026, 10, 10, 17, 30)
    # Zero days after closing time is the next working day's end, never before the start
    # (found by the property below: it used to be the same day's 17:30).
    assert CAL.add_working_days(local(2026, 3, 6, 18), 0) == local(2026, 3, 9, 17, 30)
    # Friday afternoon, two working days: Tuesday.
    assert CAL.add_working_days(local(2026, 3, 6, 16), 2) == local(2026, 3, 10, 17, 30)


def test_working_hours_run_inside_opening_hours_only():
    # Friday 16:30 + 4 working hours: 1 h on Friday, 3 h on Monday from 08:30.
    assert CAL.add_working_hours(local(2026, 3, 6, 16, 30), 4) == local(2026, 3, 9, 11, 30)
    # Before opening: counts from 08:30.
    assert CAL.add_working_hours(local(2026, 3, 9, 6), 2) == local(2026, 3, 9, 10, 30)
    # Into the holiday: 30 September 17:00 + 2 h → 8 October 10:00.
    assert CAL.add_working_hours(local(2026, 9, 30, 17), 2) == local(2026, 10, 8, 10, 0)
    assert CAL.working_hours_between(local(2026, 3, 6, 16, 30), local(2026, 3, 9, 11, 30)) == 4


MOMENTS = st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 20)).map(
    lambda d: d.replace(tzinfo=dt.UTC)
)


@settings(max_examples=200, deadline=None)
@given(a=MOMENTS, b=MOMENTS, days=st.integers(min_value=0, max_value=15))
def test_working_day_deadlines_are_monotonic_and_land_on_working_days(a, b, days):
    early, late = sorted((a, b))
    first, second = CAL.add_working_days(early, days), CAL.add_working_days(late, days)
    assert first <= second
    for deadline in (first, second):
        assert CAL.is_working_day(deadline.astimezone(SH).date())
        assert deadline >= early


@settings(max_examples=200, deadline=None)
@given(a=MOMENTS, b=MOMENTS, hours=st.floats(min_value=0, max_value=80, allow_nan=False))
def test_working_hour_deadlines_are_monotonic_and_inside_working_hours(a, b, hours):
    early, late = sorted((a, b))
    first, second = CAL.add_working_hours(early, hours), CAL.add_working_hours(late, hours)
    assert first <= second
    for start, deadline in ((early, first), (late, second)):
        moment = deadline.astimezone(SH)
        assert CAL.is_working_day(moment.date())
        assert dt.time(8, 30) <= moment.time() <= dt.time(17, 30)
        assert deadline >= start
        assert abs(CAL.working_hours_between(start, deadline) - hours) < 1e-6
