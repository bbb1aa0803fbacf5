"""Authorization matrix for the workbench's routes (expected statuses written by hand). The
home page ``/`` is in the auth module's matrix (it was the auth module's start page)."""

from ..authz import FORBIDDEN, LOGIN, OK, Case, build_world, everyone, run_cases

CASES = [
    # The caseload: people who decide tiers (psychology teachers, district counsellors).
    Case("GET", "/caseload", lambda w, where: "/caseload",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, counsellor=OK)),
    Case("GET", "/caseload", lambda w, where: f"/caseload?grade=7&tier=2&sort=due&class={w.own_student.class_id}",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, counsellor=OK)),
    # The class list: anyone who may report a concern (an empty page without a class).
    Case("GET", "/my-class", lambda w, where: "/my-class",
         everyone(OK, anonymous=LOGIN, partner=FORBIDDEN, supervisor=FORBIDDEN, admin=FORBIDDEN)),
]  # fmt: skip


def test_workbench_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
