"""The retention purge (issue 14 item 9): a sealed record is deleted for good
``policy.records.retention_years`` after the student left, leaving one tombstone in the audit
trail.

**What is deleted** is found from the schema, not from a list, so a table added later is
covered without touching this file: starting from the student's row, every row of every table
with a foreign key to a row being deleted is deleted too (notes and their addenda, plans and
their versions, sign-offs and tasks, screening responses, alerts and their steps, recipients
and inbox rows, crises and their steps, guardian contacts, concerns, follow-ups, tier decisions,
hotline calls, break-glass grants, transfers...). Three kinds of reference carry no foreign
key and are declared here instead (``tests/students/test_retention.py`` fails when a new
column of that kind is not classified): :data:`SOFT_REFERENCES` (an id column pointing at a row
of another table: the alert e-mails in the outbox), :data:`ID_LISTS` (JSON lists of student
ids: the kiosk sessions, from which the id is removed) and :data:`NOT_STUDENT_DATA` (id
columns that never lead to a row about the student outside the purge). Rows are deleted with
SQL ``DELETE`` statements, children first: the ORM guards of notes and plans refuse deletes
through the session by design, and the database triggers on counselling notes let a delete
through only while a ``purge_lock`` row names the student (migration 0009), a row inserted and
removed inside the purge's transaction.

**What is kept** is the audit trail, untouched: its entries name the student by id only (the
audit ``detail`` guard admits codes and ids, never free text), and the chain is not rewritten,
so ``audit verify`` passes after a purge. The tombstone (``RECORD_PURGE``) holds the student's
id, the dates (left, sealed, due, purged), the policy version, who set it, and the count of
rows deleted per table.

**When**: the scheduled job (:mod:`.jobs`) purges every sealed record whose time has come; a
dry run (the CLI's ``--dry-run``, :func:`due_plans`) lists the same without deleting anything.
The retention period is the district's policy, which lives in ``risk`` (a module above this
one): ``risk.policy`` registers it with :func:`set_retention_source`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, Table, cast, delete, insert, or_, select, update
from sqlalchemy.orm import InstanceState, Session
from sqlalchemy.orm.attributes import instance_state

from ..core import audit
from ..core.errors import DomainError
from ..db import Base, utcnow
from .models import PurgeLock, Student, StudentStatus

CHUNK = 500


class PurgeError(DomainError):
    code = "purge_refused"


# --------------------------------------------------------------------------- the policy


@dataclass(frozen=True)
class RetentionRule:
    """How long a sealed record is kept, and whose decision that is (for the tombstone)."""

    years: int = 10
    policy_version: int = 0  # 0: the built-in default
    set_by: uuid.UUID | None = None  # the user who saved that version of the policy


RetentionSource = Callable[[Session, Student], RetentionRule]
_SOURCE: list[RetentionSource] = []


def set_retention_source(source: RetentionSource) -> None:
    """Register where the retention period comes from (``risk.policy``: the district's
    ``records.retention_years``); the last registration wins."""
    _SOURCE[:] = [source]


def retention_rule(session: Session, student: Student) -> RetentionRule:
    return _SOURCE[0](session, student) if _SOURCE else RetentionRule()


def purge_due_on(left_at: dt.date, years: int) -> dt.date:
    """The first day the record may be purged: the anniversary ``years`` after leaving (a
    29 February counts from 28 February in a common year)."""
    try:
        return left_at.replace(year=left_at.year + years)
    except ValueError:
        return left_at.replace(year=left_at.year + years, day=28)


# --------------------------------------------------------------------------- references

# Id columns without a foreign key that point at a row of another table: the row they name is
# about the student when the row holding the id is (an alert's e-mail in the outbox).
SOFT_REFERENCES: dict[tuple[str, str], str] = {("alert_recipient", "outbox_id"): "outbox_message"}
# JSON lists of student ids: the purge removes the student's id from them (the row stays: a
# kiosk session of several students is about the others too).
ID_LISTS: dict[str, tuple[str, ...]] = {"screening_kiosk": ("student_ids", "done_ids", "held_ids")}
# Id columns without a foreign key that need nothing of the purge, and why.
NOT_STUDENT_DATA: dict[tuple[str, str], str] = {
    ("alert", "source_id"): "the student's own row that raised the alert (purged with it)",
    ("followup", "source_id"): "the student's own row that scheduled it (purged with it)",
    ("tier_decision", "source_id"): "the student's own row behind the decision",
    ("crisis", "decision_id"): "the student's own tier decision",
    ("crisis_step", "followup_id"): "the student's own follow-up",
    ("membership", "partner_id"): "a staff member's organisation",
    ("purge_lock", "student_id"): "the purge's own escape, removed in the same transaction",
}
# The audit trail is kept as it is: ids only, MAC-chained (never rewritten).
AUDIT_TABLES = frozenset({"audit_entry", "audit_checkpoint", "audit_verification"})


def _pk(table: Table) -> Any:
    columns = list(table.primary_key.columns)
    if len(columns) != 1:  # pragma: no cover - every table about a student has one id column
        raise PurgeError(_l("A table has no single id column: %(table)s"), table=table.name)
    return columns[0]


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    items = list(values)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _tables() -> dict[str, Table]:
    return dict(Base.metadata.tables)


@dataclass
class Found:
    """What a purge of one student deletes (row ids by table), unlinks (rows of OTHER students
    whose nullable foreign key points at a deleted row: ``(table, column) -> row ids``) and
    edits (rows whose JSON id lists name the student, by table)."""

    rows: dict[str, set[Any]] = field(default_factory=dict)
    unlink: dict[tuple[str, str], set[Any]] = field(default_factory=dict)
    id_lists: dict[str, list[Any]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        return {name: len(ids) for name, ids in sorted(self.rows.items()) if ids}


def collect_rows(session: Session, student_id: uuid.UUID) -> Found:
    """Every row about the student: the student's row, every row with a foreign key to a row
    already found (repeated until nothing new turns up), the rows that soft references of found
    rows name, and the JSON id lists naming the student. A row that belongs to ANOTHER student
    (its own ``student_id``) is never taken: its link to a deleted row is recorded in
    ``unlink`` (set to NULL by the purge)."""
    tables = _tables()
    found = Found(rows={"student": {student_id}})
    grew = True
    while grew:
        grew = False
        for table in tables.values():
            if table.name in AUDIT_TABLES or table.name == "student":
                continue
            if _follow_keys(session, table, student_id, found):
                grew = True
        if _follow_soft_references(session, found):
            grew = True
    found.id_lists = _id_list_rows(session, student_id)
    found.rows = {name: ids for name, ids in found.rows.items() if ids}
    return found


def _follow_keys(session: Session, table: Table, student_id: uuid.UUID, found: Found) -> bool:
    links = [fk for fk in table.foreign_keys if found.rows.get(fk.column.table.name)]
    if not links:
        return False
    pk, mine = _pk(table), found.rows.setdefault(table.name, set())
    owner = table.c.get("student_id")
    grew = False
    for fk in links:
        parents = found.rows[fk.column.table.name]
        for part in _chunks(parents):
            stmt = select(pk, owner if owner is not None else pk).where(fk.parent.in_(part))
            for key, belongs_to in session.execute(stmt):
                if owner is not None and belongs_to not in (None, student_id):
                    if not fk.parent.nullable:  # pragma: no cover - no such link in the schema
                        raise PurgeError(
                            _l("Another student's row depends on this record: %(table)s"),
                            table=table.name,
                        )
                    found.unlink.setdefault((table.name, fk.parent.name), set()).add(key)
                elif key not in mine:
                    mine.add(key)
                    grew = True
    return grew


def _follow_soft_references(session: Session, found: Found) -> bool:
    tables, grew = _tables(), False
    for (holder, column), target in SOFT_REFERENCES.items():
        ids = found.rows.get(holder)
        if not ids or holder not in tables:
            continue
        table = tables[holder]
        named: set[Any] = set()
        for part in _chunks(ids):
            stmt = select(table.c[column]).where(_pk(table).in_(part))
            named |= {v for v in session.scalars(stmt) if v is not None}
        # A row another (kept) row names too stays: a digest e-mail about several alerts.
        for part in _chunks(named):
            rows = session.execute(
                select(_pk(table), table.c[column]).where(table.c[column].in_(part))
            )
            named -= {value for key, value in rows if key not in ids}
        new = named - found.rows.setdefault(target, set())
        if new:
            found.rows[target] |= new
            grew = True
    return grew


def _id_list_rows(session: Session, student_id: uuid.UUID) -> dict[str, list[Any]]:
    tables, text = _tables(), str(student_id)
    rows: dict[str, list[Any]] = {}
    for name, columns in ID_LISTS.items():
        table = tables.get(name)
        if table is None:
            continue
        condition = or_(*(cast(table.c[c], String).like(f"%{text}%") for c in columns))
        keys = list(session.scalars(select(_pk(table)).where(condition)))
        if keys:
            rows[name] = keys
    return rows


# --------------------------------------------------------------------------- plans and purges


@dataclass
class PurgePlan:
    """One sealed record due for purging (or purged): what the dry run lists and the
    tombstone records."""

    student_id: uuid.UUID
    school_id: uuid.UUID
    status: str
    left_at: dt.date
    sealed_at: dt.datetime | None
    due_on: dt.date
    rule: RetentionRule
    counts: dict[str, int] = field(default_factory=dict)
    unlinked: dict[str, int] = field(default_factory=dict)
    id_lists: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def plan_for(session: Session, student: Student, found: Found | None = None) -> PurgePlan:
    if student.left_at is None:
        raise PurgeError(_l("This record is not sealed."))
    rule = retention_rule(session, student)
    found = found or collect_rows(session, student.id)
    return PurgePlan(
        student_id=student.id, school_id=student.school_id, status=student.status,
        left_at=student.left_at, sealed_at=student.sealed_at,
        due_on=purge_due_on(student.left_at, rule.years), rule=rule, counts=found.counts(),
        unlinked={f"{t}.{c}": len(ids) for (t, c), ids in sorted(found.unlink.items())},
        id_lists={t: len(ids) for t, ids in sorted(found.id_lists.items())},
    )  # fmt: skip


def sealed_students(session: Session, today: dt.date) -> list[Student]:
    """Sealed students who left at least a year ago (the shortest period a policy allows), in
    the order they left."""
    horizon = purge_due_on(today, -1)
    return list(
        session.scalars(
            select(Student)
            .where(Student.status != StudentStatus.ACTIVE, Student.left_at <= horizon)
            .order_by(Student.left_at, Student.id)
        )
    )


def due_plans(session: Session, today: dt.date) -> list[PurgePlan]:
    """The dry run: every sealed record whose time has come on ``today``, with the counts of
    rows a purge would delete per table. Deletes nothing, records nothing."""
    plans = []
    for student in sealed_students(session, today):
        rule = retention_rule(session, student)
        if student.left_at is not None and purge_due_on(student.left_at, rule.years) <= today:
            plans.append(plan_for(session, student))
    return plans


def purge_student(
    session: Session, student_id: uuid.UUID, today: dt.date, *, now: dt.datetime | None = None
) -> PurgePlan | None:
    """Delete every row about a sealed student whose retention period has run out, and record
    the tombstone, in the caller's transaction. None when there is nothing to purge (already
    purged: the purge is idempotent); :class:`PurgeError` when the record is not sealed or its
    time has not come."""
    session.flush()
    student = session.get(Student, student_id)
    if student is None:
        return None
    if not student.sealed or student.left_at is None:
        raise PurgeError(_l("This record is not sealed."))
    found = collect_rows(session, student_id)
    plan = plan_for(session, student, found)
    if plan.due_on > today:
        raise PurgeError(_l("This record is kept until %(date)s."), date=plan.due_on.isoformat())
    _delete(session, student_id, found)
    audit.record(
        session, audit.AuditAction.RECORD_PURGE, object_type="student", object_id=student_id,
        student_id=student_id, school_id=plan.school_id, purpose="retention",
        detail={
            "status": plan.status, "left_at": plan.left_at, "sealed_at": plan.sealed_at,
            "due_on": plan.due_on, "purged_at": now or utcnow(),
            "retention_years": plan.rule.years, "policy_version": plan.rule.policy_version,
            "policy_set_by": plan.rule.set_by, "deleted": plan.counts,
            "unlinked": plan.unlinked, "id_lists": plan.id_lists,
        },
    )  # fmt: skip
    return plan


def _delete(session: Session, student_id: uuid.UUID, found: Found) -> None:
    """Unlink, edit the id lists, then delete children before parents, with the purge escape
    of the notes' triggers open for this student only (inserted and removed here)."""
    tables = _tables()
    session.execute(insert(PurgeLock).values(student_id=student_id, started_at=utcnow()))
    for (name, column), linked in found.unlink.items():
        table = tables[name]
        for part in _chunks(linked):
            session.execute(update(table).where(_pk(table).in_(part)).values({column: None}))
    for name, listed in found.id_lists.items():
        _remove_from_lists(session, tables[name], listed, str(student_id))
    for table in reversed(Base.metadata.sorted_tables):
        for part in _chunks(found.rows.get(table.name) or ()):
            session.execute(delete(table).where(_pk(table).in_(part)))
    session.execute(delete(PurgeLock).where(PurgeLock.student_id == student_id))
    _forget(session, found)


def _forget(session: Session, found: Found) -> None:
    """Keep the session honest after the SQL statements: objects of deleted rows leave it
    (detached, their loaded values still readable), objects of edited rows reload."""
    edited = set(found.id_lists) | {name for name, _column in found.unlink}
    for obj in list(session.identity_map.values()):
        state: InstanceState[Any] = instance_state(obj)
        table = state.mapper.local_table
        name = getattr(table, "name", "")
        if state.identity and state.identity[0] in found.rows.get(name, ()):
            session.expunge(obj)
        elif name in edited:
            session.expire(obj)


def _remove_from_lists(session: Session, table: Table, keys: list[Any], text: str) -> None:
    columns = ID_LISTS[table.name]
    for row in session.execute(select(_pk(table), *(table.c[c] for c in columns)).where(
        _pk(table).in_(keys)
    )):  # fmt: skip
        values = {
            column: [v for v in (row[i + 1] or []) if v != text] for i, column in enumerate(columns)
        }
        session.execute(update(table).where(_pk(table) == row[0]).values(values))


@dataclass
class PurgeRun:
    """What a run of the purge did (the job's report)."""

    purged: list[PurgePlan] = field(default_factory=list)
    failed: list[tuple[uuid.UUID, str]] = field(default_factory=list)


def purge_due(db: Any, today: dt.date, now: dt.datetime | None = None) -> PurgeRun:
    """Purge every record due on ``today``, each in a transaction of its own (one failure
    leaves the others to go ahead); ``db`` is a :class:`wellbeing.db.Database`."""
    run = PurgeRun()
    with db.session() as session:
        ids = [p.student_id for p in due_plans(session, today)]
    for student_id in ids:
        try:
            with db.session() as session:
                plan = purge_student(session, student_id, today, now=now)
        except Exception as exc:  # reported per student: the run goes on
            run.failed.append((student_id, type(exc).__name__))
            continue
        if plan is not None:
            run.purged.append(plan)
    return run
