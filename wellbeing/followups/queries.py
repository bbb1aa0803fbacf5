"""Read side of follow-ups: one owner's agenda, through ix_followup_owner_state_due."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..students.models import Student
from .models import ACTIVE_STATES, OVERDUE, FollowUp
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
