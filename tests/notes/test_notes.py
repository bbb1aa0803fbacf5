"""Counselling notes: signing, drafts and their 24 hours, restricted notes, addenda, the tier a
risk assessment proposes, the audit of every read, and immutability (no UPDATE of a signed
note's content reaches the database, through the ORM or through the services)."""

from __future__ import annotations

import contextlib
import datetime as dt

import pytest
from sqlalchemy import event, select

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.core.states import IllegalTransition
from wellbeing.notes import services
from wellbeing.notes.models import CounsellingNote, NoteAddendum, NoteLocked, NoteState
from wellbeing.notes.queries import Access, note_access, shown_state, visible_notes
from wellbeing.risk.models import TierDecision

from .helpers import NOW, note_input, notes_world, principal

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def world(db_session, env):  # type: ignore[no-untyped-def]
    _school, staff, student = notes_world(db_session, env.settings)
    people = {role: principal(db_session, user) for role, user in staff.items()}
    return people, student


def test_a_signed_note_is_encrypted_locked_and_audited(db_session, world, audit_entries):
    people, student = world
    note = services.write_note(db_session, people["psych_teacher"], student, note_input(),
                               sign=True, now=NOW)  # fmt: skip
    assert note.state == NoteState.SIGNED and note.signed_at == NOW and not note.signed_late
    db_session.flush()
    raw = db_session.execute(
        select(CounsellingNote.__table__.c.content_ct).where(
            CounsellingNote.__table__.c.id == note.id
        )
    ).scalar()
    assert raw is not None and "睡不好".encode() not in bytes(raw)
    actions = [e.action for e in audit_entries()]
    assert AuditAction.NOTE_CREATE in actions and AuditAction.NOTE_SIGN in actions
    with pytest.raises(services.NoteError):
        services.edit_draft(db_session, people["psych_teacher"], note,
                            note_input(content="changed"), now=NOW)  # fmt: skip
    assert note.content == note_input().content


def test_a_draft_is_its_authors_alone_for_24_hours(db_session, world):
    people, student = world
    author = people["psych_teacher"]
    note = services.write_note(db_session, author, student, note_input(), sign=False, now=NOW)
    assert note_access(author, note, student, NOW) == Access.FULL
    for role in ("other_psych", "school_leader", "counsellor", "class_teacher"):
        assert note_access(people[role], note, student, NOW) == Access.HIDDEN, role
        assert visible_notes(db_session, people[role], student, now=NOW) == []
    services.edit_draft(db_session, author, note, note_input(content="第二稿"), now=NOW + 23 * HOUR)
    assert note.content == "第二稿" and note.state == NoteState.DRAFT
    with pytest.raises(Forbidden):
        services.edit_draft(db_session, people["other_psych"], note, note_input(), now=NOW)
    with pytest.raises(Forbidden):
        services.sign_note(db_session, people["other_psych"], note, now=NOW)
    later = NOW + 25 * HOUR
    assert shown_state(note, later) == NoteState.LOCKED  # read as locked before the job runs
    with pytest.raises(services.NoteError):
        services.edit_draft(db_session, author, note, note_input(content="第三稿"), now=later)
    assert note.content == "第二稿"


def test_the_job_locks_an_unsigned_draft_and_its_author_may_still_sign_it(db_session, world):
    people, student = world
    author = people["psych_teacher"]
    note = services.write_note(db_session, author, student, note_input(), sign=False, now=NOW)
    assert services.lock_overdue_drafts(db_session, NOW + 23 * HOUR) == 0
    assert services.lock_overdue_drafts(db_session, NOW + 25 * HOUR) == 1
    assert note.state == NoteState.LOCKED and note.content == note_input().content
    # others who may read notes now see it (marked unsigned)
    assert note_access(people["other_psych"], note, student) == Access.FULL
    services.sign_note(db_session, author, note, now=NOW + 30 * HOUR)
    assert note.state == NoteState.SIGNED and note.signed_late
    with pytest.raises(IllegalTransition):
        services.sign_note(db_session, author, note, now=NOW + 31 * HOUR)


def test_restricted_notes_by_role(db_session, world):
    people, student = world
    note = services.write_note(db_session, people["psych_teacher"], student,
                               note_input(restricted=True), sign=True, now=NOW)  # fmt: skip
    expected = {
        "psych_teacher": Access.FULL,  # the author
        "counsellor": Access.FULL,  # district counsellor, student in scope
        "other_psych": Access.SUMMARY,
        "school_leader": Access.SUMMARY,  # never reads restricted notes
        "class_teacher": Access.HIDDEN,
        "partner": Access.HIDDEN,
        "supervisor": Access.HIDDEN,
        "admin": Access.HIDDEN,
    }
    assert {role: note_access(people[role], note, student) for role in expected} == expected
    with pytest.raises(Forbidden):  # cannot correct what one may not read
        services.add_addendum(db_session, people["other_psych"], note, "补充", now=NOW)
    view = services.read_note(db_session, people["school_leader"], note.id)
    assert view.access == Access.SUMMARY and view.addenda == []


def test_an_addendum_keeps_the_original(db_session, world, audit_entries):
    people, student = world
    note = services.write_note(db_session, people["psych_teacher"], student, note_input(),
                               sign=True, now=NOW)  # fmt: skip
    services.add_addendum(db_session, people["other_psych"], note, "更正：是四十分钟。", now=NOW)
    services.add_addendum(db_session, people["counsellor"], note, "区中心已跟进。", now=NOW + HOUR)
    with pytest.raises(Forbidden):
        services.add_addendum(db_session, people["school_leader"], note, "x", now=NOW)
    with pytest.raises(services.NoteError):
        services.add_addendum(db_session, people["psych_teacher"], note, "  ", now=NOW)
    view = services.read_note(db_session, people["school_leader"], note.id)
    assert view.access == Access.FULL
    assert [a.text for a in view.addenda] == ["更正：是四十分钟。", "区中心已跟进。"]
    assert note.content == note_input().content
    [entry] = audit_entries(AuditAction.NOTE_VIEW)
    assert entry.student_id == student.id and "note.content" in entry.fields
    assert "睡不好" not in str(entry.detail) and "更正" not in str(entry.detail)
    draft = services.write_note(db_session, people["psych_teacher"], student, note_input(),
                                sign=False, now=NOW)  # fmt: skip
    with pytest.raises(services.NoteError):  # a draft is edited, not corrected
        services.add_addendum(db_session, people["psych_teacher"], draft, "x", now=NOW)


def test_the_risk_assessment_proposes_a_provisional_tier_when_signed(db_session, world):
    people, student = world
    author = people["psych_teacher"]
    draft = services.write_note(db_session, author, student,
                                note_input(checklist=["self_harm", "hopelessness"], proposed_tier=2),
                                sign=False, now=NOW)  # fmt: skip
    assert student.tier == 0 and draft.decision_id is None  # a draft proposes nothing yet
    services.sign_note(db_session, author, draft, now=NOW + HOUR)
    decision = db_session.get(TierDecision, draft.decision_id)
    assert decision is not None and decision.to_tier == 2 and decision.source == "session"
    assert decision.provisional and student.tier == 2 and student.tier_provisional
    assert draft.checklist == ["hopelessness", "self_harm"]


def test_the_orm_guard_refuses_any_update_of_a_signed_note(db_session, world):
    people, student = world
    note = services.write_note(db_session, people["psych_teacher"], student, note_input(),
                               sign=True, now=NOW)  # fmt: skip
    db_session.flush()
    for change in (
        lambda n: setattr(n, "content", "rewritten"),
        lambda n: setattr(n, "restricted", True),
        lambda n: setattr(n, "duration_minutes", 5),
        lambda n: setattr(n, "checklist", ["self_harm"]),
    ):
        change(note)
        with pytest.raises(NoteLocked):
            db_session.flush()
        db_session.expire(note)
    assert note.content == note_input().content
    addendum = services.add_addendum(db_session, people["psych_teacher"], note, "补充", now=NOW)
    db_session.flush()
    addendum.text = "rewritten"
    with pytest.raises(NoteLocked):
        db_session.flush()
    db_session.expire(addendum)
    db_session.delete(note)
    with pytest.raises(NoteLocked):
        db_session.flush()
    db_session.expunge_all()


def test_no_update_of_content_reaches_the_database_through_the_services(db_session, world):
    people, student = world
    statements: list[str] = []

    def capture(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("UPDATE COUNSELLING_NOTE"):
            statements.append(statement)

    author = people["psych_teacher"]
    note = services.write_note(db_session, author, student, note_input(), sign=True, now=NOW)
    db_session.flush()
    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        for attempt in (
            lambda: services.edit_draft(db_session, author, note, note_input(content="x"), now=NOW),
            lambda: services.sign_note(db_session, author, note, now=NOW),
            lambda: services.add_addendum(db_session, people["counsellor"], note, "补充", now=NOW),
        ):
            with contextlib.suppress(services.NoteError, IllegalTransition):
                attempt()
            db_session.flush()
        services.lock_overdue_drafts(db_session, NOW + 48 * HOUR)
        db_session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert not [s for s in statements if "content_ct" in s or "checklist_ct" in s]
    stored = db_session.scalars(select(NoteAddendum).where(NoteAddendum.note_id == note.id)).all()
    assert len(stored) == 1
    assert db_session.get(CounsellingNote, note.id).content == note_input().content
