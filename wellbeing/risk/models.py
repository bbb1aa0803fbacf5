"""Risk tiers: the history of every tier decision, and the versioned district policy.

A student's current tier lives on ``Student.tier`` / ``Student.tier_provisional`` (the basis of
every list); :class:`TierDecision` rows are the full history that replays to it. A step-down
from red by a person is stored as a *pending* decision until a second person approves it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import JSON, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states
from ..db import Base, UTCDateTime, created_at, utcnow, uuidpk

TIER_SOURCES = ("screening", "concern", "session", "referral", "manual")


class DecisionState(StrEnum):
    """An "applied" decision is part of the history that replays to the current tier; a
    person's step-down from red is "pending" until approved ("applied") or "rejected" /
    "withdrawn"."""

    APPLIED = "applied"
    PENDING = "pending"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


APPLIED, PENDING, REJECTED, WITHDRAWN = (
    DecisionState.APPLIED,
    DecisionState.PENDING,
    DecisionState.REJECTED,
    DecisionState.WITHDRAWN,
)
DECISION_STATES = Transitions(DecisionState, {PENDING: {APPLIED, REJECTED, WITHDRAWN}})
label_states(
    {
        APPLIED: _l("in effect"),
        PENDING: _l("waiting for approval"),
        REJECTED: _l("declined"),
        WITHDRAWN: _l("withdrawn"),
    }
)


class TierDecision(Base):
    __tablename__ = "tier_decision"
    __table_args__ = (
        Index("ix_tier_decision_student_effective", "student_id", "effective_at"),
        DECISION_STATES.check("state"),
        Index("ix_tier_decision_state_school", "state", "school_id"),
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    # The student's school when decided (the step-down queue filters on it).
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    from_tier: Mapped[int] = mapped_column(SmallInteger)
    to_tier: Mapped[int] = mapped_column(SmallInteger)
    source: Mapped[str] = mapped_column(String(12))
    source_id: Mapped[uuid.UUID | None] = mapped_column()
    provisional: Mapped[bool] = mapped_column(default=False)
    # "change" (level moved), "confirm" (a person confirmed the level), "stepdown" (from red).
    kind: Mapped[str] = mapped_column(String(10), default="change")
    state: Mapped[str] = mapped_column(String(10), default=APPLIED)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the decision took effect (decided_at, or approved_at for an approved step-down).
    effective_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    # A person's written reason, or a rule's reason token such as "phq9.total>=15".
    reason_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    reason = Encrypted("reason_ct", Kind.TEXT, Purpose.CLINICAL)

    @property
    def is_rule(self) -> bool:
        return self.decided_by is None


class DistrictPolicy(Base):
    """One version of a district's tier policy; the newest version is current."""

    __tablename__ = "district_policy"
    __table_args__ = (UniqueConstraint("district_id", "version"),)

    id: Mapped[uuidpk]
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]
