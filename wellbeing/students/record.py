"""The growth record (心理成长档案): the student page is built from sections.

Each module adds its part of the record without touching this module::

    from wellbeing.students.record import section

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
shown in ascending ``order``; the identity section of this module is order 0.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ..core.authz import Principal

SectionResult = tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], Sequence[str]] | None
SectionFunction = Callable[[Session, Principal, Any], SectionResult]


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


def section(name: str, order: int = 50) -> Callable[[SectionFunction], SectionFunction]:
    """Register a section of the student page (re-registering a name replaces it)."""

    def register(function: SectionFunction) -> SectionFunction:
        SECTIONS[name] = Section(name, order, function)
        return function

    return register


def ordered_sections() -> list[Section]:
    return sorted(SECTIONS.values(), key=lambda s: (s.order, s.name))


def render_sections(session: Session, principal: Principal, student: Any) -> list[RenderedSection]:
    rendered = []
    for entry in ordered_sections():
        result = entry.render(session, principal, student)
        if result is None:
            continue
        template, context, *rest = result
        fields = [str(f) for f in rest[0]] if rest else []
        rendered.append(RenderedSection(entry.name, template, dict(context), fields))
    return rendered
