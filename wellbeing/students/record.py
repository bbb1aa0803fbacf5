"""The growth record (心理成长档案): the student page is built from sections.

Each module adds its part of the record in its own ``record.py`` (found and imported by
``wellbeing.modules.import_services``, like every part a module contributes), without touching
this module; a section is registered nowhere else::

    # wellbeing/screening/record.py
    from ..students.record import section

    @section("screening", order=30)
    def screening_section(session, principal, student):
        if not can(principal, Permission.SCREENING_READ, student):
            return None                      # nothing shown, nothing recorded
        rows = ...
        return "screening/_record_section.html", {"rows": rows}, ["screening.scores"]

A section function takes ``(session, principal, student)`` and returns ``None`` (nothing to
show), ``(template, context)`` or ``(template, context, fields)``; ``fields`` names the data the
section shows (never values) and is added to the page's ``STUDENT_VIEW`` audit entry. The
template is included with ``student`` and ``section`` (the context dict) in scope. Sections are
shown in ascending ``order``; the identity section, this module's own (below), is order 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..orgs.models import School, SchoolClass
from .models import Student
from .transfer import reading_school, transfers_of

SectionResult = tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], Sequence[str]] | None
SectionFunction = Callable[[Session, Principal, Student], SectionResult]


@dataclass(frozen=True)
class Section:
    name: str
    order: int
    render: SectionFunction


@dataclass
class RenderedSection:
    name: str
    template: str
    context: dict[str, Any]
    fields: list[str] = field(default_factory=list)


SECTIONS: dict[str, Section] = {}
# The sections the sending school's staff see during a transfer's read period: each one cuts
# its rows to that school (notes: ``notes.queries.note_access``); the timeline does the rest.
TRANSFER_READER_SECTIONS = frozenset({"identity", "transfer", "notes"})


def section(name: str, order: int = 50) -> Callable[[SectionFunction], SectionFunction]:
    """Register a section of the student page (re-registering a name replaces it)."""

    def register(function: SectionFunction) -> SectionFunction:
        SECTIONS[name] = Section(name, order, function)
        return function

    return register


def ordered_sections() -> list[Section]:
    return sorted(SECTIONS.values(), key=lambda s: (s.order, s.name))


def render_sections(
    session: Session, principal: Principal, student: Student
) -> list[RenderedSection]:
    rendered = []
    # Staff of the school the student left read only what their school wrote (transfer.py).
    cut = reading_school(principal, student) is not None
    for entry in ordered_sections():
        if cut and entry.name not in TRANSFER_READER_SECTIONS:
            continue
        result = entry.render(session, principal, student)
        if result is None:
            continue
        template, context, *rest = result
        fields = [str(f) for f in rest[0]] if rest else []
        rendered.append(RenderedSection(entry.name, template, dict(context), fields))
    return rendered


# --------------------------------------------------------------------------- identity

IDENTITY_FIELDS = (
    "name", "student_number", "sex", "birth_date", "grade", "class", "status", "tier", "guardians",
)  # fmt: skip


@section("identity", order=0)
def identity_section(session: Session, principal: Principal, student: Student) -> SectionResult:
    klass = session.get(SchoolClass, student.class_id) if student.class_id else None
    school = session.get(School, student.school_id)
    context = {
        "name": student.name,
        "student_number": student.student_number,
        "sex": student.sex,
        "birth_date": student.birth_date,
        "grade": student.grade,
        "class_label": klass.label if klass else None,
        "school_name": school.name if school else "",
        "status": student.status,
        "tier": student.tier,
        "tier_provisional": student.tier_provisional,
        "guardians": student.guardians or [],
        # Links (no data): the guardian correction form and the contact log of ``crisis``.
        "can_correct": can(principal, Permission.RECORD_WRITE, student),
        "can_contact": can(principal, Permission.CRISIS_MANAGE, student),
    }
    return "students/_identity.html", context, IDENTITY_FIELDS


# --------------------------------------------------------------------------- transfers

TRANSFER_SECTION_FIELDS = ("transfer.schools", "transfer.dates")


@section("transfer", order=1)
def transfer_section(session: Session, principal: Principal, student: Student) -> SectionResult:
    """The student's moves between schools; for the sending school's staff, until when they
    read (and that they see only what their school wrote)."""
    moves = transfers_of(session, student.id)
    if not moves:
        return None
    ids = {m.from_school_id for m in moves} | {m.to_school_id for m in moves}
    names = select(School.id, School.name).where(School.id.in_(ids))
    schools = dict(session.execute(names).tuples().all())
    reading = reading_school(principal, student)
    context = {
        "moves": moves,
        "schools": schools,
        # The move this viewer reads through (the sending school's staff), else None.
        "reader_move": next((m for m in moves if m.from_school_id == reading), None),
    }
    return "students/_transfer_section.html", context, TRANSFER_SECTION_FIELDS
