"""Authorization matrix of the named-list export (expected statuses written by hand): only the
school's psychology teacher, for their own school; everyone else is refused, the leader too."""

from ..authz import FORBIDDEN, LOGIN, OK, Case, World, build_world, everyone, run_cases
from .sensitive_builders import unscreened_campaign


def _url(w: World, where: str) -> str:
    school = w.own_school if where == "own" else w.other_school
    campaign = unscreened_campaign(w)
    return f"/reports/coverage/unscreened?school={school.id}&campaign={campaign.id}"


ONLY_OWN_PSYCH = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
NOBODY = everyone(FORBIDDEN, anonymous=LOGIN)

CASES = [
    Case("GET", "/reports/coverage/unscreened", _url, ONLY_OWN_PSYCH, NOBODY),
    Case(
        "POST",
        "/reports/coverage/unscreened",
        _url,
        ONLY_OWN_PSYCH,
        NOBODY,
        data={"reason": "补测安排"},
    ),
]


def test_named_export_matrix(client, db_session, env):  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    problems = run_cases(client, world, CASES)
    assert problems == [], "\n".join(problems)
