"""Crisis checklists and the guardian-contact log.

Plaintext: ids, state, step codes, who/when, the guardian's relation and the channel (codes),
the consent purpose and decision of a contact (codes), the tier confirmed at closing.
Encrypted: what was said to the guardian, step notes and the closing summary.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states, sql_in
from ..db import Base, UTCDateTime, created_at, uuidpk

# The checklist, in order. Every step records who did it and when.
STEPS = (
    "acknowledge", "assessment", "guardian_notified", "safety_plan", "referral", "followup_scheduled",
)  # fmt: skip
# Closing needs these (all of DESIGN.md §3's red first response; "referral" is satisfied by
# "considered" as well as "made").
MANDATORY_STEPS = frozenset(STEPS)
REFERRAL_OUTCOMES = ("considered", "made")
RELATIONS = ("mother", "father", "grandparent", "other_relative", "legal_guardian", "other")
CHANNELS = ("phone", "in_person", "video", "message")
# What a guardian may consent to, and what they may say (DESIGN.md §2: sharing with a partner,
# a referral, a screening). The latest entry per (student, guardian, purpose) is the state.
CONSENT_PURPOSES = ("partner_sharing", "referral", "screening")


class ConsentDecision(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


# The step an acknowledged crisis alert records (one event, one acknowledgement).
FIRST_STEP = STEPS[0]


class CrisisState(StrEnum):
    """open (the checklist runs) → closed (every mandatory step done, tier confirmed).

    The checklist's steps have no life cycle of their own: a step is a row, recorded once."""

    OPEN = "open"
    CLOSED = "closed"


CRISIS_STATES = Transitions(CrisisState, {CrisisState.OPEN: {CrisisState.CLOSED}})
label_states({CrisisState.OPEN: _l("Open"), CrisisState.CLOSED: _l("Closed")})


class Crisis(Base):
    __tablename__ = "crisis"
    __table_args__ = (
        Index("ix_crisis_state_school_opened", "state", "school_id", "opened_at"),
        Index("ix_crisis_student_state", "student_id", "state"),
        Index("ix_crisis_opened", "opened_at"),
        CRISIS_STATES.check("state"),
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    state: Mapped[str] = mapped_column(String(12), default=CrisisState.OPEN)
    opened_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The tier decision that made the student red (rule or person).
    decision_id: Mapped[uuid.UUID | None] = mapped_column()
    # The crisis alert about the student when the crisis opened: acknowledging it records the
    # checklist's first step (the alert page, this crisis and the concern show each other).
    alert_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("alert.id"), index=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    # The tier the closer confirmed (the student's confirmed tier at closing).
    closed_tier: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[created_at]
    closing_summary_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    closing_summary = Encrypted("closing_summary_ct", Kind.TEXT, Purpose.CLINICAL)

    @property
    def is_open(self) -> bool:
        return self.state == CrisisState.OPEN


class CrisisStep(Base):
    __tablename__ = "crisis_step"
    __table_args__ = (UniqueConstraint("crisis_id", "step"),)

    id: Mapped[uuidpk]
    crisis_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("crisis.id"))
    step: Mapped[str] = mapped_column(String(24))
    outcome: Mapped[str | None] = mapped_column(String(16))
    done_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    done_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    guardian_contact_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("guardian_contact.id"))
    followup_id: Mapped[uuid.UUID | None] = mapped_column()
    note_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    note = Encrypted("note_ct", Kind.TEXT, Purpose.CLINICAL)


class GuardianContact(Base):
    """The record's log of every contact with a guardian (in a crisis or not): who told which
    guardian (``relation``) what, when, by which channel, and optionally a consent entry
    (``consent`` for ``consent_purpose``). Append-only: nothing updates or deletes a row; the
    consent state is derived from the latest entry (``crisis.consent``)."""

    __tablename__ = "guardian_contact"
    __table_args__ = (
        Index("ix_guardian_contact_student_at", "student_id", "contacted_at"),
        Index("ix_guardian_contact_consent", "student_id", "consent_purpose", "contacted_at"),
        CheckConstraint(sql_in("relation", RELATIONS), name="relation_valid"),
        CheckConstraint(sql_in("channel", CHANNELS), name="channel_valid"),
        CheckConstraint(
            # both or neither (IN alone lets a NULL through: a CHECK fails only on false)
            "(consent IS NULL AND consent_purpose IS NULL) OR ("
            "consent IS NOT NULL AND consent_purpose IS NOT NULL AND "
            f"{sql_in('consent', tuple(ConsentDecision))} AND "
            f"{sql_in('consent_purpose', CONSENT_PURPOSES)})",
            name="consent_valid",
        ),
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    crisis_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("crisis.id"))
    staff_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    relation: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(12))
    contacted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    consent_purpose: Mapped[str | None] = mapped_column(String(16))
    consent: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[created_at]
    summary_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    summary = Encrypted("summary_ct", Kind.TEXT, Purpose.CLINICAL)
