"""Authorization matrix for the leavers page (expected statuses written by hand).

Recording leavers seals records: whoever imports the school's roster (``ROSTER_IMPORT``: the
administrator), for any school. Every other role gets 403, on the form and on each step.
"""

import datetime as dt

from wellbeing.students.leaving_views import digest

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases
from ..factories import make_student

RECORDERS = everyone(FORBIDDEN, anonymous=LOGIN, admin=OK)
SEALED = everyone(FORBIDDEN, anonymous=LOGIN, admin=REDIRECT)


def _preview(w, where):  # type: ignore[no-untyped-def]
    school = w.own_school if where == "own" else w.other_school
    student = w.own_student if where == "own" else w.other_student
    return {"school": str(school.id), "numbers": student.student_number, "status": "left",
            "left_on": "2026-01-05", "action": "preview"}  # fmt: skip


def _confirm(w, where):  # type: ignore[no-untyped-def]
    """A fresh student each time (a sealed one cannot leave twice), with the digest the
    preview hands out, as the page would post it."""
    school = w.own_school if where == "own" else w.other_school
    student = make_student(w.session, school)
    data = {"school": str(school.id), "numbers": student.student_number, "status": "left",
            "left_on": "2026-01-05", "action": "confirm"}  # fmt: skip
    on = dt.date(2026, 1, 5)
    data["checked"] = digest(str(school.id), "left", on, [student.student_number])
    return data


CASES = [
    Case("GET", "/students/leavers", lambda w, where: "/students/leavers", RECORDERS),
    Case(
        "POST", "/students/leavers", lambda w, where: "/students/leavers", RECORDERS, data=_preview
    ),
]
CONFIRM = [
    Case("POST", "/students/leavers", lambda w, where: "/students/leavers", SEALED, data=_confirm),
]


def test_leavers_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []


def test_only_the_administrator_seals(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CONFIRM) == []


# The sensitive-route harness (tests/audit/test_sensitive_routes.py imports this file at its
# end): the preview names the students it lists in its audit entry.
from ..audit.test_sensitive_routes import Visit, builder  # noqa: E402


@builder("leavers.submit")
def _leavers_preview(w):  # type: ignore[no-untyped-def]
    return Visit("/students/leavers", "admin", w.own_student, method="POST",
                 data=_preview(w, "own"))  # fmt: skip
