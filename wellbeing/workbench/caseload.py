"""Caseloads: the students a psychology teacher (or a district counsellor) is responsible for,
and a class teacher's class list.

A student is on a caseload when their tier is yellow or above, or something about them is
still open: an active follow-up, an open crisis, a concern not yet acted on, an unresolved
alert. Each of those is an EXISTS on the student's own index (``ix_followup_student_state``,
``ix_crisis_student_state``, ``ix_concern_student_created``, ``ix_alert_student_id``); the
students come from ``ix_student_status_school_grade_tier``. Names are encrypted, so the
default order (by pinyin) is made in Python after decryption.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session

from ..alerts.models import Alert, AlertState
from ..concerns.models import Concern, ConcernState
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, can, ensure
from ..crisis.models import Crisis, CrisisState
from ..followups.models import ACTIVE_STATES, FollowUp
from ..orgs.models import SchoolClass
from ..students.chip import chip_fields
from ..students.collation import pinyin_key, sorted_by_name
from ..students.models import Student
from ..students.queries import searchable_school_ids

LIMIT = 1000  # a caseload is tens to a few hundred students; more than this is cut and said
SORTS = ("name", "due")


@dataclass(frozen=True)
class CaseloadFilter:
    grade: int | None = None
    class_id: uuid.UUID | None = None
    tier: int | None = None
    sort: str = "name"


@dataclass(frozen=True)
class CaseRow:
    student: Student
    next_due: dt.datetime | None


@dataclass(frozen=True)
class Caseload:
    rows: list[CaseRow]
    truncated: bool
    classes: list[SchoolClass]  # the filter's choices
    grades: list[int]


def _open_item() -> object:
    sid = Student.id
    return or_(
        exists().where(FollowUp.student_id == sid, FollowUp.state.in_(ACTIVE_STATES)),
        exists().where(Crisis.student_id == sid, Crisis.state == CrisisState.OPEN),
        exists().where(Concern.student_id == sid, Concern.state != ConcernState.ACTED),
        exists().where(Alert.student_id == sid, Alert.state != AlertState.RESOLVED),
    )


def _school_ids(session: Session, principal: Principal) -> set[uuid.UUID]:
    own = set(principal.school_ids(Role.PSYCH_TEACHER))
    if Role.COUNSELLOR in principal.roles:
        own |= searchable_school_ids(session, principal)
    return own


def caseload(session: Session, principal: Principal, filters: CaseloadFilter) -> Caseload:
    """The principal's caseload, filtered and sorted; every student listed is audited."""
    ensure(principal, Permission.TIER_DECIDE)
    schools = sorted(_school_ids(session, principal), key=str)
    if not schools:
        _audit_caseload(session, principal, [], filters)
        return Caseload([], False, [], [])
    next_due = (
        select(func.min(FollowUp.due_at))
        .where(FollowUp.student_id == Student.id, FollowUp.state.in_(ACTIVE_STATES))
        .scalar_subquery()
    )
    where = [Student.status == "active", Student.school_id.in_(schools)]
    where.append(or_(Student.tier >= 1, _open_item()))  # type: ignore[arg-type]  # a clause
    if Role.PSYCH_TEACHER not in principal.roles:  # district staff: escalated students only
        where.append(Student.district_involved.is_(True))
    if filters.grade is not None:
        where.append(Student.grade == filters.grade)
    if filters.class_id is not None:
        where.append(Student.class_id == filters.class_id)
    if filters.tier is not None:
        where.append(Student.tier == filters.tier)
    found = session.execute(select(Student, next_due).where(*where).limit(LIMIT + 1)).all()
    rows = [
        CaseRow(s, due) for s, due in found[:LIMIT] if can(principal, Permission.RECORD_READ, s)
    ]
    rows = _sorted(rows, filters.sort)
    classes = list(
        session.scalars(
            select(SchoolClass).where(SchoolClass.school_id.in_(schools))
            .order_by(SchoolClass.grade, SchoolClass.label)
        )
    )  # fmt: skip
    _audit_caseload(session, principal, rows, filters)
    return Caseload(rows, len(found) > LIMIT, classes, sorted({c.grade for c in classes}))


def _audit_caseload(
    session: Session, principal: Principal, rows: list[CaseRow], filters: CaseloadFilter
) -> None:
    # The chip (name, school, class) and the tier column.
    audit.record(
        session, AuditAction.STUDENT_LIST, object_type="caseload", object_id="mine",
        fields=chip_fields(principal, [r.student for r in rows], tier=False)
        + (["tier"] if rows else []),
        detail={"students": [str(r.student.id) for r in rows], "filters": _detail(filters)},
    )  # fmt: skip


def _sorted(rows: list[CaseRow], sort: str) -> list[CaseRow]:
    by_name = sorted_by_name(rows, lambda r: r.student.name)
    if sort != "due":
        return by_name
    far = dt.datetime.max.replace(tzinfo=dt.UTC)

    def due_key(row: CaseRow) -> tuple[dt.datetime, tuple[tuple[int, str], ...]]:
        due = row.next_due
        if due is not None and due.tzinfo is None:
            due = due.replace(tzinfo=dt.UTC)
        return (due or far, pinyin_key(row.student.name))

    return sorted(rows, key=due_key)


def _detail(filters: CaseloadFilter) -> dict[str, object]:
    return {
        "grade": filters.grade, "class": str(filters.class_id) if filters.class_id else None,
        "tier": filters.tier, "sort": filters.sort,
    }  # fmt: skip


# --------------------------------------------------------------------------- class lists


@dataclass(frozen=True)
class ClassList:
    label: SchoolClass
    students: list[Student]


def class_lists(session: Session, principal: Principal) -> list[ClassList]:
    """The active students of the classes the principal teaches, names only, by pinyin. The
    names are audited like the concern form's pick list (the same names)."""
    ensure(principal, Permission.CONCERN_REPORT)
    class_ids = sorted(principal.class_ids(), key=str)
    if not class_ids:
        audit.record(session, AuditAction.STUDENT_LIST, object_type="class_list", object_id="mine",
                     detail={"students": []})  # fmt: skip
        return []
    classes = list(
        session.scalars(
            select(SchoolClass).where(SchoolClass.id.in_(class_ids))
            .order_by(SchoolClass.grade, SchoolClass.label)
        )
    )  # fmt: skip
    students = list(
        session.scalars(
            select(Student).where(Student.class_id.in_(class_ids), Student.status == "active")
        )
    )
    result = [
        ClassList(c, sorted_by_name([s for s in students if s.class_id == c.id], _name))
        for c in classes
    ]
    audit.record(
        session, AuditAction.STUDENT_LIST, object_type="class_list", object_id="mine",
        fields=["name"] if students else [], detail={"students": [str(s.id) for s in students]},
    )  # fmt: skip
    return result


def _name(student: Student) -> str | None:
    return student.name


def has_classes(principal: Principal) -> bool:
    """Does the principal teach a class (the navigation shows "My class" only then)?"""
    return bool(principal.class_ids())
