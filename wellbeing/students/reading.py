"""Reading the register: search by name or number, the student page and its timeline, each
audited (one ``STUDENT_LIST`` or ``STUDENT_VIEW`` entry naming the fields shown)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core import audit
from ..core.authz import Permission, Principal, can, ensure
from ..orgs.labels import class_number
from . import queries
from .collation import pinyin_key
from .models import Student
from .record import RenderedSection, render_sections
from .services import StudentError
from .timeline import Timeline, collect, fields_shown

SEARCH_LIMIT = 50
LIST_FIELDS = ("name", "class", "tier")
# What the JSON API shows of a student (never the name or anything clinical).
API_FIELDS = ("school", "grade", "class", "status", "tier")


# --------------------------------------------------------------------------- search


@dataclass(frozen=True)
class SearchHit:
    id: uuid.UUID
    name: str
    grade: int
    class_label: str | None
    school_name: str
    tier: int
    tier_provisional: bool
    status: str


@dataclass
class SearchResult:
    query_kind: str
    hits: list[SearchHit]
    truncated: bool = False


def search_students(
    session: Session, principal: Principal, text: str, *, limit: int = SEARCH_LIMIT
) -> SearchResult:
    """Exact search by full name, student number or pinyin initials, in the user's schools.

    Only students the user may open are listed; the listing is audited (ids only, never the
    query: it is a child's name).
    """
    ensure(principal, Permission.STUDENTS_SEARCH)
    text = " ".join(text.split())[:60]
    if not text:
        raise StudentError(_l("enter a name or a student number"))
    kinds = queries.query_kinds(text)
    school_ids = queries.searchable_school_ids(session, principal)
    candidates = queries.find_students(session, school_ids, text, kinds, limit=limit * 4)
    visible = [s for s in candidates if _may_read(principal, s)]
    truncated = len(visible) > limit
    visible = visible[:limit]
    hits = _hits(session, visible)
    audit.record(
        session, audit.AuditAction.STUDENT_SEARCH, object_type="student", fields=LIST_FIELDS,
        detail={"students": [h.id for h in hits], "by": "+".join(kinds), "count": len(hits)},
    )  # fmt: skip
    return SearchResult("+".join(kinds), hits, truncated)


@dataclass
class NumberLookup:
    students: list[Student]
    truncated: bool = False


def lookup_by_number(
    session: Session,
    principal: Principal,
    number: str,
    *,
    school_code: str | None = None,
    limit: int = SEARCH_LIMIT,
) -> NumberLookup:
    """Exact lookup by student number (the API's search): the same scope rules as
    :func:`search_students`, only the number's blind index, optionally in one school.

    A number that is unknown, in a school the user may not search or of a student they may
    not open gives the same empty result. Audited like the search (ids only, never the number).
    """
    ensure(principal, Permission.STUDENTS_SEARCH)
    number = "".join(number.split())[:60]
    if "number" not in queries.query_kinds(number):
        raise StudentError(_l("not a student number"))
    school_ids = queries.searchable_school_ids(session, principal)
    if school_code is not None:
        wanted = queries.school_id_for_code(session, school_code.strip()[:32])
        school_ids &= {wanted} if wanted is not None else set()
    candidates = queries.find_students(session, school_ids, number, ["number"], limit=limit * 4)
    visible = [s for s in candidates if _may_read(principal, s)]
    found = NumberLookup(visible[:limit], len(visible) > limit)
    audit.record(
        session, audit.AuditAction.STUDENT_SEARCH, object_type="student", fields=API_FIELDS,
        detail={"students": [s.id for s in found.students], "by": "number",
                "count": len(found.students)},
    )  # fmt: skip
    return found


def _may_read(principal: Principal, student: Student) -> bool:
    return can(principal, Permission.RECORD_READ, student)


def _hits(session: Session, students: list[Student]) -> list[SearchHit]:
    class_by_id = queries.classes_by_id(session, {s.class_id for s in students if s.class_id})
    school_names = queries.school_names(session, {s.school_id for s in students})
    hits = []
    for s in students:
        klass = class_by_id.get(s.class_id) if s.class_id else None
        hits.append(
            SearchHit(
                s.id, s.name, s.grade, klass.label if klass else None,
                school_names.get(s.school_id, ""), s.tier, s.tier_provisional, s.status,
            )
        )  # fmt: skip
    # as a school lists its pupils: by school, grade and class, then names by pinyin
    hits.sort(
        key=lambda h: (
            pinyin_key(h.school_name), h.grade, class_number(h.class_label) or 0,
            h.class_label or "", pinyin_key(h.name),
        )
    )  # fmt: skip
    return hits


# --------------------------------------------------------------------------- the student page


@dataclass
class StudentRecord:
    student: Student
    sections: list[RenderedSection]


def open_record(
    session: Session, principal: Principal, student_id: uuid.UUID
) -> StudentRecord | None:
    """The growth record of one student (None when there is no such student); audited with
    the names of every field the page shows."""
    student = session.get(Student, student_id)
    if student is None:
        return None
    ensure(principal, Permission.RECORD_READ, student)
    sections = render_sections(session, principal, student)
    fields = {f for s in sections for f in s.fields}
    audit.record(
        session, audit.AuditAction.STUDENT_VIEW, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id, fields=fields,
    )  # fmt: skip
    return StudentRecord(student, sections)


def read_summary(session: Session, principal: Principal, student_id: uuid.UUID) -> Student | None:
    """One student's register fields for the API (:data:`API_FIELDS`), None when there is no
    such student; audited like the student page, with the fields returned."""
    student = session.get(Student, student_id)
    if student is None:
        return None
    ensure(principal, Permission.RECORD_READ, student)
    audit.record(
        session, audit.AuditAction.STUDENT_VIEW, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id, fields=API_FIELDS,
    )  # fmt: skip
    return student


def open_timeline(
    session: Session, principal: Principal, student_id: uuid.UUID, *,
    since: dt.datetime | None = None, until: dt.datetime | None = None,
    kinds: Iterable[str] | None = None,
) -> tuple[Student, Timeline] | None:  # fmt: skip
    """The student's growth-record timeline (None when there is no such student): every
    module's items as far as ``principal`` may see them, and ONE ``STUDENT_VIEW`` entry naming
    the kinds shown (``timeline.<kind>``, ``.summary`` for outlines), never their values."""
    student = session.get(Student, student_id)
    if student is None:
        return None
    ensure(principal, Permission.RECORD_READ, student)
    timeline = collect(session, principal, student, since=since, until=until, only=kinds)
    audit.record(
        session, audit.AuditAction.STUDENT_VIEW, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id,
        fields=["timeline", *fields_shown(timeline)],
    )  # fmt: skip
    return student, timeline
