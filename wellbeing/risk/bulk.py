"""The bulk path for imports: many rule decisions (raise only) in a few statements, with
``TIER_CHANGED`` emitted once for the batch (``TIER_CHANGED.emit_many``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from operator import attrgetter
from typing import Any

from sqlalchemy.orm import Session

from ..core import audit, crypto
from ..core.audit import AuditAction
from ..core.crypto import Purpose
from ..core.rawsql import IN_CHUNK, RawSQL
from ..db import utcnow
from ..students.models import Student
from ..students.queries import with_students
from .decisions import REASON_MAX, TierError
from .events import TIER_CHANGED, TierChanged
from .models import APPLIED, TIER_SOURCES, TierDecision
from .policy import current_policy, district_of_school

_DECISION_COLUMNS = (
    "id", "student_id", "school_id", "from_tier", "to_tier", "source", "source_id",
    "provisional", "kind", "state", "decided_by", "decided_at", "effective_at",
    "approved_by", "approved_at", "reason_ct",
)  # fmt: skip


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def apply_rule_tiers(
    session: Session,
    rows: Iterable[tuple[uuid.UUID, int, uuid.UUID | None, str | None]],
    *,
    source: str = "screening",
    provisional: bool = True,
    now: dt.datetime | None = None,
) -> list[uuid.UUID]:
    """Bulk rule decisions ``(student_id, tier, source_id, reason_token)``: raise only.

    Rows of tier 0 and all but the highest row per student are dropped first; then one SELECT
    of the current tiers per 5,000 students, one executemany INSERT of the decisions (reason
    tokens encrypted), UPDATEs grouped by new tier, and TIER_CHANGED for the batch.
    Returns the ids of the students whose tier rose.
    """
    if source not in TIER_SOURCES:
        raise TierError(f"unknown tier source '{source}'")
    now = now or utcnow()
    best: dict[uuid.UUID, tuple[int, uuid.UUID | None, str | None]] = {}
    for student_id, tier, source_id, token in rows:
        if tier not in (0, 1, 2, 3):
            raise TierError("tier must be 0, 1, 2 or 3")
        if tier > 0 and (student_id not in best or tier > best[student_id][0]):
            best[student_id] = (tier, source_id, token)
    if not best:
        return []
    session.flush()
    raw = RawSQL(session)
    with raw.big_cache():
        changed, plain = _bulk_write(session, raw, best, source, provisional, now)
    if not changed:
        return []
    # Objects of these students already in the session would now be stale.
    changed_set = set(changed)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Student) and obj.id in changed_set:
            session.expire(obj, ["tier", "tier_provisional", "district_involved", "updated_at"])
    audit.record(
        session,
        AuditAction.TIER_CHANGE,
        object_type="tier_batch",
        detail={"source": source, "changed": len(changed), "rows": len(best), "by": "rule"},
    )
    _emit_bulk(session, plain)
    return changed


def _bulk_write(
    session: Session,
    raw: RawSQL,
    best: dict[uuid.UUID, tuple[int, uuid.UUID | None, str | None]],
    source: str,
    provisional: bool,
    now: dt.datetime,
) -> tuple[list[uuid.UUID], list[dict[str, Any]]]:
    st, dt_table = Student.__table__, TierDecision.__table__
    p_id = raw.processor(st.c.id)
    keyring = crypto.current_keyring()
    reason_field = TierDecision.reason
    p_dec = {name: raw.processor(dt_table.c[name]) for name in _DECISION_COLUMNS}
    const = {
        "source": p_dec["source"](source), "provisional": p_dec["provisional"](provisional),
        "kind": p_dec["kind"]("change"), "state": p_dec["state"](APPLIED),
        "decided_at": p_dec["decided_at"](now), "effective_at": p_dec["effective_at"](now),
    }  # fmt: skip
    schools: dict[Any, uuid.UUID] = {}
    involve_cache: dict[tuple[uuid.UUID, int], bool] = {}
    changed: list[uuid.UUID] = []
    decisions: list[tuple[Any, ...]] = []
    plain: list[dict[str, Any]] = []  # for the events
    groups: dict[tuple[int, bool], list[Any]] = {}
    random_bytes = os.urandom(16 * len(best))  # decision ids: one system call, not one per row
    keyed = {p_id(student_id): student_id for student_id in best}
    keys = sorted(keyed)  # index order: B-tree pages are visited once, not at random
    step = len(keys) if raw.arrays else IN_CHUNK
    for start in range(0, len(keys), step):
        where, params = raw.id_filter(keys[start : start + step])
        sql = f"SELECT id, tier, school_id FROM student WHERE {where}"  # noqa: S608 (placeholders)
        current = raw.run(sql, params).all()
        for key, old, school_raw in current:
            student_id = keyed[key if key in keyed else p_id(_as_uuid(key))]
            tier, source_id, token = best[student_id]
            if tier <= old:
                continue
            school_id = schools.get(school_raw)
            if school_id is None:
                school_id = schools[school_raw] = _as_uuid(school_raw)
            involve = involve_cache.get((school_id, tier))
            if involve is None:
                policy = current_policy(session, district_of_school(session, school_id))
                involve = involve_cache[(school_id, tier)] = policy.involves_district(tier)
            offset = 16 * len(changed)
            decision_id = uuid.UUID(bytes=random_bytes[offset : offset + 16], version=4)
            reason = (token or source)[:REASON_MAX].encode()
            decisions.append((
                p_dec["id"](decision_id), key, p_dec["school_id"](school_id), old, tier,
                const["source"], None if source_id is None else p_dec["source_id"](source_id),
                const["provisional"], const["kind"], const["state"], None,
                const["decided_at"], const["effective_at"], None, None,
                keyring.encrypt(reason, Purpose.CLINICAL, reason_field.context(decision_id)),
            ))  # fmt: skip
            plain.append({
                "id": decision_id, "student_id": student_id, "school_id": school_id,
                "from_tier": old, "to_tier": tier, "source": source, "source_id": source_id,
                "provisional": provisional, "kind": "change", "state": APPLIED,
                "decided_by": None, "decided_at": now, "effective_at": now,
            })  # fmt: skip
            groups.setdefault((tier, involve), []).append(key)
            changed.append(student_id)
    if not changed:
        return [], []
    p_bool = raw.processor(st.c.tier_provisional)
    p_now = raw.processor(st.c.updated_at)(now)
    for (tier, involve), members in groups.items():
        sets = f"tier = {raw.mark}, tier_provisional = {raw.mark}, updated_at = {raw.mark}"
        head: tuple[Any, ...] = (tier, p_bool(provisional), p_now)
        if involve:
            sets += f", district_involved = {raw.mark}"
            head += (p_bool(True),)
        members.sort()
        if raw.arrays:  # one statement per group
            where, params = raw.id_filter(members)
            raw.run(f"UPDATE student SET {sets} WHERE {where}", head + params)  # noqa: S608
        else:  # SQLite: executemany by primary key
            raw.run(
                f"UPDATE student SET {sets} WHERE id = {raw.mark}",  # noqa: S608
                [(*head, key) for key in members],
            )
    decisions.sort(key=lambda row: row[1])  # by student: foreign-key checks in index order
    columns = ", ".join(_DECISION_COLUMNS)
    one = f"({raw.marks(len(_DECISION_COLUMNS))})"
    if raw.arrays:  # PostgreSQL: COPY (psycopg), several times faster than INSERTs
        raw.copy_rows("tier_decision", _DECISION_COLUMNS, decisions)
    else:  # SQLite: executemany of one prepared statement
        raw.run(f"INSERT INTO tier_decision ({columns}) VALUES {one}", decisions)  # noqa: S608
    return changed, plain


def _emit_bulk(session: Session, decisions: list[dict[str, Any]]) -> None:
    """``TIER_CHANGED`` for the whole batch: subscribers with a bulk form get the payloads as
    they are; the others one call per student, with the Student loaded (in chunks)."""
    if not TIER_CHANGED.has_subscribers():  # nobody listens: build nothing
        return
    changes = [
        TierChanged(
            d["student_id"], d["school_id"], d["from_tier"], d["to_tier"], d["id"], d["decided_at"]
        )
        for d in decisions
    ]
    TIER_CHANGED.emit_many(session, changes, partial(with_loaded_students, session))


def with_loaded_students(session: Session, changes: Sequence[TierChanged]) -> Iterator[TierChanged]:
    """The payloads with their Student loaded, a chunk at a time (per-item handlers' form)."""
    for student, change in with_students(session, changes, attrgetter("student_id")):
        yield dataclasses.replace(change, student=student)
