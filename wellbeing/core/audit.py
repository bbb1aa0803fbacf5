"""The audit trail: recording, sealing into an HMAC chain, checkpoints and verification.

Entries are written in the same transaction as what they record, unsealed (``seq`` NULL), so
requests never wait on the chain head. The sequencer (:func:`seal_pending`, run by the
scheduler every few seconds and first thing by ``audit checkpoint``/``verify``) takes committed
unsealed entries in insertion order, gives them consecutive ``seq`` numbers and chains
``mac_n = HMAC(audit_key, mac_{n-1} || canonical(entry_n))``.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import enum
import json
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flask import g, has_request_context
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..audit.models import AuditCheckpoint, AuditEntry, AuditVerification
from ..db import Database, utcnow
from . import crypto

GENESIS = b"\x00" * 32


class AuditAction(enum.StrEnum):
    """Every audit tag, ``source:subject:action``."""

    LOGIN = "auth:session:login"
    LOGIN_FAILED = "auth:session:login_failed"
    LOGOUT = "auth:session:logout"
    SESSION_REVOKED = "auth:session:revoked"
    PASSWORD_CHANGE = "auth:password:change"
    MFA_ENROL = "auth:mfa:enrol"
    MFA_RESET = "auth:mfa:reset"
    REAUTH_FAILED = "auth:reauth:failed"
    TOKEN_CREATE = "auth:token:create"
    TOKEN_REVOKE = "auth:token:revoke"
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
    ROSTER_IMPORT = "admin:roster:import"
    STUDENT_LIST = "case:student:list"
    STUDENT_SEARCH = "case:student:search"
    STUDENT_VIEW = "case:student:view"
    STUDENT_UPDATE = "case:student:update"
    STUDENT_TRANSFER = "case:student:transfer"
    RECORD_EXPORT = "case:record:export"
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
    KEYS_INIT = "system:keys:init"
    KEYS_ROTATE = "system:keys:rotate"
    KEYS_REWRAP = "system:keys:rewrap"
    AUDIT_SEARCH = "audit:trail:search"
    AUDIT_EXPORT = "audit:trail:export"
    AUDIT_CHECKPOINT = "audit:trail:checkpoint"
    AUDIT_VERIFY = "audit:trail:verify"
    CALENDAR_TOKEN = "auth:calendar_token:change"
    FOLLOWUP_CANCEL = "case:followup:cancel"
    EMAIL_FAILED = "system:email:failed"


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
    who = actor or current_actor()
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


def canonical(entry: AuditEntry, seq: int) -> bytes:
    """The bytes the MAC covers: every recorded field plus the sequence number."""
    doc: dict[str, Any] = {"seq": seq}
    for name in _CHAINED_FIELDS:
        value = getattr(entry, name)
        if isinstance(value, uuid.UUID):
            value = str(value)
        elif isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).isoformat(timespec="microseconds")
        doc[name] = value
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _lock_chain(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(727001)"))
    # SQLite: the transaction already holds the write lock (BEGIN IMMEDIATE).


def _chain_head(session: Session) -> tuple[int, bytes]:
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.mac).where(AuditEntry.seq.is_not(None))
        .order_by(AuditEntry.seq.desc()).limit(1)
    ).first()  # fmt: skip
    return (0, GENESIS) if row is None else (row[0], row[1])


def seal_pending(db: Database, batch_size: int = 5000) -> int:
    """Seal committed unsealed entries in insertion order; returns how many were sealed."""
    keyring = crypto.current_keyring()
    sealed = 0
    while True:
        with db.session() as session:
            _lock_chain(session)
            seq, mac = _chain_head(session)
            pending = session.scalars(
                select(AuditEntry).where(AuditEntry.seq.is_(None))
                .order_by(AuditEntry.id).limit(batch_size)
            ).all()  # fmt: skip
            for entry in pending:
                seq += 1
                mac = keyring.audit_mac(mac, canonical(entry, seq))
                entry.seq, entry.mac = seq, mac
            sealed += len(pending)
        if len(pending) < batch_size:
            return sealed


@dataclass
class Checkpoint:
    seq: int
    head_mac: str
    created: str
    public_key: str
    signature: str = ""

    def payload(self) -> bytes:
        return f"wellbeing-audit-checkpoint|{self.seq}|{self.head_mac}|{self.created}".encode()

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        return cls(**json.loads(path.read_text(encoding="utf-8")))


def write_checkpoint(db: Database, directory: Path) -> Checkpoint:
    """Seal everything committed, then sign the chain head into ``directory``."""
    seal_pending(db)
    keyring = crypto.current_keyring()
    with db.session() as session:
        seq, mac = _chain_head(session)
        cp = Checkpoint(seq, mac.hex(), utcnow().isoformat(), keyring.public_key_pem())
        cp.signature = base64.b64encode(keyring.sign(cp.payload())).decode()
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"checkpoint-{seq:012d}-{utcnow():%Y%m%dT%H%M%S}.json"
        path.write_text(json.dumps(asdict(cp), indent=2), encoding="utf-8")
        session.add(AuditCheckpoint(seq=seq, head_mac=cp.head_mac, signature=cp.signature, path=str(path)))
        record(session, AuditAction.AUDIT_CHECKPOINT, object_type="checkpoint", detail={"seq": seq})
    return cp


def latest_checkpoint_file(directory: Path) -> Path | None:
    files = sorted(directory.glob("checkpoint-*.json")) if directory.is_dir() else []
    return files[-1] if files else None


@dataclass
class VerifyResult:
    ok: bool
    checked: int
    unsealed: int
    first_bad_seq: int | None = None
    message: str = "intact"


def _iter_sealed(session: Session, batch: int = 10000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq or last
        session.expunge_all()


def verify_chain(session: Session, checkpoint: Checkpoint | None = None) -> VerifyResult:
    """Walk the sealed chain; name the first entry that breaks it."""
    keyring = crypto.current_keyring()
    unsealed = session.scalar(select(func.count()).where(AuditEntry.seq.is_(None))) or 0
    if checkpoint is not None and not crypto.verify_signature(
        checkpoint.public_key, base64.b64decode(checkpoint.signature), checkpoint.payload()
    ):
        return VerifyResult(False, 0, unsealed, None, "checkpoint signature is invalid")
    if checkpoint is not None and checkpoint.public_key != keyring.public_key_pem():
        return VerifyResult(False, 0, unsealed, None, "checkpoint was signed by another key")
    mac, expected_seq, checked = GENESIS, 1, 0
    checkpoint_seen = checkpoint is None or checkpoint.seq == 0
    for entry in _iter_sealed(session):
        if entry.seq != expected_seq:
            return VerifyResult(
                False, checked, unsealed, expected_seq,
                f"entry seq {expected_seq} is missing (next is {entry.seq}, id {entry.id})",
            )  # fmt: skip
        mac = keyring.audit_mac(mac, canonical(entry, entry.seq))
        if entry.mac != mac:
            return VerifyResult(
                False, checked, unsealed, entry.seq,
                f"entry seq {entry.seq} (id {entry.id}) does not match the chain",
            )  # fmt: skip
        if checkpoint is not None and entry.seq == checkpoint.seq:
            if mac.hex() != checkpoint.head_mac:
                return VerifyResult(
                    False, checked, unsealed, entry.seq,
                    f"entry seq {entry.seq} differs from the checkpoint",
                )  # fmt: skip
            checkpoint_seen = True
        checked += 1
        expected_seq += 1
    if not checkpoint_seen:
        return VerifyResult(
            False, checked, unsealed, checked + 1,
            f"chain ends at seq {checked} but the checkpoint covers seq {checkpoint.seq}"  # type: ignore[union-attr]
            " (truncated tail)",
        )  # fmt: skip
    return VerifyResult(True, checked, unsealed)


def verify_and_record(db: Database, checkpoint: Checkpoint | None) -> VerifyResult:
    seal_pending(db)
    with db.session() as session:
        result = verify_chain(session, checkpoint)
    with db.session() as session:
        session.add(
            AuditVerification(
                ok=result.ok, checked=result.checked, unsealed=result.unsealed,
                first_bad_seq=result.first_bad_seq, message=result.message[:300],
            )
        )  # fmt: skip
        record(
            session, AuditAction.AUDIT_VERIFY, object_type="chain",
            outcome=Outcome.ALLOWED if result.ok else Outcome.ERROR,
            detail={"checked": result.checked, "first_bad_seq": result.first_bad_seq},
        )  # fmt: skip
    return result
