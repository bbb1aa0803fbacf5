"""The growth-record timeline (心理成长档案): one chronological view of everything about a student.

Each module contributes its own items in its own ``timeline.py`` (a module part, found by
``wellbeing.modules.parts("timeline")`` like every other part), declaring:

- ``KINDS``: ``{kind: label}``, the item kinds it contributes (a kind is named once, by one
  module; the label is what the filter shows);
- ``items(session, principal, student, since, until) -> list[TimelineItem]``: its items in the
  half-open range ``[since, until)`` (either end may be None), **already cut to what the viewer
  may see**: a kind the viewer may not see is simply absent, a kind seen in part is a
  :data:`SUMMARY` item (when, what kind, no content). A contributor never writes or audits: the
  page's one ``STUDENT_VIEW`` entry names the kinds shown (:func:`collect`).

The page renders only an item's own fields (``title``, ``lines``, ``actor``, ``url``), so it
lives here, below every contributor, and needs to import none of them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import modules
from ..auth.names import user_names
from ..core.authz import Permission, Principal, can
from .models import Student
from .transfer import reading_school

M = TypeVar("M")

FULL: Literal["full"] = "full"
SUMMARY: Literal["summary"] = "summary"
Visibility = Literal["full", "summary"]
# No more than this many items per kind are read (newest first): a bound on one page's work.
PER_KIND_LIMIT = 500
# Set by :func:`collect` for a viewer who reads the student only as the school the student left
# (``transfer.reading_school``): every kind is then cut to the rows written at that school.
ONLY_SCHOOL: ContextVar[uuid.UUID | None] = ContextVar("timeline_only_school", default=None)


@dataclass(frozen=True)
class TimelineItem:
    """One thing that happened, as far as the viewer may see it.

    ``lines`` are already-translated strings (labels, names, scores): the page shows them as
    they are. A :data:`SUMMARY` item carries no lines (its ``title`` says what kind of thing it
    was, never what was in it).
    """

    at: dt.datetime
    kind: str
    title: str
    visibility: Visibility = FULL
    lines: tuple[str, ...] = ()
    actor: str | None = None
    url: str | None = None
    fields: tuple[str, ...] = field(default=(), compare=False)


Contributor = Callable[
    [Session, Principal, Student, dt.datetime | None, dt.datetime | None], list[TimelineItem]
]


def summary(at: dt.datetime, kind: str, title: Any) -> TimelineItem:
    """The item of a kind the viewer sees only in outline: when, and what kind of thing."""
    return TimelineItem(at=at, kind=kind, title=str(title), visibility=SUMMARY)


def in_range(column: Any, since: dt.datetime | None, until: dt.datetime | None) -> list[Any]:
    """The ``WHERE`` terms restricting ``column`` to ``[since, until)``."""
    terms = []
    if since is not None:
        terms.append(column >= since)
    if until is not None:
        terms.append(column < until)
    return terms


def newest(
    session: Session, model: type[M], at: Any, student: Student,
    since: dt.datetime | None, until: dt.datetime | None, *where: Any,
) -> Sequence[M]:  # fmt: skip
    """A kind's rows about ``student`` in ``[since, until)`` by ``at``, newest first, at most
    :data:`PER_KIND_LIMIT` (one indexed query: ``(student_id, at)``). While :data:`ONLY_SCHOOL`
    is set, only rows whose ``school_id`` is that school (none of a table without one)."""
    only_school = ONLY_SCHOOL.get()
    if only_school is not None:
        column = getattr(model, "school_id", None)
        if column is None:
            return []
        where = (*where, column == only_school)
    return session.scalars(
        select(model)
        .where(model.student_id == student.id, *where, *in_range(at, since, until))  # type: ignore[attr-defined]  # every kind's table has student_id
        .order_by(at.desc()).limit(PER_KIND_LIMIT)
    ).all()  # fmt: skip


def kinds() -> dict[str, Any]:
    """Every contributed kind and its label, in ``MODULES`` order (a kind named twice fails)."""
    found: dict[str, Any] = {}
    for declared in modules.iter_parts("timeline", "KINDS"):
        for kind, label in declared.items():
            if kind in found:
                raise ValueError(f"timeline kind {kind!r} is declared twice")
            found[kind] = label
    return found


def contributors() -> list[tuple[frozenset[str], Contributor]]:
    """Each module's ``(its kinds, its items function)``, in ``MODULES`` order."""
    return [
        (frozenset(getattr(part, "KINDS", {})), part.items)
        for part in modules.parts("timeline")
        if hasattr(part, "items")
    ]


@dataclass
class Timeline:
    items: list[TimelineItem]
    kinds_shown: list[str]
    # Kinds with PER_KIND_LIMIT items: older ones were not read (the page says so in words).
    capped: list[str] = field(default_factory=list)


def collect(
    session: Session,
    principal: Principal,
    student: Student,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    only: Iterable[str] | None = None,
) -> Timeline:
    """Every contributor's items, newest first, filtered to the kinds in ``only`` (all when
    None, none when empty: nothing is read). ``kinds_shown`` names the kinds that have at least
    one item (for the audit entry). Nothing is read for a viewer who may not open the record:
    the contributors check only what each of their kinds needs beyond that."""
    if not can(principal, Permission.RECORD_READ, student):
        return Timeline([], [])
    wanted = set(only) if only is not None else None
    items: list[TimelineItem] = []
    token = ONLY_SCHOOL.set(reading_school(principal, student))
    try:
        for declared, contribute in contributors():
            if wanted is not None and not declared & wanted:
                continue  # none of its kinds asked for: not read at all
            items.extend(
                item
                for item in contribute(session, principal, student, since, until)
                if wanted is None or item.kind in wanted
            )
    finally:
        ONLY_SCHOOL.reset(token)
    items.sort(key=lambda item: item.at, reverse=True)
    shown = list(dict.fromkeys(item.kind for item in items))
    counts = Counter(item.kind for item in items)
    capped = sorted(kind for kind, count in counts.items() if count >= PER_KIND_LIMIT)
    return Timeline(items, sorted(shown), capped)


def fields_shown(timeline: Timeline) -> list[str]:
    """The names of what the page shows (never values): ``timeline.<kind>`` and the item's own
    ``fields`` for full items, ``timeline.<kind>.summary`` for outlines."""
    names: set[str] = set()
    for item in timeline.items:
        if item.visibility == FULL:
            names |= {f"timeline.{item.kind}", *item.fields}
        else:
            names.add(f"timeline.{item.kind}.summary")
    return sorted(names)


def names_of(session: Session, ids: Iterable[Any]) -> Mapping[Any, str]:
    """People's display names for ``ids`` (one query)."""
    return user_names(session, set(ids))
