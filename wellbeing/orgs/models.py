"""District → School → (Grade) → Class. Grades are numbers 1–12 on the class."""

from __future__ import annotations

import uuid

from sqlalchemy import ForeignKey, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, created_at, uuidpk

GRADE_RANGE = range(1, 13)


class District(Base):
    __tablename__ = "district"

    id: Mapped[uuidpk]
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[created_at]


class School(Base):
    __tablename__ = "school"

    id: Mapped[uuidpk]
    district_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("district.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[created_at]

    classes: Mapped[list[SchoolClass]] = relationship(back_populates="school", lazy="raise")

    @property
    def school_id(self) -> uuid.UUID:
        """So the policy can treat a school like anything else that belongs to a school."""
        return self.id


class SchoolClass(Base):
    __tablename__ = "school_class"
    __table_args__ = (UniqueConstraint("school_id", "grade", "label"),)

    id: Mapped[uuidpk]
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"), index=True)
    grade: Mapped[int] = mapped_column(SmallInteger)
    label: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[created_at]

    school: Mapped[School] = relationship(back_populates="classes", lazy="raise")

    @property
    def class_id(self) -> uuid.UUID:
        return self.id
