"""Screening campaigns, responses, saved column mappings and kiosk sessions.

A response's answers and scores are one encrypted JSON value (``{"answers": ..., "scores":
...}``, Purpose.CLINICAL). Plaintext metadata is what progress and result queries need: the
student's placement at the time, the instrument, the band codes, the tier the rules gave and
the flags (critical, voided, incomplete).
"""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from flask_babel import lazy_gettext as _l
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
from ..core.states import Transitions, label_states
from ..db import Base, UTCDateTime, created_at, uuidpk


class CampaignState(StrEnum):
    """What a person did to a campaign: it is open until someone closes it (its dates decide
    whether it takes answers today, see :class:`CampaignPhase`)."""

    OPEN = "open"
    CLOSED = "closed"


CAMPAIGN_STATES = Transitions(CampaignState, {CampaignState.OPEN: {CampaignState.CLOSED}})


class CampaignPhase(StrEnum):
    """Where a campaign stands on a given day (derived from its state and dates, not stored;
    the API's ``status`` field)."""

    UPCOMING = "upcoming"
    OPEN = "open"
    CLOSED = "closed"


class KioskState(StrEnum):
    """A kiosk session is open until its queue is done or it times out."""

    OPEN = "open"
    DONE = "done"
    TIMED_OUT = "timed_out"


KIOSK_STATES = Transitions(KioskState, {KioskState.OPEN: {KioskState.DONE, KioskState.TIMED_OUT}})

label_states(
    {
        CampaignState.OPEN: _l("open"),
        CampaignState.CLOSED: _l("closed"),
        KioskState.OPEN: _l("Kiosk open"),
        KioskState.DONE: _l("Kiosk finished"),
        KioskState.TIMED_OUT: _l("Kiosk timed out"),
    }
)

CAMPAIGN_PHASES = tuple(CampaignPhase)
SOURCES = ("form", "kiosk", "file", "api")


class Campaign(Base):
    """A screening round: instruments for chosen schools and grades within a time window."""

    __tablename__ = "screening_campaign"
    __table_args__ = (CAMPAIGN_STATES.check("state"),)

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
    state: Mapped[CampaignState] = mapped_column(String(12), default=CampaignState.OPEN)
    created_at: Mapped[created_at]

    def accepts_on(self, day: dt.date) -> bool:
        return self.phase(day) == CampaignPhase.OPEN

    def phase(self, day: dt.date) -> CampaignPhase:
        """``upcoming`` (opens later), ``open`` or ``closed`` on ``day`` -- the school's local
        date (:func:`wellbeing.screening.clock.local_today`), never the server's UTC date."""
        if self.state == CampaignState.CLOSED or day > self.closes_on:
            return CampaignPhase.CLOSED
        return CampaignPhase.UPCOMING if day < self.opens_on else CampaignPhase.OPEN


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
        # Reports: each student's coverage status in a campaign (covering, reports.library).
        Index(
            "ix_screening_response_coverage", "campaign_id", "student_id", "voided", "incomplete"
        ),
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
    __table_args__ = (KIOSK_STATES.check("state"),)

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
    state: Mapped[KioskState] = mapped_column(String(12), default=KioskState.OPEN)
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
