"""Alerts: something a person must acknowledge, climbing an escalation ladder until someone does.

Only operational metadata is plaintext (kind, ids, tier, state, times, rung). The resolution
note is encrypted. Each rung reached is an :class:`AlertStep`; each person notified on a step
by a channel (in-app inbox, email) is an :class:`AlertRecipient`; :class:`AlertInbox` is the
one row per (alert, user) behind the inbox list and its navigation count.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states
from ..db import Base, UTCDateTime, created_at, utcnow, uuidpk

KINDS = (
    "red_tier", "critical_item", "urgent_concern", "first_response_overdue", "followup_overdue",
    "referral_sla", "break_glass", "plan_review_overdue", "plan_proposal_overdue",
    "student_transferred_in",
)  # fmt: skip


class AlertState(StrEnum):
    """open (climbing the ladder) → acknowledged (someone took it) → resolved (with a note)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


ALERT_STATES = Transitions(
    AlertState,
    {AlertState.OPEN: {AlertState.ACKNOWLEDGED}, AlertState.ACKNOWLEDGED: {AlertState.RESOLVED}},
)
label_states(
    {
        AlertState.OPEN: _l("Open"),
        AlertState.ACKNOWLEDGED: _l("Acknowledged"),
        AlertState.RESOLVED: _l("Resolved"),
    }
)
STATES = tuple(AlertState)
UNRESOLVED = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
CHANNELS = ("inbox", "email")
STEP_KINDS = ("raise", "escalate", "widen", "remind")


class Alert(Base):
    __tablename__ = "alert"
    __table_args__ = (
        # The escalation scan reads only open rows whose next rung is due.
        Index("ix_alert_state_next_step", "state", "next_step_at"),
        # Overdue counts (dashboards) read open rows past their response time.
        Index("ix_alert_state_due", "state", "due_at"),
        Index("ix_alert_kind_source", "kind", "source_id", "state"),
        Index("ix_alert_school_state", "school_id", "state"),
        Index("ix_alert_district_state", "district_id", "state", "raised_at"),
        Index("ix_alert_raised_at", "raised_at"),  # district-wide trends and SLA figures
        ALERT_STATES.check("state"),
    )

    id: Mapped[uuidpk]
    kind: Mapped[str] = mapped_column(String(24))
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"))
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school.id"))
    student_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("student.id"), index=True)
    source_id: Mapped[uuid.UUID | None] = mapped_column()
    # "<kind>:<source or student>" while unresolved, NULL after: one unresolved alert per source.
    dedupe_key: Mapped[str | None] = mapped_column(String(80), unique=True)
    tier: Mapped[int | None] = mapped_column(SmallInteger)
    state: Mapped[str] = mapped_column(String(16), default=AlertState.OPEN)
    raised_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # First response due (policy response time for the tier).
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # Index into the ladder of the last rung notified; next_step_at is when the scan acts next
    # (NULL once acknowledged or resolved).
    rung: Mapped[int] = mapped_column(SmallInteger, default=0)
    next_step_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reminders: Mapped[int] = mapped_column(default=0)
    acknowledged_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolution_note_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    resolution_note = Encrypted("resolution_note_ct", Kind.TEXT, Purpose.CLINICAL)
    created_at: Mapped[created_at]

    @property
    def is_open(self) -> bool:
        return self.state == AlertState.OPEN

    @property
    def is_acknowledged(self) -> bool:
        """Acknowledged and not yet resolved."""
        return self.state == AlertState.ACKNOWLEDGED


class AlertStep(Base):
    """One rung reached (or a reminder on the top rung): which role, when, why."""

    __tablename__ = "alert_step"
    __table_args__ = (Index("ix_alert_step_alert", "alert_id", "at"),)

    id: Mapped[uuidpk]
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"))
    rung: Mapped[int] = mapped_column(SmallInteger)
    role: Mapped[str] = mapped_column(String(20))
    step: Mapped[str] = mapped_column(String(12))  # raise | escalate | widen | remind
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    recipient_count: Mapped[int] = mapped_column(default=0)


class AlertRecipient(Base):
    """Who was notified on a step, when, and by which channel (one row per channel)."""

    __tablename__ = "alert_recipient"
    __table_args__ = (
        Index("ix_alert_recipient_alert_user", "alert_id", "user_id"),
        Index("ix_alert_recipient_step", "step_id"),
    )

    id: Mapped[uuidpk]
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"))
    step_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert_step.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    rung: Mapped[int] = mapped_column(SmallInteger)
    channel: Mapped[str] = mapped_column(String(8))  # inbox | email
    notified_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    outbox_id: Mapped[uuid.UUID | None] = mapped_column()  # the queued email, when any


class AlertInbox(Base):
    """One row per (alert, user) in someone's inbox; ``is_open`` mirrors the alert's state so
    the navigation count is one indexed COUNT."""

    __tablename__ = "alert_inbox"
    __table_args__ = (
        UniqueConstraint("alert_id", "user_id"),
        Index("ix_alert_inbox_user_open", "user_id", "is_open", "added_at"),
    )

    id: Mapped[uuidpk]
    alert_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("alert.id"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    is_open: Mapped[bool] = mapped_column(default=True)
    added_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
