"""Read side of follow-ups: one owner's agenda, through ix_followup_owner_state_due."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..students.models import Student
from .models import ACTIVE_STATES, CANCELLED, OVERDUE, FollowUp
from .services import local_day_bounds

FEED_PAST_DAYS = 30
FEED_AHEAD_DAYS = 90


@dataclass
class AgendaRow:
    followup: FollowUp
    student: Student


@dataclass
class Agenda:
    overdue: list[AgendaRow] = field(default_factory=list)
    today: list[AgendaRow] = field(default_factory=list)
    week: list[AgendaRow] = field(default_factory=list)

    @property
    def students(self) -> list[uuid.UUID]:
        return sorted({row.student.id for row in self.overdue + self.today + self.week}, key=str)


def agenda(
    session: Session, owner_id: uuid.UUID, now: dt.datetime, tz: Any, limit: int = 500
) -> Agenda:
    """Overdue, due today and due in the next 7 days (local calendar) for one owner."""
    _, end_today = local_day_bounds(now, tz)
    end_week = end_today + dt.timedelta(days=6)
    rows = session.execute(
        select(FollowUp, Student)
        .join(Student, Student.id == FollowUp.student_id)
        .where(
            FollowUp.owner_id == owner_id,
            FollowUp.state.in_(ACTIVE_STATES),
            FollowUp.due_at < end_week,
        )
        .order_by(FollowUp.due_at)
        .limit(limit)
    ).all()
    result = Agenda()
    for followup, student in rows:
        row = AgendaRow(followup, student)
        if followup.state == OVERDUE or followup.due_at < now:
            result.overdue.append(row)
        elif followup.due_at < end_today:
            result.today.append(row)
        else:
            result.week.append(row)
    return result


def feed_items(
    session: Session, owner_id: uuid.UUID, now: dt.datetime
) -> list[tuple[uuid.UUID, dt.datetime]]:
    """(id, due) of the owner's active follow-ups in the feed window: nothing else is read."""
    return [
        (row.id, row.due_at)
        for row in session.execute(
            select(FollowUp.id, FollowUp.due_at)
            .where(
                FollowUp.owner_id == owner_id,
                FollowUp.state.in_(ACTIVE_STATES),
                FollowUp.due_at >= now - dt.timedelta(days=FEED_PAST_DAYS),
                FollowUp.due_at < now + dt.timedelta(days=FEED_AHEAD_DAYS),
            )
            .order_by(FollowUp.due_at)
        )
    ]


@dataclass
class WeekAgenda:
    """One local calendar week (Monday to Sunday) of an owner's follow-ups."""

    start: dt.date  # the Monday
    is_current: bool
    overdue: list[AgendaRow] = field(default_factory=list)  # current week only: due before now
    days: dict[dt.date, list[AgendaRow]] = field(default_factory=dict)

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=6)

    @property
    def rows(self) -> list[AgendaRow]:
        return self.overdue + [row for rows in self.days.values() for row in rows]

    @property
    def students(self) -> list[uuid.UUID]:
        return sorted({row.student.id for row in self.rows}, key=str)


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def agenda_week(
    session: Session, owner_id: uuid.UUID, now: dt.datetime, tz: Any, start: dt.date | None = None,
    limit: int = 500,
) -> WeekAgenda:  # fmt: skip
    """The owner's follow-ups due in the local week starting ``start`` (a Monday; default this
    week), active and done (cancelled ones are left out), by due time; for the current week the
    active ones due before now are listed apart as overdue, whenever they were due."""
    today = now.astimezone(tz).date()
    start = week_start(start or today)
    current = start == week_start(today)
    begin = dt.datetime.combine(start, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(start + dt.timedelta(days=7), dt.time(0), tzinfo=tz).astimezone(
        dt.UTC
    )
    in_week = (FollowUp.due_at >= begin) & (FollowUp.due_at < end) & (FollowUp.state != CANCELLED)
    late = FollowUp.state.in_(ACTIVE_STATES) & (
        (FollowUp.state == OVERDUE) | (FollowUp.due_at < now)
    )
    rows = session.execute(
        select(FollowUp, Student)
        .join(Student, Student.id == FollowUp.student_id)
        .where(FollowUp.owner_id == owner_id, (in_week | late) if current else in_week)
        .order_by(FollowUp.due_at)
        .limit(limit)
    ).all()  # fmt: skip
    result = WeekAgenda(start, current)
    for followup, student in rows:
        row = AgendaRow(followup, student)
        overdue = followup.state == OVERDUE or (
            followup.state in ACTIVE_STATES and followup.due_at < now
        )
        if current and overdue:
            result.overdue.append(row)
        else:
            result.days.setdefault(followup.due_at.astimezone(tz).date(), []).append(row)
    return result
