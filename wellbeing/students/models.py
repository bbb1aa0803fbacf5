"""Students. Identity is encrypted; only ids, placement, status and tier are plaintext."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, LargeBinary, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import BlindIndexSpec, Encrypted, EncryptedBlob, Kind, Purpose
from ..db import Base, UTCDateTime, created_at, utcnow, uuidpk

ID = Purpose.IDENTITY


class Student(Base):
    __tablename__ = "student"
    __table_args__ = (
        UniqueConstraint("school_id", "student_number_bidx"),
        Index("ix_student_school_tier", "school_id", "tier"),
        Index("ix_student_name_bidx", "name_bidx"),
        Index("ix_student_initials_bidx", "name_initials_bidx"),
    )

    id: Mapped[uuidpk]
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school_class.id"), index=True)
    grade: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|left|graduated
    # Maintained by the risk module: the current tier is the basis of every list and cadence.
    tier: Mapped[int] = mapped_column(SmallInteger, default=0)
    tier_provisional: Mapped[bool] = mapped_column(default=False)
    # True once a school escalated the student to the district or referred them.
    district_involved: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    student_number_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    student_number_bidx: Mapped[bytes] = mapped_column(LargeBinary(16))
    name_ct: Mapped[bytes] = mapped_column(EncryptedBlob)
    name_bidx: Mapped[bytes] = mapped_column(LargeBinary(16))
    name_initials_bidx: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    sex_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    birth_date_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    national_id_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    guardians_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    special_care_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)

    student_number = Encrypted(
        "student_number_ct", Kind.TEXT, ID, BlindIndexSpec("student_number_bidx", "school_id")
    )
    name = Encrypted("name_ct", Kind.TEXT, ID, BlindIndexSpec("name_bidx", "school_id"))
    sex = Encrypted("sex_ct", Kind.TEXT, ID)
    birth_date = Encrypted("birth_date_ct", Kind.DATE, ID)
    national_id = Encrypted("national_id_ct", Kind.TEXT, ID)
    # [{"name": ..., "phone": ..., "relation": ...}]
    guardians = Encrypted("guardians_ct", Kind.JSON, ID)
    # District-policy categories (困境儿童, 留守儿童, ...): a list of codes, encrypted.
    special_care = Encrypted("special_care_ct", Kind.JSON, Purpose.CLINICAL)

    @property
    def student_id(self) -> uuid.UUID:
        return self.id
