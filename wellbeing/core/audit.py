"""The audit trail: recording, sealing into an HMAC chain, checkpoints and verification.

Entries are written in the same transaction as what they record, unsealed (``seq`` NULL), so
requests never wait on the chain head. The sequencer (:func:`seal_pending`, run by the
scheduler every few seconds and first thing by ``audit checkpoint``/``verify``) takes committed
unsealed entries in insertion order, gives them consecutive ``seq`` numbers and chains
``mac_n = HMAC(audit_key, mac_{n-1} || canonical(entry_n))``.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import enum
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context
from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.orm import Session

from ..db import Database, table_of, utcnow
from . import crypto
from .audit_models import AuditEntry, BreakGlass

GENESIS = b"\x00" * 32


class AuditAction(enum.StrEnum):
    """Every audit tag, ``source:subject:action``."""

    LOGIN = "auth:session:login"
    LOGIN_FAILED = "auth:session:login_failed"
    LOGOUT = "auth:session:logout"
    SESSION_REVOKED = "auth:session:revoked"
    PASSWORD_CHANGE = "auth:password:change"  # noqa: S105 (an audit tag)
    MFA_ENROL = "auth:mfa:enrol"
    MFA_RESET = "auth:mfa:reset"
    MFA_RECOVERY_CODES = "auth:mfa:recovery_codes"
    MFA_RECOVERY_USED = "auth:mfa:recovery_used"
    PASSWORD_RESET = "auth:password:reset"  # noqa: S105 (an audit tag)
    REAUTH_FAILED = "auth:reauth:failed"
    TOKEN_CREATE = "auth:token:create"  # noqa: S105 (an audit tag)
    TOKEN_REVOKE = "auth:token:revoke"  # noqa: S105 (an audit tag)
    LOCALE_CHANGE = "auth:locale:change"
    ACCESS_DENIED = "access:route:denied"
    BREAK_GLASS_START = "access:breakglass:start"
    BREAK_GLASS_END = "access:breakglass:end"
    BREAK_GLASS_REVIEW = "access:breakglass:review"
    SCHOOL_CREATE = "admin:school:create"
    SCHOOL_UPDATE = "admin:school:update"
    CLASS_CREATE = "admin:class:create"
    USER_CREATE = "admin:user:create"
    USER_UPDATE = "admin:user:update"
    USER_DISABLE = "admin:user:disable"
    MEMBERSHIP_GRANT = "admin:membership:grant"
    MEMBERSHIP_REVOKE = "admin:membership:revoke"
    POLICY_CHANGE = "admin:policy:change"
    PARTNER_CHANGE = "admin:partner:change"
    REFERRAL_CREATE = "case:referral:create"
    REFERRAL_UPDATE = "case:referral:update"
    REFERRAL_MOVE = "case:referral:move"
    REFERRAL_VIEW = "case:referral:view"
    REFERRAL_OVERRIDE = "case:referral:consent_override"
    REFERRAL_ACCESS_CUT = "case:referral:access_cut"
    REFERRAL_PRINT = "case:referral:print"  # the referral letter (转介单)
    REFERRAL_EXPORT = "case:referral:export"  # the FHIR download
    ROSTER_IMPORT = "admin:roster:import"
    STUDENT_LIST = "case:student:list"
    STUDENT_SEARCH = "case:student:search"
    STUDENT_VIEW = "case:student:view"
    STUDENT_UPDATE = "case:student:update"
    STUDENT_TRANSFER = "case:student:transfer"
    RECORD_EXPORT = "case:record:export"
    GUARDIAN_COPY = "case:guardian_copy:export"  # the record copied for a guardian (PIPL)
    SCREENING_CAMPAIGN = "case:campaign:change"
    SCREENING_IMPORT = "case:screening:import"
    SCREENING_RESPONSE = "case:screening:create"
    SCREENING_VIEW = "case:screening:view"
    SCREENING_LIST = "case:screening:list"
    TIER_CHANGE = "case:tier:change"
    TIER_CONFIRM = "case:tier:confirm"
    TIER_VIEW = "case:tier:view"
    ALERT_CREATE = "case:alert:create"
    ALERT_VIEW = "case:alert:view"
    ALERT_ACK = "case:alert:acknowledge"
    ALERT_RESOLVE = "case:alert:resolve"
    ALERT_ESCALATE = "case:alert:escalate"
    ALERT_LIST = "case:alert:list"
    CONCERN_CREATE = "case:concern:create"
    CONCERN_VIEW = "case:concern:view"
    CONCERN_UPDATE = "case:concern:update"
    HOTLINE_VIEW = "case:hotline:view"
    GUARDIAN_CONTACT_VIEW = "case:guardian_contact:view"
    HOTLINE_CALL = "case:hotline:create"
    CRISIS_UPDATE = "case:crisis:update"
    CRISIS_VIEW = "case:crisis:view"
    GUARDIAN_CONTACT = "case:guardian_contact:create"
    SPECIAL_CARE_CHANGE = "case:special_care:change"
    FOLLOWUP_CREATE = "case:followup:create"
    FOLLOWUP_COMPLETE = "case:followup:complete"
    FOLLOWUP_VIEW = "case:followup:view"
    DASHBOARD_VIEW = "stats:dashboard:view"
    REPORT_RELEASE = "stats:report:release"  # an export or print, in the release ledger
    REPORT_VIEW = "stats:report:view"  # a report page (issue 16)
    REPORT_EXPORT = "stats:report:export"  # a report downloaded as CSV or XLSX
    REPORT_PRINT = "stats:report:print"  # a report opened for printing
    KEYS_INIT = "system:keys:init"
    KEYS_ROTATE = "system:keys:rotate"
    KEYS_REWRAP = "system:keys:rewrap"
    AUDIT_SEARCH = "audit:trail:search"
    AUDIT_EXPORT = "audit:trail:export"
    AUDIT_CHECKPOINT = "audit:trail:checkpoint"
    AUDIT_VERIFY = "audit:trail:verify"
    AUDIT_STUDENT_VIEW = "audit:trail:student"
    AUDIT_QUEUE_VIEW = "audit:queue:view"
    BREAK_GLASS_VIEW = "audit:breakglass:view"
    CALENDAR_TOKEN = "auth:calendar_token:change"  # noqa: S105 (an audit tag)
    FOLLOWUP_CANCEL = "case:followup:cancel"
    NOTE_CREATE = "case:note:create"
    NOTE_SIGN = "case:note:sign"
    NOTE_LOCK = "case:note:lock"
    NOTE_ADDENDUM = "case:note:addendum"
    NOTE_VIEW = "case:note:view"
    PLAN_VIEW = "case:plan:view"
    PLAN_WRITE = "case:plan:write"
    PLAN_SIGNOFF = "case:plan:signoff"
    TASK_CREATE = "case:plan_task:create"
    TASK_DONE = "case:plan_task:complete"
    TASK_CANCEL = "case:plan_task:cancel"
    TASK_VIEW = "case:plan_task:view"
    EMAIL_FAILED = "system:email:failed"
    STUDENT_LEAVE = "case:student:leave"
    STUDENT_GRADUATE = "case:student:graduate"
    RECORD_SEAL = "case:record:seal"
    RECORD_PURGE = "case:record:purge"
    UNSCREENED_EXPORT = "case:unscreened_list:export"  # names from the coverage report


class Outcome(enum.StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"
    ERROR = "error"


@dataclass(frozen=True)
class Actor:
    """Who acts, as recorded: filled from the request (web/API) or set by CLI and jobs."""

    user_id: uuid.UUID | None = None
    username: str | None = None
    role: str | None = None
    scope: str | None = None
    session_hash: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    break_glass_id: uuid.UUID | None = None


SYSTEM_ACTOR = Actor(username="system", role="system", scope="system")
_cli_actor: contextvars.ContextVar[Actor] = contextvars.ContextVar(
    "wellbeing_actor", default=SYSTEM_ACTOR
)


def set_actor(actor: Actor) -> contextvars.Token[Actor]:
    """Outside requests (CLI, jobs): who the following entries are attributed to."""
    return _cli_actor.set(actor)


def current_actor() -> Actor:
    if has_request_context() and "audit_actor" in g:
        return g.audit_actor
    return _cli_actor.get()


# Detail values must be identifiers, counts or short codes: never free text a person typed,
# so no encrypted field's plaintext can slip into the trail (names are not ASCII codes).
_SAFE_TEXT = re.compile(r"^[A-Za-z0-9_.:/@+=-]{0,80}$")


def _safe_detail(value: Any, path: str = "detail") -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, str):
        if not _SAFE_TEXT.match(value):
            raise ValueError(f"audit {path} must be a code or id, not free text")
        return value
    if isinstance(value, list | tuple | set):
        return [_safe_detail(v, path) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe_detail(v, f"{path}.{k}") for k, v in value.items()}
    raise ValueError(f"audit {path} has an unsupported type {type(value).__name__}")


def record(
    session: Session,
    action: AuditAction,
    *,
    object_type: str | None = None,
    object_id: Any = None,
    student_id: uuid.UUID | None = None,
    school_id: uuid.UUID | None = None,
    fields: Iterable[str] = (),
    detail: dict[str, Any] | None = None,
    purpose: str | None = None,
    outcome: Outcome = Outcome.ALLOWED,
    actor: Actor | None = None,
) -> AuditEntry:
    """Add one entry to ``session`` (committed with the change it records)."""
    who = _with_break_glass(session, actor or current_actor(), student_id)
    entry = AuditEntry(
        occurred_at=utcnow(),
        actor_user_id=who.user_id,
        actor_username=who.username,
        actor_role=who.role,
        actor_scope=who.scope,
        session_hash=who.session_hash,
        ip=who.ip,
        user_agent=(who.user_agent or "")[:200] or None,
        request_id=who.request_id,
        action=str(action),
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        student_id=student_id,
        school_id=school_id,
        fields=sorted(set(fields)),
        detail=_safe_detail(detail or {}),
        purpose=purpose if purpose is None else _safe_detail(purpose, "purpose"),
        outcome=str(outcome),
        break_glass_id=who.break_glass_id,
    )
    session.add(entry)
    if has_request_context():
        g.setdefault("audit_actions", []).append(str(action))
    return entry


def _with_break_glass(session: Session, who: Actor, student_id: Any) -> Actor:
    """In a request whose principal reaches ``student_id`` through a break-glass grant, tag the
    entry with that grant (grants are only given for students outside the user's scope)."""
    if who.break_glass_id is not None or student_id is None or not has_request_context():
        return who
    principal = g.get("principal")
    if principal is None or principal.user_id != who.user_id:
        return who
    if student_id not in principal.break_glass_students:
        return who
    cache: dict[Any, uuid.UUID | None] = g.setdefault("break_glass_grants", {})
    if student_id not in cache:
        cache[student_id] = session.scalar(
            select(BreakGlass.id)
            .where(BreakGlass.user_id == who.user_id, BreakGlass.student_id == student_id,
                   BreakGlass.ended_at.is_(None))
            .order_by(BreakGlass.started_at.desc()).limit(1)
        )  # fmt: skip
    grant_id = cache[student_id]
    return dataclasses.replace(who, break_glass_id=grant_id) if grant_id else who


def record_now(db: Database, action: AuditAction, **kwargs: Any) -> None:
    """Record in a transaction of its own: for events that must survive the request's rollback
    (denied access, failed logins).

    Inside a request that already holds a database session the entry is written right after
    that session ends (see ``wellbeing.web``): opening a second write transaction while the
    first is still open would wait on SQLite's single writer lock."""
    if has_request_context() and "db_session" in g:
        kwargs.setdefault("actor", current_actor())
        g.setdefault("audit_after_request", []).append((action, kwargs))
        g.setdefault("audit_actions", []).append(str(action))
        return
    with db.session() as session:
        record(session, action, **kwargs)


def flush_after_request(db: Database) -> None:
    """Write the entries :func:`record_now` deferred until the request's session ended."""
    pending = g.pop("audit_after_request", None) if has_request_context() else None
    if pending:
        with db.session() as session:
            for action, kwargs in pending:
                record(session, action, **kwargs)


# --------------------------------------------------------------------------- the chain

_CHAINED_FIELDS = (
    "occurred_at", "actor_user_id", "actor_username", "actor_role", "actor_scope",
    "session_hash", "ip", "user_agent", "request_id", "action", "object_type", "object_id",
    "student_id", "school_id", "fields", "detail", "purpose", "outcome", "break_glass_id",
)  # fmt: skip


def canonical(entry: Any, seq: int) -> bytes:
    """The bytes the MAC covers: every recorded field plus the sequence number."""
    return canonical_values([getattr(entry, name) for name in _CHAINED_FIELDS], seq)


def canonical_values(values: Sequence[Any], seq: int) -> bytes:
    """:func:`canonical` of the values of ``_CHAINED_FIELDS``, in that order."""
    doc: dict[str, Any] = {"seq": seq}
    for name, value in zip(_CHAINED_FIELDS, values, strict=True):
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        doc[name] = value
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727001)"))
    # SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE).


def chain_head(session: Session) -> tuple[int, bytes]:
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.mac).where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc()).limit(1)
    ).first()  # fmt: skip
    return (0, GENESIS) if row is None else (row[0], row[1])


ENTRY_TABLE = table_of(AuditEntry)
ENTRY_COLUMNS = [ENTRY_TABLE.c[name] for name in ("id", "seq", "mac", *_CHAINED_FIELDS)]
_SEAL = (
    update(ENTRY_TABLE)
    .where(ENTRY_TABLE.c.id == bindparam("b_id"))
    .values(seq=bindparam("b_seq"), mac=bindparam("b_mac"))
)


_SEAL_PG = text(
    "UPDATE audit_entry SET seq = v.seq, mac = v.mac"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:seqs AS bigint[]), CAST(:macs AS bytea[]))"
    " AS v(id, seq, mac)"
    " WHERE audit_entry.id = v.id AND audit_entry.seq IS NULL"
    " AND audit_entry.id BETWEEN :lo AND :hi"
)


def seal_batch(session: Session, limit: int = 1000) -> int:
    """Seal up to ``limit`` committed unsealed entries inside ``session``'s transaction.

    Only the sequencer takes the chain lock; requests only INSERT unsealed rows, so they never
    wait for it (nor for each other) on the chain head.
    """
    session.flush()
    keyring = crypto.current_keyring()
    lock_chain(session)
    seq, mac = chain_head(session)
    pending = session.execute(
        select(*ENTRY_COLUMNS)
        .where(ENTRY_TABLE.c.seq.is_(None))
        .order_by(ENTRY_TABLE.c.id)
        .limit(limit)
    ).all()
    params = []
    for entry in pending:
        seq += 1
        mac = keyring.audit_mac(mac, canonical_values(entry[3:], seq))
        params.append({"b_id": entry.id, "b_seq": seq, "b_mac": mac})
    if params and session.get_bind().dialect.name == "postgresql":
        # One UPDATE per batch with the batch as three arrays: a round trip per row, or a
        # VALUES list compiled with three bind parameters per row, is what makes sealing slow.
        # "seq IS NULL" and the id range change no result but let the planner read the partial
        # unsealed index instead of scanning the whole trail for its join.
        session.execute(
            _SEAL_PG,
            {
                "ids": [p["b_id"] for p in params], "seqs": [p["b_seq"] for p in params],
                "macs": [p["b_mac"] for p in params], "lo": params[0]["b_id"],
                "hi": params[-1]["b_id"],
            },
            execution_options={"synchronize_session": False},
        )  # fmt: skip
    elif params:  # SQLite: executemany runs in-process, no round trips
        session.execute(_SEAL, params, execution_options={"synchronize_session": False})
    return len(params)


def seal_pending(db: Database, batch_size: int = 1000) -> int:
    """Seal committed unsealed entries in insertion order, one short transaction per batch;
    returns how many were sealed."""
    sealed = 0
    while True:
        with db.session() as session:
            count = seal_batch(session, batch_size)
        sealed += count
        if count < batch_size:
            return sealed


def count_unsealed(session: Session) -> int:
    return (
        session.scalar(
            select(func.count()).select_from(ENTRY_TABLE).where(ENTRY_TABLE.c.seq.is_(None))
        )
        or 0
    )
