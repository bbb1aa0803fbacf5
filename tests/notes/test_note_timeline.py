"""The notes' part of the growth-record timeline, by role: a signed note in full for those who
read notes, a restricted one outlined ("restricted note by X on date") for those who may not
read it, another's draft hidden from everyone but its author."""

from __future__ import annotations

from wellbeing.notes import services, timeline

from .helpers import note_input, notes_world, principal

FULL, SUMMARY = "full", "summary"


def test_note_items_by_role(app, db_session, env):
    _school, staff, student = notes_world(db_session, env.settings)
    author = principal(db_session, staff["psych_teacher"])
    services.write_note(db_session, author, student, note_input(content="公开"), sign=True)
    services.write_note(db_session, author, student, note_input(restricted=True), sign=True)
    services.write_note(db_session, author, student, note_input(), sign=False)
    expected = {
        "psych_teacher": ["full", "full", "full"],  # the author: draft included
        "other_psych": ["full", "summary"],
        "school_leader": ["full", "summary"],
        "counsellor": ["full", "full"],
        "class_teacher": [],
        "supervisor": [],
        "partner": [],
    }
    seen = {}
    with app.test_request_context():
        for role in expected:
            found = timeline.items(
                db_session, principal(db_session, staff[role]), student, None, None
            )
            seen[role] = sorted(item.visibility for item in found)
            for item in found:
                assert item.kind == "note"
                if item.visibility == SUMMARY:
                    assert item.lines == () and item.url is None and item.actor
    assert seen == {role: sorted(v) for role, v in expected.items()}
