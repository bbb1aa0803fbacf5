"""Writing, signing, locking and reading counselling notes, and their addenda.

* :func:`write_note` saves a new note, signed at once (``sign=True``) or as its author's draft;
* :func:`edit_draft` changes a draft, by its author, within ``DRAFT_HOURS`` of its first save;
* :func:`sign_note` locks it for good (``draft → signed``; a ``locked`` draft may still be
  signed by its author, "signed late", which never changes its text). Signing is when a risk
  assessment's proposed tier reaches the risk service, as a *provisional* decision (a person
  confirms it on the tier page; a step-down from red waits for a second person as always);
* :func:`lock_overdue_drafts` (the job) moves drafts past their deadline to ``locked``: the
  text stays as it was, the record shows the note to those who may read it, marked unsigned;
* :func:`add_addendum`: a correction or addition to a signed or locked note by anyone who may
  write notes on the student and read this one; the original stays as it was;
* :func:`read_note`: one note with its addenda as the viewer may see it, audited
  (``NOTE_VIEW`` naming the fields shown, never their content).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.names import user_names
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, ensure
from ..core.errors import DomainError, NotFound
from ..db import utcnow
from ..risk.models import TierDecision
from ..risk.services import apply_tier
from ..students.chip import chip_fields
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from .models import (
    DRAFT_HOURS,
    MAX_CONTENT,
    MAX_DURATION,
    NOTE_STATES,
    NOTE_TYPES,
    RISK_ITEMS,
    CounsellingNote,
    NoteAddendum,
    NoteState,
)
from .queries import Access, addenda_of, fields_for, is_editable, note_access


class NoteError(DomainError):
    code = "note_refused"


@dataclass
class NoteInput:
    """What the author writes (shape checked by the form, rules by :func:`check_input`)."""

    session_date: dt.date
    note_type: str
    duration_minutes: int
    content: str
    restricted: bool = False
    checklist: list[str] = field(default_factory=list)
    proposed_tier: int | None = None


def check_input(data: NoteInput, now: dt.datetime) -> None:
    if data.note_type not in NOTE_TYPES:
        raise NoteError(_l("Choose the type of session."))
    if not 1 <= data.duration_minutes <= MAX_DURATION:
        raise NoteError(_l("Enter a duration in minutes, from 1 to %(n)s."), n=MAX_DURATION)
    if data.session_date > (now + dt.timedelta(hours=14)).date():  # any time zone's today
        raise NoteError(_l("A note records a session that has taken place."))
    content = data.content.strip()
    if not content:
        raise NoteError(_l("Write what happened in the session."))
    if len(content) > MAX_CONTENT:
        raise NoteError(_l("The note is longer than %(n)s characters."), n=MAX_CONTENT)
    if any(item not in RISK_ITEMS for item in data.checklist):
        raise NoteError(_l("Unknown risk-assessment item."))
    if data.proposed_tier is not None and data.proposed_tier not in (0, 1, 2, 3):
        raise NoteError(_l("Choose a tier."))


def _fill(note: CounsellingNote, data: NoteInput) -> None:
    note.session_date, note.note_type = data.session_date, data.note_type
    note.duration_minutes, note.restricted = data.duration_minutes, data.restricted
    note.content = data.content.strip()
    note.checklist = sorted(set(data.checklist)) or None
    note.proposed_tier = data.proposed_tier


def _audit(session: Session, action: AuditAction, note: CounsellingNote, **detail: object) -> None:
    audit.record(
        session, action, object_type="counselling_note", object_id=note.id,
        student_id=note.student_id, school_id=note.school_id,
        detail={"state": note.state, "restricted": note.restricted, **detail},
    )  # fmt: skip


def write_note(
    session: Session,
    actor: Principal,
    student: Student,
    data: NoteInput,
    *,
    sign: bool,
    now: dt.datetime | None = None,
) -> CounsellingNote:
    """A new note about ``student`` by ``actor``: signed at once, or a draft for 24 hours."""
    now = now or utcnow()
    ensure(actor, Permission.NOTES_WRITE, student)
    ensure_not_sealed(student)
    check_input(data, now)
    note = CounsellingNote(
        id=uuid.uuid4(), student_id=student.id, school_id=student.school_id,
        author_id=actor.user_id, state=NoteState.DRAFT, created_at=now,
    )  # fmt: skip
    _fill(note, data)
    session.add(note)
    session.flush()
    _audit(session, AuditAction.NOTE_CREATE, note, type=note.note_type)
    if sign:
        sign_note(session, actor, note, now=now)
    return note


def _own_note(actor: Principal, note: CounsellingNote, student: Student) -> None:
    ensure(actor, Permission.NOTES_WRITE, student)
    ensure_not_sealed(student)
    if note.author_id != actor.user_id:
        raise Forbidden(
            Permission.NOTES_WRITE, note, rule="note_author_only",
            message=_l("Only the author of a note may change or sign it."),
        )  # fmt: skip


def edit_draft(
    session: Session,
    actor: Principal,
    note: CounsellingNote,
    data: NoteInput,
    *,
    sign: bool = False,
    now: dt.datetime | None = None,
) -> CounsellingNote:
    """Change a draft (its author, within its 24 hours); optionally sign it in the same save."""
    now = now or utcnow()
    student = _student(session, note)
    _own_note(actor, note, student)
    if not is_editable(note, now):
        raise NoteError(
            _l("This note can no longer be changed: add a correction (an addendum) instead.")
        )
    check_input(data, now)
    _fill(note, data)
    note.updated_at = now
    if sign:
        sign_note(session, actor, note, now=now)
    return note


def sign_note(
    session: Session, actor: Principal, note: CounsellingNote, *, now: dt.datetime | None = None
) -> TierDecision | None:
    """Sign and lock the note (its author only). Returns the tier decision its risk assessment
    proposed, if any (provisional, or pending for a step-down from red)."""
    now = now or utcnow()
    student = _student(session, note)
    _own_note(actor, note, student)
    if note.state == NoteState.DRAFT and not is_editable(note, now):
        _lock(session, note, now)
    NOTE_STATES.move(note, NoteState.SIGNED)
    note.signed_at = now
    session.flush()
    _audit(session, AuditAction.NOTE_SIGN, note, late=note.signed_late)
    return _propose_tier(session, actor, note, student, now)


def _propose_tier(
    session: Session, actor: Principal, note: CounsellingNote, student: Student, now: dt.datetime
) -> TierDecision | None:
    if note.proposed_tier is None or note.proposed_tier == student.tier:
        return None
    decision = apply_tier(
        session, actor, student, note.proposed_tier, source="session", reason="session",
        provisional=True, source_id=note.id, now=now,
    )  # fmt: skip
    if decision is not None:
        session.flush()
        note.decision_id = decision.id
    return decision


def _lock(session: Session, note: CounsellingNote, now: dt.datetime) -> None:
    NOTE_STATES.move(note, NoteState.LOCKED)
    note.locked_at = now
    session.flush()
    _audit(session, AuditAction.NOTE_LOCK, note)


def lock_overdue_drafts(session: Session, now: dt.datetime | None = None) -> int:
    """Lock every draft older than ``DRAFT_HOURS`` (the job); returns how many."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(hours=DRAFT_HOURS)
    drafts = session.scalars(
        select(CounsellingNote).where(
            CounsellingNote.state == NoteState.DRAFT, CounsellingNote.created_at < cutoff
        )
    ).all()
    for note in drafts:
        _lock(session, note, now)
    return len(drafts)


def add_addendum(
    session: Session,
    actor: Principal,
    note: CounsellingNote,
    text: str,
    *,
    now: dt.datetime | None = None,
) -> NoteAddendum:
    """A correction or addition to a note that is no longer a draft; the note stays as it is."""
    now = now or utcnow()
    student = _student(session, note)
    ensure(actor, Permission.NOTES_WRITE, student)
    ensure_not_sealed(student)
    if note_access(actor, note, student, now) != Access.FULL:
        raise Forbidden(Permission.NOTES_READ_RESTRICTED, note, rule="note_restricted")
    if note.state == NoteState.DRAFT and is_editable(note, now):
        raise NoteError(_l("A draft is changed, not corrected: edit it or sign it first."))
    text = text.strip()
    if not text:
        raise NoteError(_l("Write the addendum."))
    if len(text) > MAX_CONTENT:
        raise NoteError(_l("The note is longer than %(n)s characters."), n=MAX_CONTENT)
    if note.state == NoteState.DRAFT:
        _lock(session, note, now)
    addendum = NoteAddendum(id=uuid.uuid4(), note_id=note.id, author_id=actor.user_id,
                            created_at=now)  # fmt: skip
    addendum.text = text
    session.add(addendum)
    session.flush()
    _audit(session, AuditAction.NOTE_ADDENDUM, note, addendum=addendum.id)
    return addendum


@dataclass(frozen=True)
class NoteView:
    note: CounsellingNote
    student: Student
    access: Access
    addenda: list[NoteAddendum]


def _student(session: Session, note: CounsellingNote) -> Student:
    student = session.get(Student, note.student_id)
    if student is None:
        raise NotFound(_l("There is no such note."))
    return student


def get_note(
    session: Session, actor: Principal, note_id: uuid.UUID
) -> tuple[CounsellingNote, Student]:
    """The note and its student for a page that acts on it (not audited: the page's read is);
    ``NotFound`` when there is none or the viewer may not know it exists (another's draft)."""
    note = session.get(CounsellingNote, note_id)
    if note is None:
        raise NotFound(_l("There is no such note."))
    student = _student(session, note)
    ensure(actor, Permission.NOTES_READ, student)
    if note_access(actor, note, student) == Access.HIDDEN:
        raise NotFound(_l("There is no such note."))
    return note, student


def read_note(session: Session, actor: Principal, note_id: uuid.UUID) -> NoteView:
    """One note as the viewer may see it, with its addenda when they see it whole; audited."""
    note, student = get_note(session, actor, note_id)
    access = note_access(actor, note, student)
    addenda = addenda_of(session, note.id) if access == Access.FULL else []
    audit_note_read(session, note, access)
    return NoteView(note, student, access, addenda)


def audit_note_read(session: Session, note: CounsellingNote, access: Access) -> None:
    audit.record(
        session, AuditAction.NOTE_VIEW, object_type="counselling_note", object_id=note.id,
        student_id=note.student_id, school_id=note.school_id, fields=fields_for(access),
        detail={"students": [note.student_id], "access": str(access)},
    )  # fmt: skip


def student_for_writing(session: Session, actor: Principal, student_id: uuid.UUID) -> Student:
    """The student a new note is about, for the writing page (which names them: audited as a
    ``STUDENT_VIEW`` of the chip's fields)."""
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("There is no such student."))
    ensure(actor, Permission.NOTES_WRITE, student)
    ensure_not_sealed(student)
    audit.record(
        session, AuditAction.STUDENT_VIEW, object_type="student", object_id=student.id,
        student_id=student.id, school_id=student.school_id,
        fields=chip_fields(actor, [student]),
    )  # fmt: skip
    return student


def draft_for_editing(
    session: Session, actor: Principal, note_id: uuid.UUID
) -> tuple[CounsellingNote, Student]:
    """The author's draft for the editing page (its content shown: audited as a read)."""
    note, student = get_note(session, actor, note_id)
    _own_note(actor, note, student)
    audit_note_read(session, note, Access.FULL)
    return note, student


def people_named(session: Session, view: NoteView) -> dict[uuid.UUID, str]:
    """Display names of the note's author and its addenda's authors."""
    return user_names(session, {view.note.author_id, *(a.author_id for a in view.addenda)})
