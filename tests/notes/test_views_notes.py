"""Counselling-note pages per role: the author, another psychology teacher of the same school,
the school leader, a district counsellor (student in scope) and the class teacher."""

from __future__ import annotations

from sqlalchemy import select

from wellbeing.core.audit import AuditAction
from wellbeing.db import utcnow
from wellbeing.notes import services
from wellbeing.notes.models import CounsellingNote, NoteState

from ..conftest import login
from .helpers import note_input, notes_world, principal


def _form(**extra):  # type: ignore[no-untyped-def]
    return {"session_date": utcnow().date().isoformat(), "note_type": "individual",
            "duration_minutes": "45", "content": "学生谈到与同学的矛盾。", **extra}  # fmt: skip


def test_the_author_writes_signs_and_corrects_a_note(client, db_session, env, audit_entries):
    _school, staff, student = notes_world(db_session, env.settings)
    login(client, staff["psych_teacher"])
    page = client.get(f"/students/{student.id}/notes/new")
    assert page.status_code == 200 and 'data-testid="note-form"' in page.get_data(as_text=True)
    response = client.post(f"/students/{student.id}/notes/new", data=_form(action="sign"))
    assert response.status_code == 302
    note = db_session.scalars(
        select(CounsellingNote).where(CounsellingNote.student_id == student.id)
    ).one()
    assert note.state == NoteState.SIGNED
    html = client.get(f"/notes/{note.id}").get_data(as_text=True)
    assert "学生谈到与同学的矛盾。" in html and "/edit" not in html
    response = client.post(f"/notes/{note.id}/addenda", data={"text": "补充：已告知班主任。"})
    assert response.status_code == 302
    html = client.get(f"/notes/{note.id}").get_data(as_text=True)
    assert "学生谈到与同学的矛盾。" in html and "补充：已告知班主任。" in html
    assert audit_entries(AuditAction.NOTE_VIEW)
    # the record lists it
    record = client.get(f"/students/{student.id}").get_data(as_text=True)
    assert 'data-testid="record-notes"' in record and f"/notes/{note.id}" in record


def test_a_draft_is_changed_by_its_author_and_hidden_from_others(client, db_session, env):
    _school, staff, student = notes_world(db_session, env.settings)
    login(client, staff["psych_teacher"])
    client.post(f"/students/{student.id}/notes/new", data=_form(action="draft"))
    note = db_session.scalars(
        select(CounsellingNote).where(CounsellingNote.student_id == student.id)
    ).one()
    assert note.state == NoteState.DRAFT
    assert client.get(f"/notes/{note.id}/edit").status_code == 200
    client.post(f"/notes/{note.id}/edit", data=_form(content="第二稿", action="draft"))
    db_session.refresh(note)
    assert note.content == "第二稿" and note.state == NoteState.DRAFT
    for role in ("other_psych", "school_leader", "counsellor"):
        login(client, staff[role])
        assert client.get(f"/notes/{note.id}").status_code == 404, role
        assert f"/notes/{note.id}" not in client.get(f"/students/{student.id}").get_data(
            as_text=True
        )
    login(client, staff["psych_teacher"])
    assert client.post(f"/notes/{note.id}/sign").status_code == 302
    db_session.refresh(note)
    assert note.state == NoteState.SIGNED


def test_a_restricted_note_by_role(client, db_session, env):
    _school, staff, student = notes_world(db_session, env.settings)
    author = principal(db_session, staff["psych_teacher"])
    note = services.write_note(db_session, author, student,
                               note_input(content="保密内容", restricted=True), sign=True)  # fmt: skip
    db_session.commit()
    seen = {}
    for role in ("psych_teacher", "other_psych", "school_leader", "counsellor", "class_teacher"):
        login(client, staff[role])
        response = client.get(f"/notes/{note.id}")
        html = response.get_data(as_text=True)
        record = client.get(f"/students/{student.id}").get_data(as_text=True)
        seen[role] = (response.status_code, "保密内容" in html, 'data-testid="note-restricted"' in html
                      or 'data-testid="note-restricted"' in record)  # fmt: skip
    assert seen == {
        "psych_teacher": (200, True, False),
        "other_psych": (200, False, True),
        "school_leader": (200, False, True),
        "counsellor": (200, True, False),
        "class_teacher": (403, False, False),
    }
    # an addendum needs to read the note
    login(client, staff["other_psych"])
    assert client.post(f"/notes/{note.id}/addenda", data={"text": "x"}).status_code == 403


def test_a_leader_reads_an_unrestricted_note_but_cannot_write(client, db_session, env):
    _school, staff, student = notes_world(db_session, env.settings)
    author = principal(db_session, staff["psych_teacher"])
    note = services.write_note(
        db_session, author, student, note_input(content="普通记录"), sign=True
    )
    db_session.commit()
    login(client, staff["school_leader"])
    html = client.get(f"/notes/{note.id}").get_data(as_text=True)
    assert "普通记录" in html and "notes/" + str(note.id) + "/addenda" not in html
    assert client.get(f"/students/{student.id}/notes/new").status_code == 403
    assert client.post(f"/notes/{note.id}/addenda", data={"text": "x"}).status_code == 403
    login(client, staff["class_teacher"])
    assert client.get(f"/notes/{note.id}").status_code == 403
    assert client.get(f"/students/{student.id}/notes/new").status_code == 403
