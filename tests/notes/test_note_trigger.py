"""Migration 0009: the database itself keeps signed and locked notes as they were, against raw
SQL that never passes the ORM guard, on SQLite and PostgreSQL; a retention purge deletes a
student's notes only while ``purge_lock`` names that student (the documented escape)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import TextClause, Uuid, bindparam, text
from sqlalchemy.exc import DBAPIError

from wellbeing.db import UTCDateTime, utcnow
from wellbeing.notes import services
from wellbeing.notes.models import NoteState

from .helpers import NOW, note_input, notes_world, principal


@pytest.fixture
def notes(db_session, env):  # type: ignore[no-untyped-def]
    """A signed note with an addendum, a locked note and a draft, of one student; a second
    student with a signed note."""
    _school, staff, student = notes_world(db_session, env.settings)
    psych = principal(db_session, staff["psych_teacher"])
    signed = services.write_note(db_session, psych, student, note_input(), sign=True, now=NOW)
    locked = services.write_note(db_session, psych, student, note_input(), sign=False, now=NOW)
    draft = services.write_note(db_session, psych, student, note_input(), sign=False, now=NOW)
    db_session.flush()
    services.add_addendum(db_session, psych, signed, "更正：日期", now=NOW)
    db_session.flush()
    run(db_session, "UPDATE counselling_note SET state = 'locked', locked_at = :t WHERE id = :id",
        t=NOW, id=locked.id)  # fmt: skip
    _other_school, other_staff, other_student = notes_world(db_session, env.settings)
    other = services.write_note(
        db_session, principal(db_session, other_staff["psych_teacher"]), other_student,
        note_input(), sign=True, now=NOW,
    )  # fmt: skip
    db_session.flush()
    db_session.expire_all()
    return {
        "signed": signed.id, "locked": locked.id, "draft": draft.id, "other": other.id,
        "student": student.id, "other_student": other_student.id,
    }  # fmt: skip


def sql(statement: str, **params: object) -> TextClause:
    """``statement`` with its parameters typed as the columns are (ids as ``Uuid``, times as
    ``UTCDateTime``): raw SQL, yet stored the way the application stores them."""
    binds = [
        bindparam(name, value, type_=UTCDateTime() if name == "t" else Uuid())
        for name, value in params.items()
    ]
    return text(statement).bindparams(*binds)


def run(session, statement: str, **params: object) -> Any:  # type: ignore[no-untyped-def]
    return session.execute(sql(statement, **params))


def refused(session, statement: str, **params: object) -> None:  # type: ignore[no-untyped-def]
    with (
        pytest.raises(DBAPIError, match=r"immutable|append-only|never deleted"),
        session.begin_nested(),
    ):
        run(session, statement, **params)


FROZEN_CHANGES = [
    ("content_ct", "content_ct = content_ct || content_ct"),
    ("checklist_ct", "checklist_ct = content_ct"),
    ("session_date", "session_date = '2020-01-01'"),
    ("note_type", "note_type = 'phone'"),
    ("duration_minutes", "duration_minutes = duration_minutes + 1"),
    ("restricted", "restricted = NOT restricted"),
    ("proposed_tier", "proposed_tier = 3"),
    ("author_id", "author_id = (SELECT id FROM user_account WHERE id <> author_id LIMIT 1)"),
    ("student_id", "student_id = (SELECT id FROM student WHERE id <> student_id LIMIT 1)"),
    ("state back to draft", "state = 'draft'"),
]


@pytest.mark.parametrize("which", ["signed", "locked"])
@pytest.mark.parametrize(("label", "change"), FROZEN_CHANGES, ids=[c[0] for c in FROZEN_CHANGES])
def test_raw_sql_cannot_change_a_signed_or_locked_note(db_session, notes, which, label, change):
    statement = f"UPDATE counselling_note SET {change} WHERE id = :id"  # noqa: S608 (fixed texts)
    refused(db_session, statement, id=notes[which])


def test_a_signed_note_cannot_go_back_to_locked(db_session, notes):
    refused(db_session, "UPDATE counselling_note SET state = 'locked' WHERE id = :id",
            id=notes["signed"])  # fmt: skip


def test_what_the_services_do_stays_allowed(db_session, notes):
    """A draft is edited, locked and signed; a locked note is signed late; the tier decision is
    linked after signing; a no-op write of a frozen column passes."""
    s = db_session
    run(s, "UPDATE counselling_note SET note_type = 'phone', content_ct = content_ct "
           "WHERE id = :id", id=notes["draft"])  # fmt: skip
    run(s, "UPDATE counselling_note SET state = 'locked', locked_at = :t WHERE id = :id",
        t=utcnow(), id=notes["draft"])  # fmt: skip
    run(s, "UPDATE counselling_note SET state = 'signed', signed_at = :t WHERE id = :id",
        t=utcnow(), id=notes["locked"])  # fmt: skip
    run(s, "UPDATE counselling_note SET decision_id = NULL, updated_at = :t, "
           "note_type = note_type WHERE id = :id", t=utcnow(), id=notes["signed"])  # fmt: skip
    states = run(s, "SELECT state FROM counselling_note WHERE id IN (:a, :b)",
                 a=notes["draft"], b=notes["locked"]).scalars().all()  # fmt: skip
    assert set(states) == {NoteState.LOCKED, NoteState.SIGNED}


def test_addenda_are_append_only(db_session, notes):
    refused(db_session, "UPDATE note_addendum SET text_ct = text_ct || text_ct")
    refused(db_session, "UPDATE note_addendum SET created_at = :t", t=utcnow())
    refused(db_session, "DELETE FROM note_addendum")


@pytest.mark.parametrize("which", ["signed", "locked", "draft"])
def test_notes_are_never_deleted_outside_a_purge(db_session, notes, which):
    if which == "signed":
        run(db_session, "DELETE FROM note_addendum WHERE 1 = 0")  # no row: no error
    refused(db_session, "DELETE FROM counselling_note WHERE id = :id", id=notes[which])


def _count(session, statement: str, **params: object) -> int:  # type: ignore[no-untyped-def]
    return int(run(session, statement, **params).scalar_one())


def test_the_purge_escape_opens_only_the_named_students_notes(db_session, notes):
    student, other = notes["student"], notes["other_student"]
    run(db_session, "INSERT INTO purge_lock (student_id, started_at) VALUES (:s, :t)",
        s=student, t=utcnow())  # fmt: skip
    # Even during the purge: no edit of a signed note, and the other student's notes stay.
    refused(db_session, "UPDATE counselling_note SET note_type = 'phone' WHERE id = :id",
            id=notes["signed"])  # fmt: skip
    refused(db_session, "DELETE FROM counselling_note WHERE id = :id", id=notes["other"])
    run(db_session, "DELETE FROM note_addendum WHERE note_id IN "
                    "(SELECT id FROM counselling_note WHERE student_id = :s)", s=student)  # fmt: skip
    run(db_session, "DELETE FROM counselling_note WHERE student_id = :s", s=student)
    run(db_session, "DELETE FROM purge_lock WHERE student_id = :s", s=student)
    assert _count(db_session, "SELECT COUNT(*) FROM counselling_note WHERE student_id = :s",
                  s=student) == 0  # fmt: skip
    assert _count(db_session, "SELECT COUNT(*) FROM counselling_note WHERE student_id = :s",
                  s=other) == 1  # fmt: skip
    # The lock is gone: deleting is refused again.
    refused(db_session, "DELETE FROM counselling_note WHERE id = :id", id=notes["other"])


def test_a_lock_for_a_student_without_notes_opens_nothing_else(db_session, notes):
    run(db_session, "INSERT INTO purge_lock (student_id, started_at) VALUES (:s, :t)",
        s=uuid.uuid4(), t=utcnow() - dt.timedelta(minutes=1))  # fmt: skip
    refused(db_session, "DELETE FROM counselling_note WHERE id = :id", id=notes["signed"])
    refused(db_session, "DELETE FROM note_addendum")


def test_truncate_is_refused_on_postgresql(db_session, env, notes):
    if env.backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    refused(db_session, "TRUNCATE note_addendum CASCADE")
    refused(db_session, "TRUNCATE counselling_note CASCADE")


def test_the_triggers_are_installed_by_the_migration(env):
    from sqlalchemy import inspect

    from ..conftest import BACKENDS

    assert env.backend in BACKENDS
    with env.db.engine.connect() as conn:
        if env.backend == "postgresql":
            names = set(conn.execute(text(
                "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgrelid IN "
                "('counselling_note'::regclass, 'note_addendum'::regclass)"
            )).scalars())  # fmt: skip
            expected = {"counselling_note_immutable", "counselling_note_no_truncate",
                        "note_addendum_append_only", "note_addendum_no_truncate"}  # fmt: skip
        else:
            names = set(conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN "
                "('counselling_note', 'note_addendum')"
            )).scalars())  # fmt: skip
            expected = {"counselling_note_immutable", "counselling_note_no_delete",
                        "note_addendum_no_update", "note_addendum_no_delete"}  # fmt: skip
    assert names == expected
    assert "purge_lock" in inspect(env.db.engine).get_table_names()
