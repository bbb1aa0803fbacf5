"""The counselling-notes part of the growth-record timeline.

Each note the viewer may see, by the rules of :func:`.queries.note_access`: in full, its type,
duration and state with a link to the note (whose page shows the content, audited); a
restricted note for those who may not read it as "restricted note by X on date" (a summary
item: no type, no content, no link); another person's draft not at all.
"""

from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import format_date, ngettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, can
from ..core.states import state_label
from ..students.models import Student
from ..students.timeline import SUMMARY, TimelineItem, names_of, newest
from .forms import TYPE_LABELS
from .models import CounsellingNote, NoteState
from .queries import Access, addenda_of, note_access, shown_state, visible_notes

KINDS = {"note": _l("Counselling notes")}


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    if not can(principal, Permission.NOTES_READ, student):
        return []
    rows = newest(session, CounsellingNote, CounsellingNote.created_at, student, since, until)
    names = names_of(session, {row.author_id for row in rows})
    found = []
    for row in rows:
        access = note_access(principal, row, student)
        if access == Access.HIDDEN:
            continue
        author = names.get(row.author_id)
        if access == Access.SUMMARY:
            title = _l("Restricted note by %(name)s on %(date)s", name=author or "",
                       date=format_date(row.session_date))  # fmt: skip
            found.append(TimelineItem(at=row.created_at, kind="note", title=str(title),
                                      visibility=SUMMARY, actor=author))  # fmt: skip
            continue
        # The label first: a translation call nested in ngettext's arguments hides its plural
        # from the message extractor.
        note_type = TYPE_LABELS.get(row.note_type, _l("Other"))
        lines = [
            ngettext("Session: %(date)s, %(type)s, %(num)d minute",
                     "Session: %(date)s, %(type)s, %(num)d minutes", row.duration_minutes,
                     date=format_date(row.session_date), type=note_type),
            str(_l("State: %(state)s", state=state_label(shown_state(row)))),
        ]  # fmt: skip
        title = _l("Restricted note") if row.restricted else _l("Counselling note")
        found.append(
            TimelineItem(
                at=row.created_at, kind="note", title=str(title), lines=tuple(lines),
                actor=author, url=url_for("notes.detail", note_id=row.id),
                fields=("note.type", "note.duration", "note.state"),
            )
        )  # fmt: skip
    return found


def export_items(
    session: Session, principal: Principal, student: Student, include_restricted: bool
) -> list[TimelineItem]:
    """The notes in the copy of the record made for a guardian (``students/export.py``): each
    note the exporting person reads in full, with its content and addenda; never a draft; a
    restricted note only when ``include_restricted`` (the export service allows that to district
    counsellors, with a reason)."""
    notes = [
        entry.note for entry in visible_notes(session, principal, student)
        if entry.access == Access.FULL and shown_state(entry.note) != NoteState.DRAFT
        and (include_restricted or not entry.note.restricted)
    ]  # fmt: skip
    names = names_of(session, {note.author_id for note in notes})
    found = []
    for note in notes:
        note_type = TYPE_LABELS.get(note.note_type, _l("Other"))
        lines = [
            ngettext("Session: %(date)s, %(type)s, %(num)d minute",
                     "Session: %(date)s, %(type)s, %(num)d minutes", note.duration_minutes,
                     date=format_date(note.session_date), type=note_type),
            str(note.content or ""),
        ]  # fmt: skip
        for addendum in addenda_of(session, note.id):
            lines.append(str(_l(
                "Addendum of %(date)s: %(text)s",
                date=format_date(addendum.created_at.date()), text=addendum.text or "",
            )))  # fmt: skip
        title = _l("Restricted note") if note.restricted else _l("Counselling note")
        found.append(
            TimelineItem(
                at=note.created_at, kind="note", title=str(title), lines=tuple(lines),
                actor=names.get(note.author_id),
                fields=("note.type", "note.duration", "note.content", "note.addenda"),
            )
        )  # fmt: skip
    return found
