"""The e-mail outbox and in-app notices.

Outbox subjects and bodies are staff-facing and carry no child data by construction (callers
write "a student at your school needs attention: <link>"). The recipient address is staff
contact data: it is encrypted (Purpose.ACCOUNT) so that a copy of the outbox table, which keeps
sent messages for a while, is not a mailing list.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..db import Base, UTCDateTime, created_at, uuidpk

PENDING, SENT, FAILED = "pending", "sent", "failed"
OUTBOX_STATES = (PENDING, SENT, FAILED)


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_state_next", "state", "next_attempt_at"),)

    id: Mapped[uuidpk]
    kind: Mapped[str] = mapped_column(String(40))  # e.g. "alert", "digest"
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    recipient_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    recipient = Encrypted("recipient_ct", Kind.TEXT, Purpose.ACCOUNT)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(40))  # a code, never server text
    created_at: Mapped[created_at]
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Notice(Base):
    """An in-app notice for one user: a kind and parameters (counts, ids), rendered in the
    reader's language at display time. ``ref`` makes a notice idempotent (e.g. the digest date)."""

    __tablename__ = "notice"
    __table_args__ = (
        Index("ix_notice_user_kind_ref", "user_id", "kind", "ref", unique=True),
        Index("ix_notice_user_read", "user_id", "read_at"),
    )

    id: Mapped[uuidpk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[created_at]
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
