"""Roster imports recognising "same student, new school" (``transfer`` for the rule).

Student numbers and names are blind indexes keyed per school, so a row not found at the
importing school is looked up at every other school of the district by the same student number
AND the same name, and accepted only when the birth date is the same too (and the national ID,
when both sides have one). A row naming a student moved away FROM the importing school is not
moved back (a stale roster would otherwise undo a transfer): it is skipped and counted.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..orgs.models import School, SchoolClass
from .models import Student, StudentTransfer
from .transfer import is_current, move


class RosterLike(Protocol):
    """What recognition reads of a roster row (``roster.RosterRow``)."""

    @property
    def student_number(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def birth_date(self) -> dt.date: ...
    @property
    def national_id(self) -> str | None: ...


R = TypeVar("R", bound=RosterLike)


@dataclass
class Arrivals:
    """Rows of an import recognised as students of other schools of the district."""

    moving: dict[int, Student]  # position in the batch -> the student to move here
    skipped: set[int]  # positions of rows naming a student moved away from this school


def find_arrivals(session: Session, school: School, rows: Sequence[RosterLike]) -> Arrivals:
    """Look rows not found at ``school`` up at every other school of its district (the rule of
    the module docstring): same number, same name, same birth date (and national ID)."""
    found = Arrivals({}, set())
    if not rows:
        return found
    others = session.scalars(
        select(School.id).where(School.district_id == school.district_id, School.id != school.id)
    ).all()
    number_index, name_index = Student.student_number.blind_index, Student.name.blind_index
    for other in others:
        keys = {number_index(other, row.student_number): i for i, row in enumerate(rows)}
        for student in session.scalars(
            select(Student).where(
                Student.school_id == other, Student.student_number_bidx.in_(list(keys))
            )
        ):
            position = keys[student.student_number_bidx]
            row = rows[position]
            if position in found.moving or not _same_person(student, row, other, name_index):
                continue
            if _moved_away_from(session, student.id, school.id):
                found.skipped.add(position)
            elif is_current(student):
                found.moving[position] = student
    return found


def take_arrivals(
    session: Session,
    school: School,
    keyed: dict[bytes, R],
    existing: dict[bytes, Student],
    class_id_of: Callable[[R], uuid.UUID],
    by_id: uuid.UUID | None,
) -> tuple[int, set[bytes]]:
    """A roster batch's rows not found at ``school`` (``keyed`` by the number's index there,
    ``existing`` the students found): those naming a student of another school of the district
    are moved here (:func:`move`, source ``roster``) and added to ``existing``, to be updated
    from the row like any student found. Returns how many moved and the keys of the rows to
    skip (students moved away from this school)."""
    missing = [key for key in keyed if key not in existing]
    found = find_arrivals(session, school, [keyed[key] for key in missing])
    for position, student in found.moving.items():
        klass = session.get_one(SchoolClass, class_id_of(keyed[missing[position]]))
        move(session, student, school, klass, by_id=by_id, source="roster")
        existing[missing[position]] = student
    return len(found.moving), {missing[position] for position in found.skipped}


def _same_person(
    student: Student, row: RosterLike, school_id: uuid.UUID, name_index: Callable[..., bytes]
) -> bool:
    if student.name_bidx != name_index(school_id, row.name):
        return False
    if student.birth_date != row.birth_date:
        return False
    stored = student.national_id
    return stored is None or row.national_id is None or stored == row.national_id


def _moved_away_from(session: Session, student_id: uuid.UUID, school_id: uuid.UUID) -> bool:
    latest = session.scalar(
        select(StudentTransfer.from_school_id)
        .where(StudentTransfer.student_id == student_id)
        .order_by(StudentTransfer.created_at.desc())
        .limit(1)
    )
    return latest == school_id
