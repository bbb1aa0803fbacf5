"""Authorization matrix of the report pages (issue 16 item 7): the index, and for every report
of the catalog (``catalog.specs()``, so a report added later is covered without a new row)
its page, CSV, XLSX and print, for every role, on the viewer's own school and another one.

Expected statuses are written by hand, one table per permission a report may ask for: school
staff (psychology teacher, school leader) see their own school; a counsellor sees the
district and may open any of its schools; a supervisor sees the district's counts only, never
one school on its own; class teachers, partners and administrators see no report.
"""

from __future__ import annotations

import pytest

from wellbeing.core.authz import Permission
from wellbeing.reports import catalog

from ..authz import FORBIDDEN, LOGIN, OK, Case, build_world, everyone, run_cases
from . import framework_helpers as demo

INDEX = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK,
                 supervisor=OK)  # fmt: skip

# report -> (page without a school: the viewer's default view, page of the own school,
#            page of another school of the district)
EXPECT = {
    Permission.STATS_SCHOOL: (
        everyone(
            FORBIDDEN,
            anonymous=LOGIN,
            psych_teacher=OK,
            school_leader=OK,
            counsellor=OK,
            supervisor=OK,
        ),
        everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK),
        everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK),
    ),
    Permission.STATS_DISTRICT: (
        everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK, supervisor=OK),
        everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK),
        everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK),
    ),
}

SUFFIXES = {"/reports/<key>": "", "/reports/<key>.csv": ".csv", "/reports/<key>.xlsx": ".xlsx",
            "/reports/<key>/print": "/print"}  # fmt: skip


def _school_url(key: str, suffix: str):  # type: ignore[no-untyped-def]
    def url(w, where):  # type: ignore[no-untyped-def]
        school = w.own_school if where == "own" else w.other_school
        return f"/reports/{key}{suffix}?school={school.id}"

    return url


def _default_url(key: str, suffix: str):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/reports/{key}{suffix}"


def cases_for(key: str, permission: Permission) -> list[Case]:
    if permission not in EXPECT:
        raise AssertionError(f"report {key!r} needs {permission}: write its row in EXPECT")
    default, own, other = EXPECT[permission]
    out = [Case("GET", "/reports/", lambda w, where: "/reports/", INDEX)]
    for rule, suffix in SUFFIXES.items():
        out.append(Case("GET", rule, _default_url(key, suffix), default))
        out.append(Case("GET", rule, _school_url(key, suffix), own, other))
    return out


# The rows the route-coverage test reads (the test-only report stands for every report).
CASES = cases_for(demo.KEY, Permission.STATS_SCHOOL)


def _keys() -> list[str]:
    return [demo.KEY, *catalog.specs()]


@pytest.mark.parametrize("key", _keys())
def test_report_routes_matrix(key, client, db_session, env, monkeypatch):  # type: ignore[no-untyped-def]
    demo.register(monkeypatch)
    spec = catalog.specs()[key]
    world = build_world(db_session, env.settings)
    problems = run_cases(client, world, cases_for(key, spec.permission))
    assert problems == [], "\n".join(problems)


def test_an_unknown_report_is_404_for_those_who_may_see_reports(client, db_session, env):  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    case = Case("GET", "/reports/<key>", lambda w, where: "/reports/no-such-report",
                everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=404, school_leader=404,
                         counsellor=404, supervisor=404))  # fmt: skip
    assert run_cases(client, world, [case]) == []
