"""Screening campaigns, responses, saved column mappings and kiosk sessions.

A response's answers and scores are one encrypted JSON value (``{"answers": ..., "scores":
...}``, Purpose.CLINICAL). Plaintext metadata is what progress and result queries need: the
student's placement at the time, the instrument, the band codes, the tier the rules gave and
the flags (critical, voided, incomplete).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..db import Base, UTCDateTime, created_at, uuidpk

CAMPAIGN_STATUSES = ("open", "closed")
CAMPAIGN_PHASES = ("upcoming", "open", "closed")
SOURCES = ("form", "kiosk", "file", "api")


class Campaign(Base):
    """A screening round: instruments for chosen schools and grades within a time window."""

    __tablename__ = "screening_campaign"

    id: Mapped[uuidpk]
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"), index=True)
    # The owning school of a school campaign; NULL for a district campaign (schools below).
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    instruments: Mapped[list[str]] = mapped_column(JSON)
    grades: Mapped[list[int]] = mapped_column(JSON)
    opens_on: Mapped[dt.date] = mapped_column(Date)
    closes_on: Mapped[dt.date] = mapped_column(Date)
    consent_text: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")
    created_at: Mapped[created_at]

    def accepts_on(self, day: dt.date) -> bool:
        return self.phase(day) == "open"

    def phase(self, day: dt.date) -> str:
        """``upcoming`` (opens later), ``open`` or ``closed`` on ``day`` -- the school's local
        date (:func:`wellbeing.screening.services.local_today`), never the server's UTC date."""
        if self.status == "closed" or day > self.closes_on:
            return "closed"
        return "upcoming" if day < self.opens_on else "open"


class CampaignSchool(Base):
    """The schools a campaign covers (one row for a school campaign)."""

    __tablename__ = "screening_campaign_school"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("screening_campaign.id"), primary_key=True
    )
    school_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("school.id"), primary_key=True, index=True
    )


class Response(Base):
    """One student's answers to one instrument in one campaign."""

    __tablename__ = "screening_response"
    __table_args__ = (
        UniqueConstraint("campaign_id", "student_id", "instrument"),
        UniqueConstraint("campaign_id", "idempotency_key"),
        Index(
            "ix_screening_response_progress",
            "campaign_id",
            "school_id",
            "grade",
            "class_id",
            "student_id",
        ),
        Index("ix_screening_response_student", "student_id", "created_at"),
    )

    id: Mapped[uuidpk]
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("screening_campaign.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school_class.id"))
    grade: Mapped[int] = mapped_column(SmallInteger)
    instrument: Mapped[str] = mapped_column(String(32))
    total_band: Mapped[str | None] = mapped_column(String(32))
    bands: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    tier: Mapped[int] = mapped_column(SmallInteger, default=0)
    tier_rule: Mapped[str | None] = mapped_column(String(64))
    critical: Mapped[bool] = mapped_column(default=False)
    voided: Mapped[bool] = mapped_column(default=False)
    incomplete: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str] = mapped_column(String(8))
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    entered_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]

    data_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    # {"answers": {item: value|None}, "scores": ScoreResult.to_dict()}
    data = Encrypted("data_ct", Kind.JSON, Purpose.CLINICAL)


class ColumnMapping(Base):
    """A saved file layout: the file's header → the ``<instrument>_<item>`` column it holds."""

    __tablename__ = "screening_column_mapping"
    __table_args__ = (UniqueConstraint("district_id", "name"),)

    id: Mapped[uuidpk]
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"))
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]


class KioskSession(Base):
    """A questionnaire-only session opened by a teacher for one or more students."""

    __tablename__ = "screening_kiosk"

    id: Mapped[uuidpk]
    token_digest: Mapped[str] = mapped_column(String(64), unique=True)
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("screening_campaign.id"), index=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    student_ids: Mapped[list[str]] = mapped_column(JSON)
    done_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Of done_ids: students whose answers were held for review instead of recorded.
    held_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    opened_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[created_at]
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class HeldAnswers(Base):
    """Answers a student gave that could not be recorded as a response (found at submit: e.g.
    a response was recorded for them meanwhile, or the campaign closed while they answered).
    Kept, encrypted, for the psychology teacher to review -- never thrown away."""

    __tablename__ = "screening_held"

    id: Mapped[uuidpk]
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("screening_campaign.id"))
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"), index=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    kiosk_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("screening_kiosk.id"))
    source: Mapped[str] = mapped_column(String(8))
    # Why it was held: the refusal's English message (no answer content).
    reason: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[created_at]
    reviewed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))

    data_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    # {"answers": {instrument: {item: value|None}}}
    data = Encrypted("data_ct", Kind.JSON, Purpose.CLINICAL)
