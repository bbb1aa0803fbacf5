"""Authorization matrix for the dashboards (expected statuses written by hand)."""

from ..authz import FORBIDDEN, LOGIN, OK, Case, build_world, everyone, run_cases


def _school_url(w, where):  # type: ignore[no-untyped-def]
    school = w.own_school if where == "own" else w.other_school
    return f"/reports/school?school={school.id}"


CASES = [
    Case(
        "GET",
        "/reports/school",
        _school_url,
        everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK),
        everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK),
    ),
    Case(
        "GET",
        "/reports/district",
        lambda w, where: "/reports/district",
        everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK, supervisor=OK),
    ),
]


def test_reports_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    problems = run_cases(client, world, CASES)
    assert problems == [], "\n".join(problems)
