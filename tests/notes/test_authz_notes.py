"""Authorization matrix for the counselling-note routes (expected statuses written by hand).

The world has a signed note by the own school's psych teacher on the own school's student and
one by the other school's psych teacher on the other school's student. Writing needs
NOTES_WRITE on the student: the own school's psych teacher (the counsellor's students are not
district-involved here). Reading needs NOTES_READ: the own school's psych teacher and leader.
The note is signed, so its editing page and signing send its author back to the note (302).
"""

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.db import utcnow
from wellbeing.notes import services

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases
from ..factories import make_user


def _notes(world):  # type: ignore[no-untyped-def]
    if "note_own" in world.extra:
        return
    other_psych = make_user(
        world.session, world.settings, Role.PSYCH_TEACHER, school=world.other_school
    )
    for where, student, author in (
        ("own", world.own_student, world.users["psych_teacher"]),
        ("other", world.other_student, other_psych),
    ):
        data = services.NoteInput(session_date=utcnow().date(), note_type="phone",
                                  duration_minutes=10, content="matrix")  # fmt: skip
        note = services.write_note(world.session, build_principal(world.session, author), student,
                                   data, sign=True)  # fmt: skip
        world.extra[f"note_{where}"] = note.id


def _note(suffix):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/notes/{w.extra[f'note_{where}']}{suffix}"


def _student(w, where):  # type: ignore[no-untyped-def]
    student = w.own_student if where == "own" else w.other_student
    return f"/students/{student.id}/notes/new"


def _form(w, where):  # type: ignore[no-untyped-def]
    return {"session_date": utcnow().date().isoformat(), "note_type": "individual",
            "duration_minutes": "30", "content": "matrix", "action": "sign"}  # fmt: skip


NONE = everyone(FORBIDDEN, anonymous=LOGIN)
WRITE_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
ACT_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT)
READ_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK)

CASES = [
    Case("GET", "/students/<uuid:student_id>/notes/new", _student, WRITE_OWN, NONE),
    Case("POST", "/students/<uuid:student_id>/notes/new", _student, ACT_OWN, NONE, data=_form),
    Case("GET", "/notes/<uuid:note_id>", _note(""), READ_OWN, NONE, setup=_notes),
    Case("GET", "/notes/<uuid:note_id>/edit", _note("/edit"), ACT_OWN, NONE, setup=_notes),
    Case(
        "POST",
        "/notes/<uuid:note_id>/edit",
        _note("/edit"),
        ACT_OWN,
        NONE,
        setup=_notes,
        data=_form,
    ),
    Case("POST", "/notes/<uuid:note_id>/sign", _note("/sign"), ACT_OWN, NONE, setup=_notes),
    Case(
        "POST",
        "/notes/<uuid:note_id>/addenda",
        _note("/addenda"),
        ACT_OWN,
        NONE,
        setup=_notes,
        data={"text": "matrix addendum"},
    ),
]


def test_notes_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
