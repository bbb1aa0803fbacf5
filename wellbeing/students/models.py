"""Students. Identity is encrypted; only ids, placement, status and tier are plaintext."""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
import uuid
from enum import StrEnum

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, mapped_column

from ..core.crypto import Purpose, current_keyring
from ..core.fields import BlindIndexSpec, Encrypted, EncryptedBlob, Kind
from ..core.states import Transitions, label_states
from ..db import Base, UTCDateTime, created_at, utcnow, uuidpk

ID = Purpose.IDENTITY


class StudentStatus(StrEnum):
    """Enrolment (the column keeps its historical name ``status``). Leaving or graduating seals
    the record: read-only, and readable only through break-glass (``students.enrolment``)."""

    ACTIVE = "active"
    LEFT = "left"
    GRADUATED = "graduated"


STUDENT_STATUSES = Transitions(
    StudentStatus,
    {StudentStatus.ACTIVE: {StudentStatus.LEFT, StudentStatus.GRADUATED}},
)
label_states(
    {
        StudentStatus.ACTIVE: _l("enrolled"),
        StudentStatus.LEFT: _l("left the school"),
        StudentStatus.GRADUATED: _l("graduated"),
    }
)


class Student(Base):
    __tablename__ = "student"
    __table_args__ = (
        STUDENT_STATUSES.check("status"),  # ck_student_status_valid
        # Blind index first: imports look students up by it, for many schools at once.
        UniqueConstraint("student_number_bidx", "school_id"),
        Index("ix_student_school_tier", "school_id", "tier"),
        Index("ix_student_name_bidx", "name_bidx"),
        Index("ix_student_initials_bidx", "name_initials_bidx"),
        # Dashboards: tier counts per school and grade (one index serves school and district).
        Index("ix_student_status_school_grade_tier", "status", "school_id", "grade", "tier"),
        # Reports: screening coverage per school, grade and class (covering: id for the join).
        Index(
            "ix_student_status_school_grade_class", "status", "school_id", "grade", "class_id", "id"
        ),
        # Counsellors' list of students escalated to the district.
        Index("ix_student_district_tier", "district_involved", "tier"),
    )

    id: Mapped[uuidpk]
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    class_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("school_class.id"), index=True)
    grade: Mapped[int] = mapped_column(SmallInteger)
    status: Mapped[str] = mapped_column(String(12), default=StudentStatus.ACTIVE)
    # The school's local date the student left or graduated (retention counts from it), and
    # when the record was sealed; both empty while the student is enrolled.
    left_at: Mapped[dt.date | None]
    sealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
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

    @property
    def sealed(self) -> bool:
        """Read by ``core.authz.can``: a sealed record opens only through break-glass."""
        return self.status != StudentStatus.ACTIVE


# --------------------------------------------------------------------------- pinyin initials

# Surnames whose reading differs from the character's most common one (单 is Shan, not Dan).
_SURNAME_INITIALS = {
    "单": "s", "曾": "z", "解": "x", "仇": "q", "朴": "p", "区": "o", "查": "z", "盖": "g",
    "覃": "q", "缪": "m", "乐": "y", "秘": "b", "折": "s", "员": "y", "召": "s", "翟": "z",
    "种": "c", "尉": "y", "祭": "z", "句": "g", "长": "c", "万": "w", "尹": "y",
}  # fmt: skip
INITIALS_INDEX = "student.name_initials"


def name_initials(name: str) -> str | None:
    """Pinyin initials of a name for the initials search: 张小明 → "zxm", "Tom Li" → "tl".

    Each Chinese character counts with its most common reading (the first character with its
    reading as a surname); each run of Latin letters or digits counts with its first letter.
    """
    text = normalize_name(name)
    letters: list[str] = []
    in_word = False
    for position, char in enumerate(text):
        if char.isascii():
            if char.isalnum() and not in_word:
                letters.append(char.lower())
            in_word = char.isalnum()
            continue
        in_word = False
        if position == 0 and char in _SURNAME_INITIALS:
            letters.append(_SURNAME_INITIALS[char])
        else:
            letters.append(_char_initial(char))
    return "".join(letters) or None


@functools.lru_cache(maxsize=16384)
def _char_initial(char: str) -> str:
    """First letter of the character's most common reading, from pypinyin's character table
    (not ``lazy_pinyin``: its phrase tables cost tens of megabytes and names are not phrases)."""
    # pypinyin takes ~0.25 s to import: it loads when a name is first sorted
    from pypinyin.pinyin_dict import pinyin_dict

    readings = pinyin_dict.get(ord(char))
    if not readings:
        return ""
    first = unicodedata.normalize("NFKD", readings[0])[0]  # "ǎ" -> "a" + combining mark
    return first.lower() if first.isascii() and first.isalpha() else ""


def normalize_name(name: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", name).split())


def initials_index(school_id: uuid.UUID, initials: str) -> bytes:
    return current_keyring().blind_index(INITIALS_INDEX, str(school_id), initials)


def _refresh_initials(target: Student) -> None:
    name = target.name
    initials = name_initials(name) if name else None
    target.name_initials_bidx = (
        None if initials is None else initials_index(target.school_id, initials)
    )


@event.listens_for(Student, "before_insert")
def _initials_on_insert(_mapper: object, _connection: object, target: Student) -> None:
    _refresh_initials(target)


@event.listens_for(Student, "before_update")
def _initials_on_update(_mapper: object, _connection: object, target: Student) -> None:
    state = inspect(target)
    if state.attrs.name_ct.history.has_changes() or state.attrs.school_id.history.has_changes():
        _refresh_initials(target)


class PurgeLock(Base):
    """The escape that lets a retention purge delete what database triggers otherwise keep
    (migration 0009: signed counselling notes and their addenda): while a row names a student,
    that student's notes and addenda may be deleted. The purge inserts the row, deletes, and
    deletes the row again, all in one transaction, so no other transaction ever sees it (see
    /work/tools/COMMON.md, "Purge escape for triggers"). No foreign key: the student's own row
    is purged in the same transaction."""

    __tablename__ = "purge_lock"

    student_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


# --------------------------------------------------------------------------- transfers

TRANSFER_SOURCES = ("manual", "roster")


class StudentTransfer(Base):
    """One move of a student to another school of the district (``students.transfer``).

    ``read_until``: until when the sending school's staff still read what their school wrote
    (``policy.records.transfer_read_days`` after the move). ``by_id`` is empty for a roster
    import run from the CLI. Append-only: a later transfer is a new row."""

    __tablename__ = "student_transfer"
    __table_args__ = (
        CheckConstraint("source IN ('manual', 'roster')", name="source_valid"),
        # The access rule: "transfers of this student from this school still readable".
        Index("ix_student_transfer_student_from", "student_id", "from_school_id", "read_until"),
        Index("ix_student_transfer_from_until", "from_school_id", "read_until"),
    )

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    from_school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    to_school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    source: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[created_at]
    read_until: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class RecordExport(Base):
    """A copy of the growth record handed out for a guardian (PIPL access request,
    ``students/export.py``): who asked (a code), whether restricted notes were included and the
    written reason for including them (encrypted). The audit entry points here by id."""

    __tablename__ = "record_export"
    __table_args__ = (Index("ix_record_export_student_created", "student_id", "created_at"),)

    id: Mapped[uuidpk]
    student_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("student.id"))
    school_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("school.id"))
    actor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    requester: Mapped[str] = mapped_column(String(20))
    include_restricted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]
    reason_ct: Mapped[bytes | None] = mapped_column(EncryptedBlob)
    reason = Encrypted("reason_ct", Kind.TEXT, Purpose.CLINICAL)
