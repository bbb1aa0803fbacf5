"""Tier decisions, step-down approval, the district policy and special-care categories.

The tier state machine:

* a rule (``actor=None``) only ever raises a tier; a rule at or below the current level records
  nothing;
* a person sets any level with a written reason; the same level as now is a confirmation
  (clears ``tier_provisional``);
* a person's step-down from red is stored *pending* and takes effect only when a second person
  (``TIER_APPROVE_STEPDOWN`` on the student, not the requester) approves it;
* whenever the level changes, ``events.TIER_CHANGED(session, student, old, new, decision)`` is
  emitted in the same transaction, and raising to a tier the policy marks as district-involved
  sets ``student.district_involved``.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..core import audit, crypto, events
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..core.crypto import Purpose
from ..db import utcnow
from ..students.models import Student
from .models import (
    APPLIED,
    PENDING,
    REJECTED,
    TIER_SOURCES,
    WITHDRAWN,
    DistrictPolicy,
    TierDecision,
)
from .policy import (
    Policy,
    PolicyError,
    current_policy,
    district_of_school,
    forget_policy,
    policy_for_student,
    validate_body,
)

RED = 3
REASON_MAX = 2000
_TICK = dt.timedelta(microseconds=1)
_CHUNK = 2000


class TierError(ValueError):
    """A refused tier decision; the message is safe to show to the user."""


# --------------------------------------------------------------------------- single decisions


def _check(tier: int, source: str) -> None:
    if not isinstance(tier, int) or isinstance(tier, bool) or tier not in (0, 1, 2, 3):
        raise TierError("tier must be 0, 1, 2 or 3")
    if source not in TIER_SOURCES:
        raise TierError(f"unknown tier source '{source}'")


def _next_effective(session: Session, student_id: uuid.UUID, now: dt.datetime) -> dt.datetime:
    """``now``, or just after the student's latest applied decision (history stays ordered)."""
    last = session.scalar(
        select(func.max(TierDecision.effective_at)).where(
            TierDecision.student_id == student_id, TierDecision.status == APPLIED
        )
    )
    if last is not None:
        last = last if last.tzinfo else last.replace(tzinfo=dt.UTC)
        if last >= now:
            return last + _TICK
    return now


def _pending_stepdown(session: Session, student_id: uuid.UUID) -> TierDecision | None:
    return session.scalar(
        select(TierDecision).where(
            TierDecision.student_id == student_id, TierDecision.status == PENDING
        )
    )


def apply_tier(
    session: Session,
    actor: Principal | None,
    student: Student,
    tier: int,
    *,
    source: str,
    reason: str | None = None,
    provisional: bool = False,
    source_id: uuid.UUID | None = None,
    now: dt.datetime | None = None,
) -> TierDecision | None:
    """Record a tier decision and update the student's tier.

    ``actor=None`` is a rule: it only raises (returns None when ``tier`` is not above the
    current level). A person needs a written ``reason`` (when a person's raise comes from a
    module's own act -- a concern, a session, a referral -- and no reason is given, the source
    name is recorded as the reason token); lowering, confirming and ``source="manual"`` need
    ``TIER_DECIDE`` on the student. A person's step-down from red returns a *pending* decision
    (the tier is unchanged until :func:`approve_stepdown`).
    """
    _check(tier, source)
    now = now or utcnow()
    old = student.tier
    if actor is None:
        if tier <= old:
            return None
        token = (reason or source).strip()[:REASON_MAX]
        return _apply(
            session,
            None,
            student,
            tier,
            source=source,
            reason=token,
            provisional=provisional,
            source_id=source_id,
            now=now,
        )

    text = (reason or "").strip()
    needs_decide = source == "manual" or tier <= old
    if needs_decide:
        ensure(actor, Permission.TIER_DECIDE, student)
        if not text:
            raise TierError("a written reason is required")
    if len(text) > REASON_MAX:
        raise TierError(f"the reason is too long (at most {REASON_MAX} characters)")
    text = text or source

    if tier == old:
        return _confirm(
            session,
            actor,
            student,
            source=source,
            reason=text,
            provisional=provisional,
            source_id=source_id,
            now=now,
        )
    if old == RED and tier < RED:
        return _request_stepdown(
            session, actor, student, tier, source=source, reason=text, source_id=source_id, now=now
        )
    return _apply(
        session,
        actor,
        student,
        tier,
        source=source,
        reason=text,
        provisional=provisional,
        source_id=source_id,
        now=now,
    )


def _apply(
    session: Session,
    actor: Principal | None,
    student: Student,
    tier: int,
    *,
    source: str,
    reason: str,
    provisional: bool,
    source_id: uuid.UUID | None,
    now: dt.datetime,
) -> TierDecision:
    old = student.tier
    decision = TierDecision(
        student_id=student.id,
        school_id=student.school_id,
        from_tier=old,
        to_tier=tier,
        source=source,
        source_id=source_id,
        provisional=provisional,
        kind="change",
        status=APPLIED,
        decided_by=actor.user_id if actor else None,
        decided_at=now,
        effective_at=_next_effective(session, student.id, now),
        reason=reason,
    )
    session.add(decision)
    _set_student_tier(session, student, old, tier, provisional)
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CHANGE,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["tier"],
        detail={
            "from": old,
            "to": tier,
            "source": source,
            "provisional": provisional,
            "by": "person" if actor else "rule",
        },
    )
    events.emit(events.TIER_CHANGED, session, student, old, tier, decision)
    return decision


def _set_student_tier(
    session: Session, student: Student, old: int, tier: int, provisional: bool
) -> None:
    student.tier = tier
    student.tier_provisional = provisional
    if tier > old and policy_for_student(session, student).involves_district(tier):
        student.district_involved = True


def _confirm(
    session: Session,
    actor: Principal,
    student: Student,
    *,
    source: str,
    reason: str,
    provisional: bool,
    source_id: uuid.UUID | None,
    now: dt.datetime,
) -> TierDecision:
    decision = TierDecision(
        student_id=student.id,
        school_id=student.school_id,
        from_tier=student.tier,
        to_tier=student.tier,
        source=source,
        source_id=source_id,
        provisional=provisional,
        kind="confirm",
        status=APPLIED,
        decided_by=actor.user_id,
        decided_at=now,
        effective_at=_next_effective(session, student.id, now),
        reason=reason,
    )
    session.add(decision)
    student.tier_provisional = provisional
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CONFIRM,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["tier_provisional"],
        detail={"tier": student.tier, "source": source, "provisional": provisional},
    )
    return decision


def _request_stepdown(
    session: Session,
    actor: Principal,
    student: Student,
    tier: int,
    *,
    source: str,
    reason: str,
    source_id: uuid.UUID | None,
    now: dt.datetime,
) -> TierDecision:
    if _pending_stepdown(session, student.id) is not None:
        raise TierError("a step-down from red is already waiting for approval")
    decision = TierDecision(
        student_id=student.id,
        school_id=student.school_id,
        from_tier=RED,
        to_tier=tier,
        source=source,
        source_id=source_id,
        provisional=False,
        kind="stepdown",
        status=PENDING,
        decided_by=actor.user_id,
        decided_at=now,
        reason=reason,
    )
    session.add(decision)
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CHANGE,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        detail={"from": RED, "to": tier, "source": source, "status": PENDING},
    )
    return decision


def _load_pending(
    session: Session, decision: TierDecision | uuid.UUID
) -> tuple[TierDecision, Student]:
    if isinstance(decision, uuid.UUID):
        found = session.get(TierDecision, decision)
        if found is None:
            raise TierError("no such step-down request")
        decision = found
    student = session.get(Student, decision.student_id)
    if student is None:  # pragma: no cover (foreign key)
        raise TierError("no such student")
    return decision, student


def approve_stepdown(
    session: Session,
    actor: Principal,
    decision: TierDecision | uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> TierDecision:
    """A second person approves a pending step-down from red: the tier changes now."""
    decision, student = _load_pending(session, decision)
    ensure(actor, Permission.TIER_APPROVE_STEPDOWN, student)
    if decision.status != PENDING:
        raise TierError("this step-down is no longer waiting for approval")
    if decision.decided_by == actor.user_id:
        raise TierError("a second person must approve a step-down from red")
    if student.tier != decision.from_tier:
        raise TierError(
            "the student's tier changed since the request; withdraw it and decide again"
        )
    now = now or utcnow()
    old = student.tier
    decision.status = APPLIED
    decision.approved_by, decision.approved_at = actor.user_id, now
    decision.effective_at = _next_effective(session, student.id, now)
    _set_student_tier(session, student, old, decision.to_tier, decision.provisional)
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CHANGE,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["tier"],
        detail={
            "from": old,
            "to": decision.to_tier,
            "source": decision.source,
            "status": "approved",
        },
    )
    events.emit(events.TIER_CHANGED, session, student, old, decision.to_tier, decision)
    return decision


def reject_stepdown(
    session: Session,
    actor: Principal,
    decision: TierDecision | uuid.UUID,
    *,
    now: dt.datetime | None = None,
) -> TierDecision:
    """An approver declines the step-down, or the requester withdraws it; the tier stays red."""
    decision, student = _load_pending(session, decision)
    if decision.status != PENDING:
        raise TierError("this step-down is no longer waiting for approval")
    if decision.decided_by == actor.user_id:
        ensure(actor, Permission.TIER_DECIDE, student)
        decision.status = WITHDRAWN
    else:
        ensure(actor, Permission.TIER_APPROVE_STEPDOWN, student)
        decision.status = REJECTED
    decision.approved_by, decision.approved_at = actor.user_id, now or utcnow()
    session.flush()
    audit.record(
        session,
        AuditAction.TIER_CHANGE,
        object_type="tier_decision",
        object_id=decision.id,
        student_id=student.id,
        school_id=student.school_id,
        detail={"from": decision.from_tier, "to": decision.to_tier, "status": decision.status},
    )
    return decision


# --------------------------------------------------------------------------- bulk (imports)


class RuleDecision:
    """What TIER_CHANGED handlers receive from the bulk path: the decision's plain columns."""

    __slots__ = (
        "decided_at",
        "decided_by",
        "effective_at",
        "from_tier",
        "id",
        "kind",
        "provisional",
        "school_id",
        "source",
        "source_id",
        "status",
        "student_id",
        "to_tier",
    )

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))

    def __repr__(self) -> str:
        return f"RuleDecision({self.student_id}: {self.from_tier}->{self.to_tier})"


_DECISION_COLUMNS = (
    "id", "student_id", "school_id", "from_tier", "to_tier", "source", "source_id",
    "provisional", "kind", "status", "decided_by", "decided_at", "effective_at",
    "approved_by", "approved_at", "reason_ct",
)  # fmt: skip
_IN_CHUNK = 5000


class _Raw:
    """Driver-level SQL for the bulk path: values go through SQLAlchemy's own bind processors
    for the column types (so they are stored exactly as the ORM stores them), but without the
    per-row statement machinery."""

    def __init__(self, session: Session) -> None:
        self.conn = session.connection()
        self.dialect = self.conn.dialect
        self.mark = "?" if self.dialect.paramstyle == "qmark" else "%s"

    def processor(self, column: Any) -> Any:
        proc = column.type._cached_bind_processor(self.dialect)
        return proc if proc is not None else (lambda v: v)

    def marks(self, n: int) -> str:
        return ",".join([self.mark] * n)

    @property
    def arrays(self) -> bool:
        """PostgreSQL: pass a whole id list as one array parameter (``= ANY(%s)``)."""
        return self.dialect.name == "postgresql"

    def id_filter(self, keys: list[Any]) -> tuple[str, tuple[Any, ...]]:
        if self.arrays:
            return f"id = ANY({self.mark})", (list(keys),)
        return f"id IN ({self.marks(len(keys))})", tuple(keys)

    def run(self, sql: str, params: Any) -> Any:
        return self.conn.exec_driver_sql(sql, params)

    @contextmanager
    def big_cache(self) -> Iterator[None]:
        """SQLite: a 128 MiB page cache for the duration, so a transaction touching tens of
        thousands of random rows does not spill dirty pages to the WAL again and again."""
        if self.dialect.name != "sqlite":
            yield
            return
        before = self.conn.exec_driver_sql("PRAGMA cache_size").scalar()
        self.conn.exec_driver_sql("PRAGMA cache_size = -131072")
        try:
            yield
        finally:
            self.conn.exec_driver_sql(f"PRAGMA cache_size = {int(before or -2000)}")


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
    tokens encrypted), UPDATEs grouped by new tier, and TIER_CHANGED per changed student.
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
    raw = _Raw(session)
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
    raw: _Raw,
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
        "kind": p_dec["kind"]("change"), "status": p_dec["status"](APPLIED),
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
    step = len(keys) if raw.arrays else _IN_CHUNK
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
                const["provisional"], const["kind"], const["status"], None,
                const["decided_at"], const["effective_at"], None, None,
                keyring.encrypt(reason, Purpose.CLINICAL, reason_field.context(decision_id)),
            ))  # fmt: skip
            plain.append({
                "id": decision_id, "student_id": student_id, "school_id": school_id,
                "from_tier": old, "to_tier": tier, "source": source, "source_id": source_id,
                "provisional": provisional, "kind": "change", "status": APPLIED,
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
        driver = raw.conn.connection.driver_connection
        with (
            driver.cursor() as cursor,
            cursor.copy(  # type: ignore[union-attr]
                f"COPY tier_decision ({columns}) FROM STDIN"
            ) as copy,
        ):
            for row in decisions:
                copy.write_row(row)
    else:  # SQLite: executemany of one prepared statement
        raw.run(f"INSERT INTO tier_decision ({columns}) VALUES {one}", decisions)  # noqa: S608
    return changed, plain


def _emit_bulk(session: Session, decisions: list[dict[str, Any]]) -> None:
    if not events._handlers.get(events.TIER_CHANGED):  # nobody listens: skip loading students
        return
    for start in range(0, len(decisions), _CHUNK):
        part = decisions[start : start + _CHUNK]
        students = {
            s.id: s
            for s in session.scalars(
                select(Student).where(Student.id.in_([d["student_id"] for d in part]))
            )
        }
        for d in part:
            ref = RuleDecision(**{k: v for k, v in d.items() if k in RuleDecision.__slots__})
            events.emit(
                events.TIER_CHANGED,
                session,
                students[d["student_id"]],
                d["from_tier"],
                d["to_tier"],
                ref,
            )


# --------------------------------------------------------------------------- history


def tier_history(session: Session, student_id: uuid.UUID) -> list[TierDecision]:
    """Every decision about the student (applied, pending, rejected), oldest first."""
    return list(
        session.scalars(
            select(TierDecision)
            .where(TierDecision.student_id == student_id)
            .order_by(
                func.coalesce(TierDecision.effective_at, TierDecision.decided_at),
                TierDecision.decided_at,
            )
        )
    )


def replay(decisions: Sequence[TierDecision], start: int = 0) -> tuple[int, bool]:
    """Replay the applied decisions (in effective order) to ``(tier, provisional)``; raises
    :class:`TierError` when a decision does not start where the previous one ended."""
    tier, provisional = start, False
    applied = sorted((d for d in decisions if d.status == APPLIED), key=lambda d: d.effective_at)
    for d in applied:
        if d.from_tier != tier:
            raise TierError(f"history is broken at decision {d.id}")
        tier, provisional = d.to_tier, d.provisional
    return tier, provisional


def view_tier(
    session: Session, actor: Principal, student: Student, *, fields: Sequence[str] = ()
) -> list[TierDecision]:
    """The tier panel's data, audited as a sensitive read (TIER_VIEW; ``fields`` adds what
    else the page shows)."""
    ensure(actor, Permission.TIER_DECIDE, student)
    history = tier_history(session, student.id)
    audit.record(
        session,
        AuditAction.TIER_VIEW,
        object_type="student",
        object_id=student.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["tier", "tier_history", "tier_reason", *fields],
    )
    return history


# --------------------------------------------------------------------------- policy


def save_policy(
    session: Session, actor: Principal | None, district_id: uuid.UUID, body: Any
) -> DistrictPolicy:
    """Validate ``body`` and store it as the district's next policy version (audited)."""
    if actor is not None:
        ensure(actor, Permission.POLICY_MANAGE)
    validate_body(body)
    latest = session.scalar(
        select(func.max(DistrictPolicy.version)).where(DistrictPolicy.district_id == district_id)
    )
    row = DistrictPolicy(
        district_id=district_id,
        version=(latest or 0) + 1,
        body=body,
        created_by=actor.user_id if actor else None,
    )
    session.add(row)
    session.flush()
    forget_policy(session, district_id)
    audit.record(
        session,
        AuditAction.POLICY_CHANGE,
        object_type="district_policy",
        object_id=row.id,
        fields=sorted(body),
        detail={"district": district_id, "version": row.version},
    )
    return row


def policy_versions(session: Session, district_id: uuid.UUID) -> list[DistrictPolicy]:
    return list(
        session.scalars(
            select(DistrictPolicy)
            .where(DistrictPolicy.district_id == district_id)
            .order_by(DistrictPolicy.version.desc())
        )
    )


# --------------------------------------------------------------------------- special care


def get_special_care(student: Student) -> list[str]:
    """The student's special-care category codes (decrypted; callers check access)."""
    if student.special_care_ct is None:
        return []
    value = student.special_care
    return [str(c) for c in value] if isinstance(value, list) else []


def has_special_care(student: Student) -> bool:
    """Priority marker for queues and dashboards (no decryption when there is none)."""
    return student.special_care_ct is not None and bool(get_special_care(student))


# SQL expression for ordering/filtering queues: True when the student has any category
# (set_special_care stores NULL, never an empty list).
special_care_marker = Student.special_care_ct.is_not(None)


def set_special_care(
    session: Session, actor: Principal | None, student: Student, codes: Iterable[str]
) -> list[str]:
    """Replace the student's special-care categories with ``codes`` (codes of the district's
    policy). Audited with the count only: even the codes are sensitive."""
    if actor is not None:
        ensure(actor, Permission.SPECIAL_CARE_MANAGE, student)
    policy: Policy = policy_for_student(session, student)
    wanted = set(codes)
    held = get_special_care(student)
    if wanted - set(policy.special_care_codes) - set(held):
        raise TierError("unknown special-care category")
    # Codes the district no longer lists stay while kept (history), then the policy's order.
    kept = [c for c in held if c not in policy.special_care_codes and c in wanted]
    ordered = kept + [c for c in policy.special_care_codes if c in wanted]
    student.special_care = ordered or None
    session.flush()
    audit.record(
        session,
        AuditAction.SPECIAL_CARE_CHANGE,
        object_type="student",
        object_id=student.id,
        student_id=student.id,
        school_id=student.school_id,
        fields=["special_care"],
        detail={"count": len(ordered)},
    )
    return ordered


__all__ = [
    "PolicyError",
    "RuleDecision",
    "TierError",
    "apply_rule_tiers",
    "apply_tier",
    "approve_stepdown",
    "get_special_care",
    "has_special_care",
    "reject_stepdown",
    "replay",
    "save_policy",
    "set_special_care",
    "special_care_marker",
    "tier_history",
    "view_tier",
]
