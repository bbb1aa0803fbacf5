"""The release ledger (issue 16 item 3): every report table that leaves the system as an
export or a print, with what it published, so that a later release that would give a hidden
number back by subtraction can be refused.

Plaintext on purpose: a release holds counts already published (hidden ones as null), the
filters that produced them and who released them; no child is named.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose
from ..core.fields import Encrypted, EncryptedBlob, Kind
from ..db import Base, UTCDateTime, created_at, uuidpk


class ReportRelease(Base):
    """One published table: ``scope`` is what releases are compared within (the report and
    the campaign or district it covers, never the period or the schools chosen: those are what
    a differencing attack varies); ``cells`` maps each published number's key to its value,
    null when it was hidden; ``table_hash`` is the SHA-256 of the canonical JSON of
    ``cells``."""

    __tablename__ = "report_release"
    __table_args__ = (Index("ix_report_release_scope_created", "scope", "created_at"),)

    id: Mapped[uuidpk]
    created_at: Mapped[created_at]
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    report: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(12))  # "export" or "print"
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    threshold: Mapped[int] = mapped_column(SmallInteger)
    table_hash: Mapped[str] = mapped_column(String(64))
    cells: Mapped[dict[str, Any]] = mapped_column(JSON)

    @property
    def released_at(self) -> dt.datetime:
        return self.created_at


class TierSnapshot(Base):
    """How many enrolled students were at each tier, per school and grade, in one month
    (``month`` "YYYY-MM", the district's local calendar): the history of the tiers report.
    Written by the monthly job (``reports.snapshots``): the current month's rows are replaced
    on each run until the month closes, a closed month is never written again, so history does
    not change when students move, leave or change tier later."""

    __tablename__ = "tier_snapshot"

    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), primary_key=True)
    grade: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    tier: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class NamedExport(Base):
    """A list naming students downloaded from a report (the unscreened students, for the
    school's psychology teacher): who, which school and campaign, how many names, and the
    written reason (encrypted: free text). The audit entry (``...:export``, the supervisor's
    export queue) points here by id and lists the students."""

    __tablename__ = "report_named_export"
    __table_args__ = (Index("ix_report_named_export_school_created", "school_id", "created_at"),)

    id: Mapped[uuidpk]
    created_at: Mapped[created_at]
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    campaign_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("screening_campaign.id"))
    report: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    reason_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    reason = Encrypted("reason_ct", Kind.TEXT, Purpose.CLINICAL)


class CoverageTally(Base):
    """The screening coverage of a campaign per school and grade, counted by the job
    (``reports.snapshots.tally_coverage``) every few minutes while the campaign runs and for a
    while after it closes: the district view reads it instead of every response of the
    campaign (the schools' own views count live)."""

    __tablename__ = "coverage_tally"

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("screening_campaign.id"), primary_key=True
    )
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), primary_key=True)
    grade: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    screened: Mapped[int] = mapped_column(Integer)
    missing: Mapped[int] = mapped_column(Integer)
    voided: Mapped[int] = mapped_column(Integer)
    incomplete: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ResultsTally(Base):
    """The campaign results page as a viewer who is not a case worker sees it, published by
    the job (``reports.results_tally``) from the whole district's class-level counts: one row
    per school of the campaign with answers (``cells``: its lines by school, grade and class,
    each count as its published text, "<10" or "*" for a hidden one), and one row with
    ``school_id`` null for the district's total line. Only published text is kept: never a
    raw count below the threshold."""

    __tablename__ = "results_tally"
    __table_args__ = (Index("ix_results_tally_campaign_school", "campaign_id", "school_id"),)

    id: Mapped[uuidpk]
    campaign_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("screening_campaign.id"))
    school_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school.id"))
    position: Mapped[int] = mapped_column(Integer)  # the school's place in the district's order
    threshold: Mapped[int] = mapped_column(SmallInteger)
    hidden: Mapped[bool] = mapped_column(Boolean)  # some count of these lines is hidden
    cells: Mapped[dict[str, Any]] = mapped_column(JSON)
    taken_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
