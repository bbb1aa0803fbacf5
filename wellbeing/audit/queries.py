"""Read-only queries of the supervisor's console: filtered, keyset-paginated audit entries.

Every filter is served by an index ``(column, occurred_at, id)`` and pages are ordered by
``(occurred_at, id)`` descending, continuing strictly below the last row shown, so the cost of
a page does not grow with the depth of paging or the size of the trail.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    Select,
    false,
    func,
    literal,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from ..auth.models import Membership, User
from ..core.audit import AuditAction
from ..db import UTCDateTime
from ..students.models import Student
from ..students.queries import find_students, query_kinds
from .models import AuditCheckpoint, AuditEntry, AuditVerification, BreakGlass

PAGE_SIZE = 50
WORKDAY_START, WORKDAY_END = 7, 20  # local hours; access outside [07:00, 20:00) is "after hours"
EXPORT_ACTIONS = tuple(str(a) for a in AuditAction if str(a).endswith((":export", ":print")))
QUEUES = ("denied", "exports", "after-hours")


class local_hour(FunctionElement[int]):
    """Hour of day of a UTC timestamp column in the district's time zone."""

    type = Integer()
    inherit_cache = True


@compiles(local_hour, "postgresql")
def _local_hour_pg(element: local_hour, compiler: Any, **kw: Any) -> str:
    column, zone, _offset = list(element.clauses)
    return (
        f"CAST(EXTRACT(HOUR FROM timezone({compiler.process(zone, **kw)}, "
        f"{compiler.process(column, **kw)})) AS INTEGER)"
    )


@compiles(local_hour)
def _local_hour_sqlite(element: local_hour, compiler: Any, **kw: Any) -> str:
    # SQLite has no time zone database: use the zone's current UTC offset (Asia/Shanghai has
    # no daylight saving time, so this is exact for the default).
    column, _zone, offset = list(element.clauses)
    return (
        f"CAST(strftime('%H', {compiler.process(column, **kw)}, "
        f"{compiler.process(offset, **kw)}) AS INTEGER)"
    )


def _local_hour(column: Any, tz: zoneinfo.ZoneInfo) -> local_hour:
    offset = dt.datetime.now(tz).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return local_hour(column, str(tz.key), f"{minutes:+d} minutes")


@dataclass
class EntryFilter:
    student_id: uuid.UUID | None = None
    student_ids: tuple[uuid.UUID, ...] | None = None  # several (a short id or a name)
    user_id: uuid.UUID | None = None
    school_id: uuid.UUID | None = None
    action: str | None = None
    outcome: str | None = None
    since: dt.datetime | None = None  # inclusive, UTC
    until: dt.datetime | None = None  # exclusive, UTC
    break_glass_only: bool = False
    break_glass_id: uuid.UUID | None = None
    actions: tuple[str, ...] = ()
    after_hours: bool = False
    tz: zoneinfo.ZoneInfo = field(default_factory=lambda: zoneinfo.ZoneInfo("Asia/Shanghai"))

    def conditions(self) -> list[ColumnElement[bool]]:
        e = AuditEntry
        where: list[ColumnElement[bool]] = []
        if self.student_id is not None:
            where.append(e.student_id == self.student_id)
        if self.student_ids is not None:
            where.append(e.student_id.in_(self.student_ids) if self.student_ids else false())
        if self.user_id is not None:
            where.append(e.actor_user_id == self.user_id)
        if self.school_id is not None:
            where.append(e.school_id == self.school_id)
        if self.action:
            where.append(e.action == self.action)
        if self.actions:
            where.append(e.action.in_(self.actions))
        if self.outcome:
            where.append(e.outcome == self.outcome)
        if self.since is not None:
            where.append(e.occurred_at >= self.since)
        if self.until is not None:
            where.append(e.occurred_at < self.until)
        if self.break_glass_id is not None:
            where.append(e.break_glass_id == self.break_glass_id)
        elif self.break_glass_only:
            where.append(e.break_glass_id.is_not(None))
        if self.after_hours:
            hour = _local_hour(e.occurred_at, self.tz)
            where += [
                e.actor_user_id.is_not(None),
                e.student_id.is_not(None),
                or_(hour < WORKDAY_START, hour >= WORKDAY_END),
            ]
        return where

    def tokens(self) -> dict[str, Any]:
        """The filter as audit-detail tokens (ids, codes, ISO times)."""
        out: dict[str, Any] = {}
        for name in ("student_id", "user_id", "school_id", "action", "outcome", "since", "until",
                     "break_glass_id"):  # fmt: skip
            value = getattr(self, name)
            if value:
                out[name] = value
        if self.student_ids is not None:
            out["student_ids"] = list(self.student_ids)
        if self.break_glass_only:
            out["break_glass_only"] = True
        if self.after_hours:
            out["after_hours"] = True
        if self.actions:
            out["actions"] = list(self.actions)
        return out


def queue_filter(kind: str, tz: zoneinfo.ZoneInfo) -> EntryFilter:
    if kind == "denied":
        return EntryFilter(outcome="denied", tz=tz)
    if kind == "exports":
        return EntryFilter(actions=EXPORT_ACTIONS, tz=tz)
    if kind == "after-hours":
        return EntryFilter(after_hours=True, tz=tz)
    raise ValueError(f"unknown queue {kind!r}")


# --------------------------------------------------------------------------- keyset pages


@dataclass(frozen=True)
class Cursor:
    occurred_at: dt.datetime
    id: int

    def encode(self) -> str:
        return f"{self.occurred_at.astimezone(dt.UTC):%Y%m%d%H%M%S%f}-{self.id}"

    @classmethod
    def decode(cls, raw: str | None) -> Cursor | None:
        if not raw:
            return None
        try:
            stamp, ident = raw.split("-", 1)
            moment = dt.datetime.strptime(stamp, "%Y%m%d%H%M%S%f").replace(tzinfo=dt.UTC)
            return cls(moment, int(ident))
        except ValueError:
            return None


@dataclass
class Page:
    entries: list[AuditEntry]
    next_cursor: str | None


def _ordered(stmt: Select[Any], f: EntryFilter, cursor: Cursor | None) -> Select[Any]:
    where = f.conditions()
    if cursor is not None:
        after = tuple_(literal(cursor.occurred_at, UTCDateTime()), literal(cursor.id, BigInteger()))
        where.append(tuple_(AuditEntry.occurred_at, AuditEntry.id) < after)
    return stmt.where(*where).order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())


def search(
    session: Session, f: EntryFilter, cursor: Cursor | None = None, limit: int = PAGE_SIZE
) -> Page:
    rows = list(session.scalars(_ordered(select(AuditEntry), f, cursor).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = Cursor(rows[-1].occurred_at, rows[-1].id).encode() if more and rows else None
    return Page(rows, next_cursor)


EXPORT_COLUMNS = (
    "id", "seq", "occurred_at", "actor_user_id", "actor_username", "actor_role", "actor_scope",
    "session_hash", "ip", "user_agent", "request_id", "action", "object_type", "object_id",
    "student_id", "school_id", "fields", "detail", "purpose", "outcome", "break_glass_id",
)  # fmt: skip


def iter_export_rows(
    open_session: Callable[[], Session], f: EntryFilter, batch: int = 2000
) -> Iterator[Any]:
    """All entries matching ``f``, newest first, each batch read in a short transaction of its
    own (a long export never holds a transaction open)."""
    table = AuditEntry.__table__
    columns = [table.c[name] for name in EXPORT_COLUMNS]
    cursor: Cursor | None = None
    while True:
        with open_session() as session:
            rows = session.execute(_ordered(select(*columns), f, cursor).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        cursor = Cursor(rows[-1].occurred_at, rows[-1].id)


# --------------------------------------------------------------------------- summaries


@dataclass
class Accessor:
    user_id: uuid.UUID | None
    username: str | None
    role: str | None
    entries: int
    last_at: dt.datetime
    break_glass_entries: int
    denied: int


def accessors(session: Session, student_id: uuid.UUID) -> list[Accessor]:
    """Who touched this student's record: one row per user, most recent first."""
    e = AuditEntry
    rows = session.execute(
        select(
            e.actor_user_id, func.max(e.actor_username), func.max(e.actor_role), func.count(),
            func.max(e.occurred_at),
            func.count(e.break_glass_id),
            func.sum(func.cast(e.outcome == "denied", Integer)),
        )
        .where(e.student_id == student_id)
        .group_by(e.actor_user_id)
        .order_by(func.max(e.occurred_at).desc())
    ).all()  # fmt: skip
    return [Accessor(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6] or 0)) for r in rows]


def break_glass_queue(
    session: Session,
    *,
    reviewed: bool = False,
    limit: int = 200,
    exclude_user: uuid.UUID | None = None,
) -> list[BreakGlass]:
    """Grants waiting for review (oldest first) or reviewed (newest first); ``exclude_user``
    leaves out that user's own grants (nobody reviews their own access)."""
    b = BreakGlass
    stmt = select(b)
    if exclude_user is not None:
        stmt = stmt.where(b.user_id != exclude_user)
    if reviewed:
        stmt = stmt.where(b.reviewed_at.is_not(None)).order_by(b.reviewed_at.desc())
    else:
        stmt = stmt.where(b.reviewed_at.is_(None)).order_by(b.started_at)
    return list(session.scalars(stmt.limit(limit)))


def own_grants_waiting(session: Session, user_id: uuid.UUID) -> int:
    b = BreakGlass
    return (
        session.scalar(
            select(func.count()).select_from(b).where(b.user_id == user_id, b.reviewed_at.is_(None))
        )
        or 0
    )


def grants_without_reviewer(session: Session, limit: int = 200) -> list[BreakGlass]:
    """Grants waiting for review that nobody may review: every active supervisor is the
    grant's own holder (a lone supervisor's own break-glass access). The integrity panel lists
    them so the gap is visible instead of silently waiting."""
    other_supervisor = (
        select(Membership.id)
        .join(User, User.id == Membership.user_id)
        .where(
            Membership.role == "supervisor",
            User.active.is_(True),
            Membership.user_id != BreakGlass.user_id,
        )
        .exists()
    )
    return list(
        session.scalars(
            select(BreakGlass)
            .where(BreakGlass.reviewed_at.is_(None), ~other_supervisor)
            .order_by(BreakGlass.started_at)
            .limit(limit)
        )
    )


def my_grants(session: Session, user_id: uuid.UUID, limit: int = 50) -> list[BreakGlass]:
    return list(
        session.scalars(
            select(BreakGlass)
            .where(BreakGlass.user_id == user_id)
            .order_by(BreakGlass.started_at.desc())
            .limit(limit)
        )
    )


@dataclass
class IntegrityStatus:
    last_verification: AuditVerification | None
    last_checkpoint: AuditCheckpoint | None
    sealed: int
    unsealed: int
    unreviewable: list[BreakGlass] = field(default_factory=list)


def integrity_status(session: Session) -> IntegrityStatus:
    e = AuditEntry
    return IntegrityStatus(
        last_verification=session.scalar(
            select(AuditVerification).order_by(AuditVerification.created_at.desc()).limit(1)
        ),
        last_checkpoint=session.scalar(
            select(AuditCheckpoint).order_by(AuditCheckpoint.created_at.desc()).limit(1)
        ),
        sealed=session.scalar(select(func.max(e.seq))) or 0,
        unsealed=session.scalar(select(func.count()).select_from(e).where(e.seq.is_(None))) or 0,
        unreviewable=grants_without_reviewer(session),
    )


# --------------------------------------------------------------------------- the student filter

_SHORT_REF = re.compile(r"^[0-9a-fA-F]{8}$")


@dataclass(frozen=True)
class StudentMatch:
    """What the console's student filter found: ``kind`` is how the text was read ("id",
    "short_ref", "number_or_name"), ``ids`` the students it names (empty: nobody)."""

    kind: str
    ids: tuple[uuid.UUID, ...]


def resolve_student(
    session: Session, raw: str, school_ids: set[uuid.UUID], *, limit: int = 50
) -> StudentMatch:
    """Read the filter as a full id, the 8-character short reference the console shows, or a
    student number / full name looked up in the blind indexes of ``school_ids`` (exact match
    after normalisation; nothing is decrypted)."""
    text = raw.strip()
    try:
        return StudentMatch("id", (uuid.UUID(text),))
    except ValueError:
        pass
    ids: list[uuid.UUID] = []
    kinds: list[str] = []
    if _SHORT_REF.match(text):  # also a possible student number (8 digits): both are tried
        low, high = uuid.UUID(text.lower() + "0" * 24), uuid.UUID(text.lower() + "f" * 24)
        ids = list(
            session.scalars(
                select(Student.id).where(Student.id >= low, Student.id <= high).limit(limit)
            )
        )
        kinds += ["short_ref"] if ids else []
    lookups = [k for k in ("number", "name") if k in _query_kinds(text)]
    found = [s.id for s in find_students(session, school_ids, text, lookups, limit=limit)]
    kinds += ["number_or_name"] if found else []
    ids += [i for i in found if i not in ids]
    return StudentMatch("+".join(kinds) or "none", tuple(ids))


def _query_kinds(text: str) -> list[str]:
    return query_kinds(text)
