"""Moving a student to another school of the district (issue 14 item 8).

A move is made by an admin or a district counsellor on the transfer page
(:func:`transfer_student`), or by a roster import that recognises a student of another school
of the district (``transfer_roster``, then :func:`move`). Either way :func:`move`:

- changes the student's school and class (and the blind indexes, which are keyed per school);
- records a :class:`~.models.StudentTransfer` with ``read_until`` (the district policy's
  ``records.transfer_read_days`` after the move, read through :func:`read_days`);
- audits ``STUDENT_TRANSFER`` and emits ``STUDENT_TRANSFERRED`` in the same transaction: the
  modules above react (crisis and follow-ups move what is open, plans move the open plan and its
  tasks, alerts tell the receiving school's psychology teachers).

**The sending school reads what it wrote** until ``read_until``: the relationship rule below
grants ``RECORD_READ`` and ``NOTES_READ`` on the student to school-wide staff of the sending
school, and :func:`reading_school` tells the record and the timeline to cut what such a viewer
sees to rows written at that school (``students.timeline.newest`` filters on the row's
``school_id``; ``notes.queries.note_access`` hides other schools' notes). Afterwards the rule
no longer grants anything: a 403 like any other school.

**Roster recognition** ("same student, new school"): ``transfer_roster`` (same student number,
name and birth date at another school of the district; never back to the school it left).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from ..auth.models import Membership, User
from ..core import audit
from ..core.authz import (
    RELATIONSHIP_RULES,
    ROLE_PERMISSIONS,
    SCHOOL_ROLES,
    Forbidden,
    Permission,
    Principal,
    Role,
    break_glass_reach,
    ensure,
)
from ..core.errors import DomainError, NotFound
from ..db import utcnow
from ..orgs.models import School, SchoolClass
from .events import STUDENT_TRANSFERRED, StudentTransferred
from .models import Student, StudentStatus, StudentTransfer

P = Permission
DEFAULT_READ_DAYS = 30
# What the sending school keeps while its read period runs (never plans, screenings, crises).
TRANSFER_READ = frozenset({P.RECORD_READ, P.NOTES_READ})
TRANSFER_FIELDS = ("school", "class", "grade")
_CACHE = "wellbeing.students.transfer_reads"
MOVED_AWAY_LIMIT = 200


class TransferError(DomainError):
    """A move refused; the message says why."""

    code = "transfer_refused"
    status = 400


# --------------------------------------------------------------------------- read period

ReadDays = Callable[[Session, Student], int]
_read_days_source: list[ReadDays] = []


def read_days_from(source: ReadDays) -> None:
    """The district policy's period (``risk`` registers it: it is above ``students``)."""
    _read_days_source[:] = [source]


def read_days(session: Session, student: Student) -> int:
    return _read_days_source[0](session, student) if _read_days_source else DEFAULT_READ_DAYS


# --------------------------------------------------------------------------- the move


@dataclass(frozen=True)
class TransferOutcome:
    transfer: StudentTransfer
    student: Student
    from_school: School
    to_school: School
    school_class: SchoolClass | None
    # Display names of the receiving school's psychology teachers (the alert's first rung).
    alerted: list[str]


def transfer_student(
    session: Session,
    principal: Principal,
    student: Student,
    to_school_id: uuid.UUID,
    class_id: uuid.UUID | None = None,
    *,
    now: dt.datetime | None = None,
) -> TransferOutcome:
    """A move by a person on the transfer page (admin or district counsellor)."""
    ensure(principal, P.STUDENTS_TRANSFER, student)
    to_school = session.get(School, to_school_id)
    if to_school is None:
        raise NotFound(_l("There is no such school."))
    _ensure_district(principal, session.get_one(School, student.school_id), to_school)
    klass = None
    if class_id is not None:
        klass = session.get(SchoolClass, class_id)
        if klass is None or klass.school_id != to_school.id:
            raise TransferError(_l("The class chosen is not a class of %(school)s."),
                                school=to_school.name)  # fmt: skip
    return move(session, student, to_school, klass, by_id=principal.user_id, source="manual",
                now=now)  # fmt: skip


def transfer_by_number(
    session: Session,
    principal: Principal,
    from_school_id: uuid.UUID,
    number: str,
    to_school_id: uuid.UUID,
    class_id: uuid.UUID | None = None,
    *,
    now: dt.datetime | None = None,
) -> TransferOutcome:
    """The transfer page: the student named by school and student number."""
    ensure(principal, P.STUDENTS_TRANSFER)
    school = session.get(School, from_school_id)
    if school is None:
        raise NotFound(_l("There is no such school."))
    student = find_student(session, school.id, number)
    if student is None:
        raise TransferError(_l("%(school)s has no student with this student number."),
                            school=school.name)  # fmt: skip
    return transfer_student(session, principal, student, to_school_id, class_id, now=now)


def _ensure_district(principal: Principal, *schools: School) -> None:
    """District staff move students only within their own district."""
    districts = {s.district_id for s in principal.scopes if s.district_id is not None}
    for school in schools:
        if districts and school.district_id not in districts:
            raise TransferError(_l("%(school)s is not a school of your district."),
                                school=school.name)  # fmt: skip


def move(
    session: Session,
    student: Student,
    to_school: School,
    klass: SchoolClass | None,
    *,
    by_id: uuid.UUID | None,
    source: str,
    now: dt.datetime | None = None,
    grade: int | None = None,
) -> TransferOutcome:
    """Move ``student`` to ``to_school`` (guards, the row, audit, event: see the module doc)."""
    from_school = session.get_one(School, student.school_id)
    if to_school.id == from_school.id:
        raise TransferError(_l("The student is already at %(school)s."), school=to_school.name)
    if to_school.district_id != from_school.district_id:
        raise TransferError(
            _l("%(school)s is in another district: a student moves only between the schools of "
               "one district."), school=to_school.name,
        )  # fmt: skip
    if not is_current(student):
        raise TransferError(_l("Only a student who is still at school can be moved."))
    number_key = Student.student_number.blind_index(to_school.id, student.student_number)
    taken = session.scalar(
        select(Student.id).where(
            Student.school_id == to_school.id, Student.student_number_bidx == number_key
        )
    )
    if taken is not None:
        raise TransferError(_l("%(school)s already has a student with this student number."),
                            school=to_school.name)  # fmt: skip
    now = now or utcnow()
    student.school_id = to_school.id
    student.class_id = klass.id if klass is not None else None
    if klass is not None:
        student.grade = klass.grade
    elif grade is not None:
        student.grade = grade
    # Blind indexes are keyed per school (the initials follow in the model's update hook).
    Student.student_number.refresh_index(student)
    Student.name.refresh_index(student)
    transfer = StudentTransfer(
        student_id=student.id, from_school_id=from_school.id, to_school_id=to_school.id,
        by_id=by_id, source=source, created_at=now,
        read_until=now + dt.timedelta(days=read_days(session, student)),
    )  # fmt: skip
    session.add(transfer)
    session.flush()
    session.info.pop(_CACHE, None)
    alerted = receiving_psych_teachers(session, to_school.id)
    audit.record(
        session, audit.AuditAction.STUDENT_TRANSFER, object_type="student", object_id=student.id,
        student_id=student.id, school_id=to_school.id, fields=TRANSFER_FIELDS,
        detail={"from_school": from_school.id, "to_school": to_school.id, "source": source,
                "read_until": transfer.read_until.isoformat(), "alerted": len(alerted)},
    )  # fmt: skip
    STUDENT_TRANSFERRED.emit(
        session, StudentTransferred(student.id, from_school.id, to_school.id, transfer.id)
    )
    return TransferOutcome(transfer, student, from_school, to_school, klass, alerted)


def is_current(student: Student) -> bool:
    """Still at school: a student who left or graduated has a sealed record (``enrolment``)."""
    return student.status == StudentStatus.ACTIVE


def receiving_psych_teachers(session: Session, school_id: uuid.UUID) -> list[str]:
    """Names of the school's active psychology teachers (school-wide memberships): who the
    ``student_transferred_in`` alert reaches first."""
    return list(
        session.scalars(
            select(User.display_name)
            .join(Membership, Membership.user_id == User.id)
            .where(
                Membership.role == Role.PSYCH_TEACHER, Membership.school_id == school_id,
                Membership.class_id.is_(None), User.active.is_(True),
            )
            .distinct().order_by(User.display_name)
        )
    )  # fmt: skip


def find_student(session: Session, school_id: uuid.UUID, number: str) -> Student | None:
    """The student with this number at this school (the number's blind index)."""
    key = Student.student_number.blind_index(school_id, number.strip())
    return session.scalar(
        select(Student).where(Student.school_id == school_id, Student.student_number_bidx == key)
    )


def transfers_of(session: Session, student_id: uuid.UUID) -> Sequence[StudentTransfer]:
    return session.scalars(
        select(StudentTransfer)
        .where(StudentTransfer.student_id == student_id)
        .order_by(StudentTransfer.created_at.desc())
    ).all()


# --------------------------------------------------------------------------- sending school


def _reading_schools(principal: Principal) -> frozenset[uuid.UUID]:
    """Schools where the principal is school-wide staff who read records (not class scopes)."""
    return frozenset(
        s.school_id for s in principal.scopes
        if s.role in SCHOOL_ROLES and s.class_id is None and s.school_id is not None
        and P.RECORD_READ in ROLE_PERMISSIONS[s.role]
    )  # fmt: skip


def reads_for_a_school(principal: Principal) -> bool:
    """Staff who may have students moved away to read (the menu entry's condition)."""
    return bool(_reading_schools(principal))


def reading_school(
    principal: Principal | None, student: Any, now: dt.datetime | None = None
) -> uuid.UUID | None:
    """The sending school whose own writings are all ``principal`` may see of ``student``: set
    when the viewer reads the student only as staff of a school the student left less than the
    read period ago. None when their ordinary access applies (staff of the student's school, a
    counsellor of an escalated case, a break-glass holder) or when they have no such access."""
    if principal is None or type(student).__name__ != "Student":
        return None
    schools = _reading_schools(principal)
    if not schools or student.school_id in schools:
        return None
    if student.id in break_glass_reach(principal):
        return None
    if Role.COUNSELLOR in principal.roles and student.district_involved:
        return None
    session = object_session(student)
    if session is None:
        return None
    cache: dict[tuple[uuid.UUID, uuid.UUID], tuple[uuid.UUID, dt.datetime] | None]
    cache = session.info.setdefault(_CACHE, {})
    key = (principal.user_id, student.id)
    if key not in cache:
        row = session.execute(
            select(StudentTransfer.from_school_id, StudentTransfer.read_until)
            .where(
                StudentTransfer.student_id == student.id,
                StudentTransfer.from_school_id.in_(schools),
            )
            .order_by(StudentTransfer.read_until.desc())
            .limit(1)
        ).first()
        cache[key] = (row[0], row[1]) if row is not None else None
    found = cache[key]
    if found is None or found[1] <= (now or utcnow()):
        return None
    return found[0]


def ensure_written_here(principal: Principal, student: Any, school_id: uuid.UUID | None) -> None:
    """For a page showing one row about ``student`` (a concern, a follow-up...): the sending
    school's staff open only rows written at their school (403 otherwise, audited)."""
    reading = reading_school(principal, student)
    if reading is not None and school_id != reading:
        raise Forbidden(P.RECORD_READ, student, rule="transfer_other_school")


def _transfer_rule(principal: Principal, permission: Permission, target: Any) -> bool:
    """Staff of the sending school read the record and notes during the read period (cut to
    what their school wrote by :func:`reading_school`)."""
    return permission in TRANSFER_READ and reading_school(principal, target) is not None


if _transfer_rule not in RELATIONSHIP_RULES:
    RELATIONSHIP_RULES.append(_transfer_rule)


def list_moved_away(
    session: Session, principal: Principal, now: dt.datetime | None = None
) -> list[tuple[StudentTransfer, Student]]:
    """Students who left the principal's schools and whose read period still runs, newest move
    first (the sending school opens their records from here: they are no longer in its search).
    Audited as a list (ids only)."""
    ensure(principal, P.RECORD_READ)
    schools = _reading_schools(principal)
    found: list[tuple[StudentTransfer, Student]] = []
    if schools:
        now = now or utcnow()
        rows = session.execute(
            select(StudentTransfer, Student)
            .join(Student, Student.id == StudentTransfer.student_id)
            .where(StudentTransfer.from_school_id.in_(schools), StudentTransfer.read_until > now)
            .order_by(StudentTransfer.created_at.desc())
            .limit(MOVED_AWAY_LIMIT)
        ).tuples()
        found = [(t, s) for t, s in rows if reading_school(principal, s, now) == t.from_school_id]
    audit.record(
        session, audit.AuditAction.STUDENT_LIST, object_type="student_transfer",
        fields=["name", "school", "class", "transfer.dates"],
        detail={"students": [s.id for _, s in found], "view": "moved_away", "count": len(found)},
    )  # fmt: skip
    return found
