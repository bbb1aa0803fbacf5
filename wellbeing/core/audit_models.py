"""Audit entries (append-only, HMAC-chained when sealed), checkpoints and break-glass grants.

The tables are declared here in ``core`` rather than in the ``audit`` module because
:mod:`wellbeing.core.audit` writes, seals and verifies them and ``core`` is the ground floor:
it imports no domain module. Declaring the models below their user is simpler than a
registration hook (core would otherwise hold a model it cannot name until a domain module hands
it over at import time). :mod:`wellbeing.audit.models` re-exports them for the audit module.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, created_at, uuidpk
from .crypto import Purpose
from .fields import Encrypted, EncryptedBlob, Kind
from .states import Transitions, label_states


class AuditEntry(Base):
    __tablename__ = "audit_entry"
    # The console filters by one of these and pages by (occurred_at, id) descending: each index
    # ends with both, so a filtered page is one index range scan on SQLite and PostgreSQL.
    __table_args__ = (
        Index("ix_audit_entry_time_id", "occurred_at", "id"),
        Index("ix_audit_entry_student_time", "student_id", "occurred_at", "id"),
        Index("ix_audit_entry_actor_time", "actor_user_id", "occurred_at", "id"),
        Index("ix_audit_entry_school_time", "school_id", "occurred_at", "id"),
        Index("ix_audit_entry_action_time", "action", "occurred_at", "id"),
        Index("ix_audit_entry_outcome_time", "outcome", "occurred_at", "id"),
        Index("ix_audit_entry_break_glass", "break_glass_id", "occurred_at", "id"),
        Index("ix_audit_entry_request", "request_id"),
        # The sequencer's work list: entries not sealed yet, in insertion order.
        Index(
            "ix_audit_entry_unsealed", "id",
            postgresql_where=text("seq IS NULL"), sqlite_where=text("seq IS NULL"),
        ),
    )  # fmt: skip

    # Insertion order; the chain order is ``seq``, assigned when the sequencer seals the entry.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    mac: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    actor_username: Mapped[str | None] = mapped_column(String(64))
    actor_role: Mapped[str | None] = mapped_column(String(20))
    actor_scope: Mapped[str | None] = mapped_column(String(120))
    session_hash: Mapped[str | None] = mapped_column(String(16))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    student_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    school_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    purpose: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(10), default="allowed")
    break_glass_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class AuditCheckpoint(Base):
    """A signed statement of the chain head; also written as a file for off-site keeping."""

    __tablename__ = "audit_checkpoint"

    id: Mapped[uuidpk]
    seq: Mapped[int] = mapped_column(BigInteger)
    head_mac: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)
    path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[created_at]


class AuditVerification(Base):
    """Result of the last ``audit verify`` runs, for the supervisor's integrity panel."""

    __tablename__ = "audit_verification"

    id: Mapped[uuidpk]
    ok: Mapped[bool]
    checked: Mapped[int] = mapped_column(BigInteger)
    unsealed: Mapped[int] = mapped_column(BigInteger)
    first_bad_seq: Mapped[int | None] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[created_at]
    # Migration 0012: how the run walked the chain ("full" or from a "checkpoint"), the range of
    # sequence numbers it covered, the MAC at its end, how long it took, and a MAC under the
    # audit key over (mode, range, head) that lets a later run start from this one's range.
    mode: Mapped[str] = mapped_column(String(10), default="full", server_default="full")
    from_seq: Mapped[int | None] = mapped_column(BigInteger)
    to_seq: Mapped[int | None] = mapped_column(BigInteger)
    head_mac: Mapped[str | None] = mapped_column(String(64))
    seconds: Mapped[float | None] = mapped_column(Float)
    tag: Mapped[str | None] = mapped_column(String(64))


class BreakGlassState(StrEnum):
    """A grant is active until its holder (or a supervisor) ends it early ("ended") or it runs
    out ("expired", recorded by the scheduler's expiry job). Access itself stops at
    ``expires_at`` whatever the state says; the state records how it stopped."""

    ACTIVE = "active"
    ENDED = "ended"
    EXPIRED = "expired"


BREAK_GLASS_STATES = Transitions(
    BreakGlassState,
    {BreakGlassState.ACTIVE: {BreakGlassState.ENDED, BreakGlassState.EXPIRED}},
)
label_states(
    {
        BreakGlassState.ACTIVE: _l("active"),
        BreakGlassState.ENDED: _l("ended"),
        BreakGlassState.EXPIRED: _l("expired"),
    }
)


class BreakGlass(Base):
    """Time-boxed access to one student outside the actor's scope, with a written reason."""

    __tablename__ = "break_glass"
    __table_args__ = (
        BREAK_GLASS_STATES.check("state"),
        Index("ix_break_glass_user_student", "user_id", "student_id", "expires_at"),
        Index("ix_break_glass_review", "reviewed_at", "started_at"),
    )

    id: Mapped[uuidpk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    started_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(10), default=BreakGlassState.ACTIVE)
    reason_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    reason = Encrypted("reason_ct", Kind.TEXT, Purpose.CLINICAL)
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    review_comment_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    review_comment = Encrypted("review_comment_ct", Kind.TEXT, Purpose.CLINICAL)
