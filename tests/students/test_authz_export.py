"""Authorization matrix for the copy of the record for a guardian (written by hand).

``RECORD_EXPORT`` on the student: the psychology teacher of the student's school, and district
counsellors once the district is involved (not the case in this world, so: refused). School
leaders, class teachers, supervisors, admins and partners never make a copy.
"""

from ..authz import FORBIDDEN, LOGIN, OK, Case, build_world, everyone, run_cases

EXPORTERS = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
NOBODY = everyone(FORBIDDEN, anonymous=LOGIN)


def _path(w, where):  # type: ignore[no-untyped-def]
    student = w.own_student if where == "own" else w.other_student
    return f"/students/{student.id}/export"


CASES = [
    Case("GET", "/students/<uuid:student_id>/export", _path, EXPORTERS, NOBODY),
    Case("POST", "/students/<uuid:student_id>/export", _path, EXPORTERS, NOBODY,
         data={"requester": "mother"}),
]  # fmt: skip


def test_export_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
