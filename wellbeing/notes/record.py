"""The counselling-notes section of the growth record: the student's notes as the viewer may
see them (a restricted note outlined for those who may not read it; drafts to their author
only). The content is read on the note's own page, audited there."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..auth.names import user_names
from ..core.authz import Permission, Principal, can
from ..core.states import state_label
from ..students.models import Student
from ..students.record import SectionResult, section
from .forms import TYPE_LABELS
from .queries import SUMMARY_FIELDS, Access, shown_state, visible_notes

RECORD_LIMIT = 30
FULL_FIELDS = [*SUMMARY_FIELDS, "note.type", "note.duration", "note.state"]


@section("notes", order=55)
def notes_section(session: Session, principal: Principal, student: Student) -> SectionResult:
    if not can(principal, Permission.NOTES_READ, student):
        return None
    items = visible_notes(session, principal, student, limit=RECORD_LIMIT)
    may_write = can(principal, Permission.NOTES_WRITE, student)
    if not items and not may_write:
        return None
    fields = list(SUMMARY_FIELDS) if items else []
    if any(item.access == Access.FULL for item in items):
        fields = FULL_FIELDS
    context = {
        "items": items,
        "names": user_names(session, {item.note.author_id for item in items}),
        "types": TYPE_LABELS,
        "states": {item.note.id: state_label(shown_state(item.note)) for item in items},
        "may_write": may_write,
        "limit": RECORD_LIMIT,
        "FULL": Access.FULL,
    }
    return "notes/_record_section.html", context, fields
