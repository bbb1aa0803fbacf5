"""What other modules add to the agenda page and the calendar feed.

The agenda (``/agenda``) and the iCalendar feed list the user's follow-ups. Modules listed
after ``followups`` in ``MODULES`` (plans: its tasks) cannot be imported from here, so they
register at import time instead:

* ``AGENDA_SOURCES``: ``(session, user_id, start, end) -> list[AgendaItem]``: the user's items
  due in the local dates ``start`` to ``end`` (inclusive), and for the current week (``start``
  on or before today) the open ones due before today too (``late``). Rows name a student only
  through ``student`` (the page shows it with the chip and audits it).
* ``FEED_SOURCES``: ``(session, user_id, today, translate) -> list[ical.FeedEvent]``: the
  user's items for the calendar feed. Least data, as the follow-ups: an id, a due date, a
  generic summary in the user's language (``translate`` is their ``gettext``) and a link;
  never a name, a title or a note.

``plans.task_queries`` registers the plan tasks into both (imported by the plans pages and
API, so whenever the app is built).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from .ical import FeedEvent


@dataclass(frozen=True)
class AgendaItem:
    """One row of the agenda from another module: when it is due, what it is, where it leads."""

    day: dt.date
    what: object  # a label (lazy translation) or text the user may read
    endpoint: str
    params: dict[str, Any] = field(default_factory=dict)
    student: Any = None  # a Student, named with the chip (plain name to non-readers)
    late: bool = False
    fields: tuple[str, ...] = ()  # the audit field names the row shows besides the chip


AgendaSource = Callable[[Session, uuid.UUID, dt.date, dt.date, dt.date], list[AgendaItem]]
FeedSource = Callable[[Session, uuid.UUID, dt.date, Callable[[str], str]], list[FeedEvent]]

AGENDA_SOURCES: list[AgendaSource] = []
FEED_SOURCES: list[FeedSource] = []


def register(agenda: AgendaSource | None = None, feed: FeedSource | None = None) -> None:
    """Add a module's sources (once: registering the same function again does nothing)."""
    if agenda is not None and agenda not in AGENDA_SOURCES:
        AGENDA_SOURCES.append(agenda)
    if feed is not None and feed not in FEED_SOURCES:
        FEED_SOURCES.append(feed)


def agenda_items(
    session: Session, user_id: uuid.UUID, start: dt.date, end: dt.date, today: dt.date
) -> list[AgendaItem]:
    """Every registered module's items for the week, by day."""
    items = [
        item for source in AGENDA_SOURCES for item in source(session, user_id, start, end, today)
    ]
    return sorted(items, key=lambda item: item.day)


def feed_events(
    session: Session, user_id: uuid.UUID, today: dt.date, translate: Callable[[str], str]
) -> list[FeedEvent]:
    return [
        event for source in FEED_SOURCES for event in source(session, user_id, today, translate)
    ]
