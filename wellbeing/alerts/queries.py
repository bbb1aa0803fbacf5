"""Read-only queries for the inbox, the navigation count and dashboards."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..orgs.models import School
from .models import STATES, Alert, AlertInbox, AlertRecipient, AlertState, AlertStep

PAGE_SIZE = 50
ALL = "all"  # the filter that shows every state
STATE_FILTERS: tuple[str, ...] = (*(s.value for s in STATES), ALL)


def open_count(session: Session, user_id: uuid.UUID) -> int:
    """Open alerts in a user's inbox: one COUNT on ``ix_alert_inbox_user_open``."""
    return session.scalar(
        select(func.count()).select_from(AlertInbox)
        .where(AlertInbox.user_id == user_id, AlertInbox.is_open.is_(True))
    ) or 0  # fmt: skip


@dataclass(frozen=True)
class InboxRow:
    alert: Alert
    school_name: str | None


class PageLinks:
    """The neighbours of a numbered page, as the ``pager`` macro reads them."""

    page: int

    @property
    def prev(self) -> int:
        return self.page - 1

    @property
    def next(self) -> int:
        return self.page + 1


@dataclass(frozen=True)
class InboxPage(PageLinks):
    rows: list[InboxRow]
    page: int
    has_prev: bool
    has_next: bool


def inbox_page(
    session: Session, user_id: uuid.UUID, state: str = AlertState.OPEN, page: int = 1
) -> InboxPage:
    """The user's alerts, newest first (open ones by due time)."""
    page = max(1, page)
    stmt = (
        select(Alert, School.name)
        .join(AlertInbox, AlertInbox.alert_id == Alert.id)
        .outerjoin(School, School.id == Alert.school_id)
        .where(AlertInbox.user_id == user_id)
    )
    if state in STATES:
        stmt = stmt.where(Alert.state == state)
    order = (Alert.due_at.asc(),) if state == AlertState.OPEN else (Alert.raised_at.desc(),)
    rows = session.execute(
        stmt.order_by(*order, Alert.id).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)
    ).all()
    items = [InboxRow(alert, name) for alert, name in rows[:PAGE_SIZE]]
    return InboxPage(items, page, page > 1, len(rows) > PAGE_SIZE)


@dataclass(frozen=True)
class StepView:
    step: AlertStep
    recipients: list[tuple[str, str]]  # (display name, channel)


def alert_steps(session: Session, alert_id: uuid.UUID) -> list[StepView]:
    steps = list(
        session.scalars(
            select(AlertStep)
            .where(AlertStep.alert_id == alert_id)
            .order_by(AlertStep.at, AlertStep.rung)
        )
    )
    rows = session.execute(
        select(AlertRecipient.step_id, User.display_name, AlertRecipient.channel)
        .join(User, User.id == AlertRecipient.user_id)
        .where(AlertRecipient.alert_id == alert_id)
        .order_by(User.display_name, AlertRecipient.channel)
    ).all()  # fmt: skip
    by_step: dict[uuid.UUID, list[tuple[str, str]]] = {}
    for step_id, name, channel in rows:
        by_step.setdefault(step_id, []).append((name, channel))
    return [StepView(step, by_step.get(step.id, [])) for step in steps]


def display_names(session: Session, *user_ids: uuid.UUID | None) -> dict[uuid.UUID, str]:
    ids = [i for i in user_ids if i is not None]
    if not ids:
        return {}
    return dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all()
    )


def school_name(session: Session, school_id: uuid.UUID | None) -> str | None:
    return (
        None
        if school_id is None
        else session.scalar(select(School.name).where(School.id == school_id))
    )


@dataclass(frozen=True)
class SlaFigures:
    raised: int
    acknowledged: int
    in_time: int
    median_minutes: float | None


def sla_figures(
    session: Session, *, district_id: uuid.UUID | None = None, school_id: uuid.UUID | None = None,
    since: dt.datetime | None = None,
) -> SlaFigures:  # fmt: skip
    """Share of alerts acknowledged in time and the median time to acknowledge (for dashboards)."""
    stmt = select(Alert.raised_at, Alert.acknowledged_at, Alert.due_at)
    if district_id is not None:
        stmt = stmt.where(Alert.district_id == district_id)
    if school_id is not None:
        stmt = stmt.where(Alert.school_id == school_id)
    if since is not None:
        stmt = stmt.where(Alert.raised_at >= since)
    raised = acknowledged = in_time = 0
    minutes: list[float] = []
    for raised_at, ack_at, due_at in session.execute(stmt):
        raised += 1
        if ack_at is not None:
            acknowledged += 1
            in_time += ack_at <= due_at
            minutes.append((ack_at - raised_at).total_seconds() / 60)
    minutes.sort()
    median = None
    if minutes:
        mid = len(minutes) // 2
        median = minutes[mid] if len(minutes) % 2 else (minutes[mid - 1] + minutes[mid]) / 2
    return SlaFigures(raised, acknowledged, in_time, median)
