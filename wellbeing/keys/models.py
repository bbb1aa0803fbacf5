"""Wrapped data keys. The master key never touches the database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, created_at, utcnow


class DataKey(Base):
    __tablename__ = "data_key"
    __table_args__ = (UniqueConstraint("purpose", "version"),)

    # Small integer id: it is written into every ciphertext header.
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    purpose: Mapped[str] = mapped_column(String(20))
    version: Mapped[int]
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_fingerprint: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(10), default="primary")  # primary|active|retired
    created_at: Mapped[created_at]
    retired_at: Mapped[dt.datetime | None]

    def retire(self) -> None:
        if self.state == "primary":
            raise ValueError("the primary data key cannot be retired")
        self.state, self.retired_at = "retired", utcnow()
