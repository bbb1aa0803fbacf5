"""Who sees how much of a counselling note, and a student's notes as the viewer may see them.

Read-only: these never write and never audit (the record section's fields go into the page's
one ``STUDENT_VIEW`` entry; a note's own page audits through the service).

The visibility of one note for one viewer, :func:`note_access`:

* ``hidden``: the viewer may not read the student's notes (``NOTES_READ``), or the note is a
  draft of someone else (a draft is its author's alone);
* ``summary``: a restricted note, for everyone who may read notes but is neither its author nor
  holds ``NOTES_READ_RESTRICTED`` (school leaders, other psychology teachers): they see "restricted
  note by X on date", never its type, duration, content, checklist or addenda;
* ``full``: everything, addenda included.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..db import utcnow
from ..students.transfer import reading_school
from .models import CounsellingNote, NoteAddendum, NoteState


class Access(StrEnum):
    HIDDEN = "hidden"
    SUMMARY = "summary"
    FULL = "full"


# The fields each level shows (named in audit entries, never their values).
SUMMARY_FIELDS = ("note.author", "note.session_date", "note.restricted")
FULL_FIELDS = (
    *SUMMARY_FIELDS, "note.type", "note.duration", "note.content", "note.checklist",
    "note.proposed_tier", "note.state", "note.addenda",
)  # fmt: skip


def note_access(
    principal: Principal | None,
    note: CounsellingNote,
    student: Any,
    now: dt.datetime | None = None,
) -> Access:
    """How much of ``note`` (about ``student``) ``principal`` may see (at ``now``: a draft past
    its 24 hours is read as locked, whether or not the job has moved it yet)."""
    if principal is None or not can(principal, Permission.NOTES_READ, student):
        return Access.HIDDEN
    reading = reading_school(principal, student, now)
    if reading is not None and note.school_id != reading:
        return Access.HIDDEN  # the school the student left reads only its own notes
    is_author = note.author_id == principal.user_id
    if shown_state(note, now) == NoteState.DRAFT and not is_author:
        return Access.HIDDEN
    if note.restricted and not (
        is_author or can(principal, Permission.NOTES_READ_RESTRICTED, student)
    ):
        return Access.SUMMARY
    return Access.FULL


def fields_for(access: Access) -> tuple[str, ...]:
    if access == Access.FULL:
        return FULL_FIELDS
    return SUMMARY_FIELDS if access == Access.SUMMARY else ()


def is_editable(note: CounsellingNote, now: dt.datetime | None = None) -> bool:
    """A draft within its 24 hours (the only note whose text may change)."""
    return note.state == NoteState.DRAFT and (now or utcnow()) <= note.deadline


def shown_state(note: CounsellingNote, now: dt.datetime | None = None) -> NoteState:
    """The state as people should read it: a draft past its deadline is locked even before the
    job has moved it (the job runs every few minutes; reading never writes)."""
    if note.state == NoteState.DRAFT and not is_editable(note, now):
        return NoteState.LOCKED
    return NoteState(note.state)


@dataclass(frozen=True)
class NoteItem:
    note: CounsellingNote
    access: Access


def visible_notes(
    session: Session,
    principal: Principal,
    student: Any,
    limit: int | None = None,
    now: dt.datetime | None = None,
) -> list[NoteItem]:
    """The student's notes the viewer may see (at least as a summary), newest session first."""
    if not can(principal, Permission.NOTES_READ, student):
        return []
    query = (
        select(CounsellingNote)
        .where(CounsellingNote.student_id == student.id)
        .order_by(CounsellingNote.session_date.desc(), CounsellingNote.created_at.desc())
    )
    items = []
    for note in session.scalars(query):
        access = note_access(principal, note, student, now)
        if access != Access.HIDDEN:
            items.append(NoteItem(note, access))
        if limit is not None and len(items) >= limit:
            break
    return items


def addenda_of(session: Session, note_id: uuid.UUID) -> list[NoteAddendum]:
    return list(
        session.scalars(
            select(NoteAddendum)
            .where(NoteAddendum.note_id == note_id)
            .order_by(NoteAddendum.created_at)
        )
    )
