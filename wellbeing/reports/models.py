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

from sqlalchemy import JSON, ForeignKey, Index, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, created_at, uuidpk


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
