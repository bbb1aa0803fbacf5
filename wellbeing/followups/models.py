"""Follow-ups and per-user calendar feed tokens.

A follow-up has a plaintext state machine (open → done | overdue | cancelled; overdue → done |
cancelled) and due time, so scans read due rows through ``ix_followup_state_due`` and the agenda
reads one owner's rows through ``ix_followup_owner_state_due``. The completion note is clinical
content and is encrypted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states
from ..db import Base, UTCDateTime, created_at, uuidpk


class FollowUpState(StrEnum):
    OPEN = "open"
    DONE = "done"
    OVERDUE = "overdue"
    CANCELLED = "cancelled"


OPEN, DONE, OVERDUE, CANCELLED = (
    FollowUpState.OPEN,
    FollowUpState.DONE,
    FollowUpState.OVERDUE,
    FollowUpState.CANCELLED,
)
FOLLOWUP_STATES = Transitions(
    FollowUpState,
    {
        OPEN: {DONE, OVERDUE, CANCELLED},
        OVERDUE: {DONE, CANCELLED},
    },
)
STATES = tuple(FollowUpState)
# Not closed yet: the states the scan, the agenda and the bulk cancel read (open, overdue).
ACTIVE_STATES = tuple(s for s in FollowUpState if s not in FOLLOWUP_STATES.terminal())
STATE_LABELS = {
    OPEN: _l("Not yet done"),
    OVERDUE: _l("Overdue"),
    DONE: _l("Done"),
    CANCELLED: _l("Cancelled"),
}
label_states(STATE_LABELS)
SOURCES = ("cadence", "manual", "plan", "review")
OUTCOMES = ("seen", "not_seen", "rescheduled")
NOTE_MAX = 2000  # characters in a follow-up note


class FollowUp(Base):
    __tablename__ = "followup"
    __table_args__ = (
        FOLLOWUP_STATES.check("state"),
        Index("ix_followup_state_due", "state", "due_at"),
        Index("ix_followup_owner_state_due", "owner_id", "state", "due_at"),
        Index("ix_followup_student_state", "student_id", "state"),
        Index("ix_followup_school_state_due", "school_id", "state", "due_at"),  # dashboards
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(12))
    source_id: Mapped[uuid.UUID | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(12), default=OPEN)
    outcome: Mapped[str | None] = mapped_column(String(12))
    note_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    note = Encrypted("note_ct", Kind.TEXT, Purpose.CLINICAL)
    created_at: Mapped[created_at]
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    completed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CalendarToken(Base):
    """The secret of one user's iCalendar feed, stored as a digest; one live token per user."""

    __tablename__ = "calendar_token"

    id: Mapped[uuidpk]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[created_at]
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
