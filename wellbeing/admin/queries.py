"""Read-only queries for the administration screens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..auth.models import Membership, User
from ..orgs.labels import class_label
from ..orgs.models import School, SchoolClass
from ..students.collation import sorted_by_name
from ..students.models import Student


@dataclass(frozen=True)
class SchoolRow:
    school: School
    classes: int
    students: int


def schools_overview(session: Session) -> list[SchoolRow]:
    classes = dict(
        session.execute(select(SchoolClass.school_id, func.count()).group_by(SchoolClass.school_id))
        .tuples()
        .all()
    )
    students = dict(
        session.execute(select(Student.school_id, func.count()).group_by(Student.school_id))
        .tuples()
        .all()
    )
    return [
        SchoolRow(s, classes.get(s.id, 0), students.get(s.id, 0))
        for s in session.scalars(select(School).order_by(School.code))
    ]


def all_schools(session: Session) -> list[School]:
    return list(session.scalars(select(School).order_by(School.code)))


def school_classes(session: Session, school_id: uuid.UUID) -> list[tuple[SchoolClass, int]]:
    """Classes of a school with their number of students."""
    counts = dict(
        session.execute(
            select(Student.class_id, func.count())
            .where(Student.school_id == school_id)
            .group_by(Student.class_id)
        )
        .tuples()
        .all()
    )
    rows = session.scalars(
        select(SchoolClass)
        .where(SchoolClass.school_id == school_id)
        .order_by(SchoolClass.grade, SchoolClass.label)
    )
    return [(c, counts.get(c.id, 0)) for c in rows]


def all_classes(session: Session) -> list[tuple[SchoolClass, School]]:
    return list(
        session.execute(
            select(SchoolClass, School)
            .join(School, School.id == SchoolClass.school_id)
            .order_by(School.code, SchoolClass.grade, SchoolClass.label)
        ).tuples()
    )


def users_page(session: Session) -> list[User]:
    """Users by the pinyin of their names (as a school lists its staff)."""
    return sorted_by_name(session.scalars(select(User)), lambda u: u.display_name or u.username)


def membership(session: Session, user_id: uuid.UUID, membership_id: uuid.UUID) -> Membership | None:
    return session.scalar(
        select(Membership).where(Membership.id == membership_id, Membership.user_id == user_id)
    )


def names_by_id(session: Session) -> tuple[dict[uuid.UUID, str], dict[uuid.UUID, str]]:
    """School names and class names (for showing membership scopes)."""
    schools = dict(session.execute(select(School.id, School.name)).tuples().all())
    classes = {c.id: class_label(c.grade, c.label) for c in session.scalars(select(SchoolClass))}
    return schools, classes
