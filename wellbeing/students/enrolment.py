"""Leaving, graduation and the sealed record (issue 14 item 9).

A student is enrolled (``active``) until the administrator records that they left the school or
graduated (``STUDENT_STATUSES``: both are final). That seals the record:

* **read-only for everyone**: every service that writes about a student calls
  :func:`ensure_not_sealed` (notes, concerns, crises and their guardian contacts, follow-ups,
  tier decisions, guardians' details...), which refuses with :class:`RecordSealed`;
* **closed to school staff**: ``core.authz.can`` refuses every student-scoped permission on a
  sealed student (``Student.sealed``); a district counsellor (or a supervisor, where the
  district's policy allows it) reads it only through a break-glass grant, which on a sealed
  record opens reading only (``authz.SEALED_READABLE``).

The retention purge (:mod:`.retention`) deletes the record ``policy.records.retention_years``
after ``left_at``. Who may record a leaver: whoever imports the school's roster
(``ROSTER_IMPORT``, the administrator), or the CLI / a roster job (``principal`` None).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..core import audit
from ..core.authz import Permission, Principal, ensure
from ..core.errors import DomainError
from ..db import utcnow
from ..orgs.models import School
from .events import STUDENT_LEFT, StudentLeft
from .models import STUDENT_STATUSES, Student, StudentStatus

_ACTIONS = {
    StudentStatus.LEFT: audit.AuditAction.STUDENT_LEAVE,
    StudentStatus.GRADUATED: audit.AuditAction.STUDENT_GRADUATE,
}
LEAVING = frozenset(_ACTIONS)


class RecordSealed(DomainError):
    """A write about a student whose record is sealed (left or graduated)."""

    code = "record_sealed"
    status = 409


class EnrolmentError(DomainError):
    code = "enrolment_refused"


def ensure_not_sealed(student: Any) -> None:
    """Refuse any change to a sealed record (call it in every service that writes about a
    student, after the permission check: the seal is the reason, not the person's role)."""
    if getattr(student, "sealed", False):
        raise RecordSealed(
            _l("This student has left or graduated: the record is sealed and read-only.")
        )


def school_today(now: dt.datetime | None = None) -> dt.date:
    """The school's local date (the configured time zone), as ``screening.clock`` counts it."""
    settings = (
        current_app.extensions["wellbeing.settings"]
        if has_app_context() and "wellbeing.settings" in current_app.extensions
        else Settings()
    )
    return (now or utcnow()).astimezone(settings.tz).date()


def record_leaving(
    session: Session,
    principal: Principal | None,
    student: Student,
    status: StudentStatus,
    *,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
    closed: Counter[str] | None = None,
) -> Student:
    """The student left the school or graduated on ``on`` (default: today): the record is
    sealed at once. Audited twice in the same transaction: the leaving and the sealing; then
    ``STUDENT_LEFT`` closes what was open about the student (alerts, follow-ups, the plan),
    counted by kind in ``closed`` when given."""
    if principal is not None:
        school = session.get(School, student.school_id)
        ensure(principal, Permission.ROSTER_IMPORT, school)
    if status not in LEAVING:
        raise EnrolmentError(_l("Choose whether the student left or graduated."))
    now = now or utcnow()
    on = on or school_today(now)
    if on > school_today(now):
        raise EnrolmentError(_l("The date of leaving cannot be in the future."))
    STUDENT_STATUSES.move(student, status, "status")
    student.left_at, student.sealed_at = on, now
    session.flush()
    common: dict[str, Any] = {
        "object_type": "student", "object_id": student.id, "student_id": student.id,
        "school_id": student.school_id,
    }  # fmt: skip
    audit.record(
        session, _ACTIONS[status], fields=["status", "left_at"], detail={"left_at": on}, **common
    )
    audit.record(session, audit.AuditAction.RECORD_SEAL, detail={"sealed_at": now}, **common)
    # What was still open about the student closes in this transaction (see ``StudentLeft``).
    STUDENT_LEFT.emit(
        session,
        StudentLeft(student.id, student.school_id, str(status), on,
                    principal.user_id if principal is not None else None,
                    closed if closed is not None else Counter()),
    )  # fmt: skip
    return student


@dataclass
class LeaversResult:
    """What :func:`record_leavers` did with a list of student numbers of one school."""

    sealed: list[Student] = field(default_factory=list)
    already: int = 0  # already left or graduated (left as they were)
    unknown: int = 0  # no such student number in the school
    # What closing the records closed, by kind (alerts, followups, plans, tasks: StudentLeft).
    closed: Counter[str] = field(default_factory=Counter)


def record_leavers(
    session: Session,
    principal: Principal | None,
    school: School,
    numbers: Collection[str],
    status: StudentStatus,
    *,
    on: dt.date | None = None,
    now: dt.datetime | None = None,
) -> LeaversResult:
    """Mark students of ``school`` found by student number (a class that graduated, a list of
    leavers) as left or graduated; numbers not found or already sealed are counted, not
    refused, so one list can be applied twice."""
    if principal is not None:
        ensure(principal, Permission.ROSTER_IMPORT, school)
    index = Student.student_number.blind_index
    keys = {index(school.id, n.strip()) for n in numbers if n.strip()}
    found = list(
        session.scalars(
            select(Student).where(
                Student.school_id == school.id, Student.student_number_bidx.in_(list(keys))
            )
        )
    )
    # Blind indexes are truncated: drop the rare false match by the decrypted number.
    wanted = {n.strip().casefold() for n in numbers if n.strip()}
    found = [s for s in found if (s.student_number or "").strip().casefold() in wanted]
    result = LeaversResult(unknown=len(wanted) - len(found))
    for student in found:
        if student.sealed:
            result.already += 1
            continue
        result.sealed.append(
            record_leaving(session, principal, student, status, on=on, now=now,
                           closed=result.closed)
        )  # fmt: skip
    return result


def sealed(student: Any) -> bool:
    """For templates: is this student's record sealed?"""
    return bool(getattr(student, "sealed", False))
