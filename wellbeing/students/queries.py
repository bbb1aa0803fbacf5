"""Read-only queries of the student register (services audit what they show)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..core.authz import ROLE_PERMISSIONS, Permission, Principal
from ..orgs.models import School, SchoolClass
from .models import Student, initials_index

T = TypeVar("T")

_NUMBER_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_INITIALS_RE = re.compile(r"^[A-Za-z]{2,12}$")


def query_kinds(text: str) -> list[str]:
    """Which blind indexes a query is looked up in: "number", "name", "initials"."""
    compact = "".join(text.split())
    kinds = []
    if _NUMBER_RE.match(compact) and any(c.isdigit() for c in compact):
        kinds.append("number")
    if not compact.isdigit():
        kinds.append("name")
    if _INITIALS_RE.match(compact):
        kinds.append("initials")
    return kinds


def searchable_school_ids(session: Session, principal: Principal) -> set[uuid.UUID]:
    """Schools whose students the user may search: their schools, or the district's."""
    ids: set[uuid.UUID] = set()
    for scope in principal.scopes:
        if Permission.STUDENTS_SEARCH not in ROLE_PERMISSIONS[scope.role]:
            continue
        if scope.school_id is not None:
            ids.add(scope.school_id)
        elif scope.district_id is not None:
            ids.update(
                session.scalars(select(School.id).where(School.district_id == scope.district_id))
            )
    return ids


def find_students(
    session: Session, school_ids: set[uuid.UUID], text: str, kinds: Sequence[str], *, limit: int
) -> list[Student]:
    """Exact matches (after normalisation) of ``text`` in the blind indexes of ``kinds``."""
    if not school_ids or not kinds:
        return []
    number_index = Student.student_number.blind_index
    name_index = Student.name.blind_index
    conditions = []
    ordered = sorted(school_ids, key=str)
    if "number" in kinds:
        conditions.append(Student.student_number_bidx.in_([number_index(s, text) for s in ordered]))
    if "name" in kinds:
        conditions.append(Student.name_bidx.in_([name_index(s, text) for s in ordered]))
    if "initials" in kinds:
        conditions.append(
            Student.name_initials_bidx.in_([initials_index(s, text) for s in ordered])
        )
    stmt = (
        select(Student)
        .where(Student.school_id.in_(ordered), or_(*conditions))
        .order_by(Student.school_id, Student.grade, Student.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def classes_by_id(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, SchoolClass]:
    if not ids:
        return {}
    return {c.id: c for c in session.scalars(select(SchoolClass).where(SchoolClass.id.in_(ids)))}


def school_names(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return dict(
        session.execute(select(School.id, School.name).where(School.id.in_(ids))).tuples().all()
    )


def school_codes(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    return dict(
        session.execute(select(School.id, School.code).where(School.id.in_(ids))).tuples().all()
    )


def school_id_for_code(session: Session, code: str) -> uuid.UUID | None:
    return session.scalar(select(School.id).where(School.code == code))


def importable_schools(session: Session) -> list[School]:
    return list(
        session.scalars(select(School).where(School.active.is_(True)).order_by(School.code))
    )


def with_students(
    session: Session,
    items: Sequence[T],
    student_id: Callable[[T], uuid.UUID],
    *,
    chunk: int = 2000,
) -> Iterator[tuple[Student, T]]:
    """Each item with its Student, loaded a chunk at a time: what per-item event handlers get
    when an import emits thousands of events at once."""
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        wanted = {student_id(item) for item in part}
        students = {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(wanted)))}
        for item in part:
            yield students[student_id(item)], item
