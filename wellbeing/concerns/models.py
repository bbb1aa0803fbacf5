"""Concerns reported by staff, and calls to the district hotline.

Plaintext: ids, school, urgency (it routes the concern), state and who/when. Encrypted: the
category and what was seen (content about a child), the hotline call's topics and notes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states
from ..db import Base, UTCDateTime, created_at, uuidpk

CATEGORIES = ("mood", "self_harm_signs", "behaviour", "bullying", "family", "academic", "other")
URGENCIES = ("routine", "soon", "immediate_danger")


class ConcernState(StrEnum):
    """new → seen → acted (new → acted is allowed: acting implies seeing)."""

    NEW = "new"
    SEEN = "seen"
    ACTED = "acted"


CONCERN_STATES = Transitions(
    ConcernState,
    {
        ConcernState.NEW: {ConcernState.SEEN, ConcernState.ACTED},
        ConcernState.SEEN: {ConcernState.ACTED},
    },
)
label_states(
    {ConcernState.NEW: _l("New"), ConcernState.SEEN: _l("Seen"), ConcernState.ACTED: _l("Acted on")}
)
STATES = tuple(ConcernState)
OPEN = "open"  # the queue's filter (not a state): every concern not acted on yet
SOURCES = ("staff", "hotline")

CALLER_TYPES = ("student", "guardian", "teacher", "other")
HOTLINE_TOPICS = (
    "mood", "anxiety", "self_harm", "family", "bullying", "academic", "relationships", "other",
)  # fmt: skip
RISK_LEVELS = (0, 1, 2, 3)  # the tier scale: green, yellow, orange, red


class Concern(Base):
    __tablename__ = "concern"
    __table_args__ = (
        Index("ix_concern_school_state_created", "school_id", "state", "created_at"),
        Index("ix_concern_reporter_created", "reporter_id", "created_at"),
        Index("ix_concern_student_created", "student_id", "created_at"),
        Index("ix_concern_created", "created_at"),
        CONCERN_STATES.check("state"),
    )

    id: Mapped[uuidpk]
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    reporter_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    source: Mapped[str] = mapped_column(String(12), default="staff")
    hotline_call_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("hotline_call.id"))
    urgency: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(12), default=ConcernState.NEW)
    # The alert an urgent concern raised or joined (one event, one acknowledgement).
    alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alert.id"), index=True)
    # The tier the concern's rule raised the student to (None: no change).
    raised_to: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[created_at]
    seen_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    seen_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    acted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    acted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))

    category_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    text_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    action_note_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)

    category = Encrypted("category_ct", Kind.TEXT, Purpose.CLINICAL)
    text = Encrypted("text_ct", Kind.TEXT, Purpose.CLINICAL)
    action_note = Encrypted("action_note_ct", Kind.TEXT, Purpose.CLINICAL)

    @property
    def is_new(self) -> bool:
        return self.state == ConcernState.NEW

    @property
    def is_acted(self) -> bool:
        return self.state == ConcernState.ACTED


class HotlineCall(Base):
    """One call to the district hotline (心理咨询热线). Anonymous calls have no student."""

    __tablename__ = "hotline_call"
    __table_args__ = (Index("ix_hotline_call_district_called", "district_id", "called_at"),)

    id: Mapped[uuidpk]
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"))
    counsellor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    called_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    duration_minutes: Mapped[int] = mapped_column(SmallInteger)
    caller_type: Mapped[str] = mapped_column(String(12))
    anonymous: Mapped[bool] = mapped_column(default=True)
    risk_level: Mapped[int] = mapped_column(SmallInteger, default=0)
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school.id"))
    student_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("student.id"), index=True)
    created_at: Mapped[created_at]

    topics_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    notes_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)

    topics = Encrypted("topics_ct", Kind.JSON, Purpose.CLINICAL)
    notes = Encrypted("notes_ct", Kind.TEXT, Purpose.CLINICAL)
