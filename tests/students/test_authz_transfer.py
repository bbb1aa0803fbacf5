"""Authorization matrix for transfers (expected statuses written by hand).

Moving a student: admins and district counsellors (``STUDENTS_TRANSFER``), for a student of any
school of the district; school staff never. The list of students who moved away: those who
read records (a counsellor's list is simply empty: counsellors have no school).
"""

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases
from ..factories import make_student

MOVERS = everyone(FORBIDDEN, anonymous=LOGIN, admin=OK, counsellor=OK)
MOVED = everyone(FORBIDDEN, anonymous=LOGIN, admin=REDIRECT, counsellor=REDIRECT)
READERS = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK)


def _move(w, where):  # type: ignore[no-untyped-def]
    """A fresh student each time (a moved student is no longer at the school named)."""
    here, there = (w.own_school, w.other_school) if where == "own" else (
        w.other_school, w.own_school)  # fmt: skip
    student = make_student(w.session, here)
    return {"from_school": str(here.id), "student_number": student.student_number,
            "to_school": str(there.id), "class_id": ""}  # fmt: skip


CASES = [
    Case("GET", "/students/transfer", lambda w, where: "/students/transfer", MOVERS),
    Case("POST", "/students/transfer", lambda w, where: "/students/transfer", MOVED, data=_move),
    Case("GET", "/students/moved-away", lambda w, where: "/students/moved-away", READERS),
]


def test_transfer_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
