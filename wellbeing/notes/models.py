"""Counselling notes and their addenda.

Plaintext: ids, student and school, author, the session's date, type and duration, whether the
note is restricted, its state and the times it was written, signed and locked, the tier a risk
assessment proposed (a number, for the risk service), the decision that proposal made.
Encrypted: what was said and done (``content``), the risk-assessment checklist (which items
were present) and every addendum's text.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import Boolean, Date, ForeignKey, Index, SmallInteger, String, event, inspect
from sqlalchemy.orm import Mapped, Session, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states
from ..db import Base, UTCDateTime, created_at, uuidpk

# How long a draft may be edited and signed on time, from when it was first saved.
DRAFT_HOURS = 24
NOTE_TYPES = ("individual", "group", "guardian", "teacher", "phone")
# The structured risk assessment: items the author ticks when present.
RISK_ITEMS = (
    "suicidal_thoughts", "suicide_plan", "self_harm", "previous_attempt", "hopelessness",
    "access_to_means", "substance_use", "harm_to_others", "abuse_or_neglect", "protective_factors",
)  # fmt: skip
MAX_CONTENT = 8000
MAX_DURATION = 600  # minutes


class NoteState(StrEnum):
    """draft (its author edits it, only they see it) → signed (locked by its author for good).

    A draft not signed within ``DRAFT_HOURS`` is ``locked``: its text is frozen as it was and
    the record shows it as unsigned; its author may still sign it ("signed late"), which never
    changes its text."""

    DRAFT = "draft"
    SIGNED = "signed"
    LOCKED = "locked"


NOTE_STATES = Transitions(
    NoteState,
    {
        NoteState.DRAFT: {NoteState.SIGNED, NoteState.LOCKED},
        NoteState.LOCKED: {NoteState.SIGNED},
    },
)
label_states(
    {
        NoteState.DRAFT: _l("Draft"),
        NoteState.SIGNED: _l("Signed"),
        NoteState.LOCKED: _l("Locked unsigned"),
    }
)
# Columns that never change once a note has left the draft state (the immutability guard).
FROZEN_COLUMNS = (
    "content_ct", "checklist_ct", "session_date", "note_type", "duration_minutes", "restricted",
    "proposed_tier", "student_id", "school_id", "author_id", "created_at",
)  # fmt: skip


class CounsellingNote(Base):
    __tablename__ = "counselling_note"
    __table_args__ = (
        Index("ix_counselling_note_student_date", "student_id", "session_date"),
        Index("ix_counselling_note_state_created", "state", "created_at"),
        NOTE_STATES.check("state"),
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    state: Mapped[str] = mapped_column(String(10), default=NoteState.DRAFT)
    session_date: Mapped[dt.date] = mapped_column(Date)
    note_type: Mapped[str] = mapped_column(String(12))
    duration_minutes: Mapped[int] = mapped_column(SmallInteger)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    # The tier the risk assessment proposed, and the decision it made through the risk service.
    proposed_tier: Mapped[int | None] = mapped_column(SmallInteger)
    decision_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tier_decision.id"))
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    content_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    content = Encrypted("content_ct", Kind.TEXT, Purpose.CLINICAL)
    checklist_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    checklist = Encrypted("checklist_ct", Kind.JSON, Purpose.CLINICAL)

    @property
    def deadline(self) -> dt.datetime:
        """When a draft stops being editable."""
        return self.created_at + dt.timedelta(hours=DRAFT_HOURS)

    @property
    def signed_late(self) -> bool:
        return self.signed_at is not None and self.signed_at > self.deadline


class NoteAddendum(Base):
    """A correction or later addition to a note that is no longer a draft (append-only)."""

    __tablename__ = "note_addendum"
    __table_args__ = (Index("ix_note_addendum_note_created", "note_id", "created_at"),)

    id: Mapped[uuidpk]
    note_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("counselling_note.id"))
    author_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]
    text_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    text = Encrypted("text_ct", Kind.TEXT, Purpose.CLINICAL)


class NoteLocked(RuntimeError):
    """A flush would change a note that is no longer a draft, or an addendum (a bug: the
    services never do; this is the last guard before the database)."""


def _old_state(note: CounsellingNote) -> str | None:
    history = inspect(note).attrs.state.history
    if history.deleted:
        return str(history.deleted[0])
    return None if inspect(note).pending else note.state


@event.listens_for(Session, "before_flush")
def _guard_locked_notes(session: Session, _context: object, _instances: object) -> None:
    """No UPDATE of a signed or locked note's content, and no UPDATE or DELETE of an addendum,
    reaches the database, whatever code path tries (the services refuse earlier, with words)."""
    for obj in session.deleted:
        if isinstance(obj, CounsellingNote | NoteAddendum):
            raise NoteLocked(f"{type(obj).__name__} rows are never deleted")
    for obj in session.dirty:
        if isinstance(obj, NoteAddendum) and session.is_modified(obj):
            raise NoteLocked("an addendum is never changed")
        if not isinstance(obj, CounsellingNote) or _old_state(obj) == NoteState.DRAFT:
            continue
        attrs = inspect(obj).attrs
        changed = [name for name in FROZEN_COLUMNS if attrs[name].history.has_changes()]
        if changed:
            raise NoteLocked(f"counselling note {obj.id} is {_old_state(obj)}: {changed} frozen")
