"""Authorization matrix for the student register (expected statuses written by hand).

Search: psychology teachers and school leaders (their school) and district counsellors; class
teachers report concerns but never browse records. The student page needs a relationship: own
school for school roles; counsellors only once the district is involved (not the case here).
"""

import io

from ..authz import BAD, FORBIDDEN, LOGIN, OK, REDIRECT, Case, build_world, everyone, run_cases

SEARCHERS = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK)
OWN_RECORD = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK)
OTHER_RECORD = everyone(FORBIDDEN, anonymous=LOGIN)
ADMIN_PAGE = everyone(FORBIDDEN, anonymous=LOGIN, admin=OK)
GUARDIAN_EDIT = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
GUARDIAN_SAVE = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT)


def _student(w, where):  # type: ignore[no-untyped-def]
    return w.own_student if where == "own" else w.other_student


def _roster(w, where):  # type: ignore[no-untyped-def]
    school = w.own_school if where == "own" else w.other_school
    body = "学号,姓名,性别,出生日期,年级,班级\nM001,王小红,女,2012-05-01,7,9班\n".encode()
    return {"school": str(school.id), "file": (io.BytesIO(body), "roster.csv")}


CASES = [
    Case("GET", "/students/", lambda w, where: "/students/", SEARCHERS),
    Case(
        "GET", "/students/search",
        lambda w, where: f"/students/search?q={_student(w, where).student_number}", SEARCHERS,
    ),
    Case(
        "GET", "/students/<uuid:student_id>", lambda w, where: f"/students/{_student(w, where).id}",
        OWN_RECORD, OTHER_RECORD,
    ),
    Case(
        "GET", "/students/<uuid:student_id>/timeline",
        lambda w, where: f"/students/{_student(w, where).id}/timeline", OWN_RECORD, OTHER_RECORD,
    ),
    Case(
        "GET", "/students/<uuid:student_id>/timeline",
        lambda w, where: f"/students/{_student(w, where).id}/timeline?since=2026-13-01",
        everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=BAD, school_leader=BAD), OTHER_RECORD,
    ),
    # Correcting a guardian's details: RECORD_WRITE (the psych teacher; a counsellor only
    # once the district is involved, not the case here).
    Case(
        "GET", "/students/<uuid:student_id>/guardians/<int:index>",
        lambda w, where: f"/students/{_student(w, where).id}/guardians/0", GUARDIAN_EDIT,
        OTHER_RECORD,
    ),
    Case(
        "POST", "/students/<uuid:student_id>/guardians/<int:index>",
        lambda w, where: f"/students/{_student(w, where).id}/guardians/0", GUARDIAN_SAVE,
        OTHER_RECORD, data={"name": "李四", "phone": "13900139000", "relation": "母亲"},
    ),
    Case("GET", "/students/import", lambda w, where: "/students/import", ADMIN_PAGE),
    Case("POST", "/students/import", lambda w, where: "/students/import", ADMIN_PAGE, data=_roster),
]  # fmt: skip


def test_students_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
