"""Authorization matrices for the API's read routes (students, alerts, follow-ups, screening
progress): with browser sessions (``CASES``, the route-coverage harness) and with bearer tokens
(``TOKEN_CASES``: right / wrong scope, no token, revoked, expired). Expectations by hand.
Sessions never authenticate the API, so the session matrix is 401 throughout.

The world (tests/authz.py): one student in the own school (in the class teacher's class) and
one in another school; neither involves the district, so district counsellors may not open
them. Alerts: a red alert about each student. The own school's psych teacher is on the first
rung of its alert; the other school has no staff, so its alert climbs at once to the district
counsellors. With a token (scope ``alerts:read``) only an alert of one's own inbox can be read.
Follow-ups: the own student's is owned by the psych teacher, the other's by the counsellor.
Campaigns: one per school.
"""

from __future__ import annotations

import datetime as dt

from wellbeing.alerts.services import raise_alert
from wellbeing.db import utcnow
from wellbeing.followups.services import schedule_followup

from ..authz import FORBIDDEN, NOT_FOUND, OK, Case, World, build_world, everyone, run_cases
from ..screening.helpers import open_campaign
from .tokens import LISTED, UNLISTED, TokenCase, run_token_cases, staff

UNAUTHENTICATED = 401


def _student(w: World, where: str):  # type: ignore[no-untyped-def]
    return w.own_student if where == "own" else w.other_student


def setup(w: World) -> None:
    if "alert_own" in w.extra:
        return
    for where in ("own", "other"):
        student = _student(w, where)
        alert = raise_alert(
            w.session, kind="red_tier", school_id=student.school_id, student_id=student.id, tier=3
        )
        w.extra[f"alert_{where}"] = alert.id
        owner = w.users["psych_teacher" if where == "own" else "counsellor"]
        w.extra[f"followup_{where}"] = schedule_followup(
            w.session, None, student, due_at=utcnow() + dt.timedelta(hours=2), owner_id=owner.id,
            source="manual",
        ).id  # fmt: skip
        school = w.own_school if where == "own" else w.other_school
        w.extra[f"campaign_{where}"] = open_campaign(w.session, [school]).id


def _lookup(w: World, where: str) -> str:
    return f"/api/v1/students?number={_student(w, where).student_number}"


def _student_url(w: World, where: str) -> str:
    return f"/api/v1/students/{_student(w, where).id}"


def _alert_url(w: World, where: str) -> str:
    return f"/api/v1/alerts/{w.extra[f'alert_{where}']}"


def _progress_url(w: World, where: str) -> str:
    return f"/api/v1/campaigns/{w.extra[f'campaign_{where}']}/progress"


def _inbox_url(w: World, where: str) -> str:
    return "/api/v1/alerts?state=all"


def _agenda_url(w: World, where: str) -> str:
    return "/api/v1/followups"


# --------------------------------------------------------------------------- browser sessions

# A browser session never authenticates the API (only a bearer token does): every role signed
# in with the cookie gets the anonymous 401, so a cross-site request cannot use the cookie.
SESSION = everyone(UNAUTHENTICATED)

CASES = [
    Case("GET", "/api/v1/students", _lookup, SESSION),
    Case("GET", "/api/v1/students/<uuid:student_id>", _student_url, SESSION),
    Case("GET", "/api/v1/alerts", _inbox_url, SESSION, setup=setup),
    Case("GET", "/api/v1/alerts/<uuid:alert_id>", _alert_url, SESSION, setup=setup),
    Case("GET", "/api/v1/followups", _agenda_url, SESSION, setup=setup),
    Case("GET", "/api/v1/campaigns/<uuid:campaign_id>/progress", _progress_url, SESSION,
         setup=setup),
]  # fmt: skip


def test_api_read_routes_matrix_with_sessions(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []


# --------------------------------------------------------------------------- bearer tokens


def _listed(key: str, ids_of):  # type: ignore[no-untyped-def]
    def listed(w: World, where: str, body) -> bool:  # type: ignore[no-untyped-def]
        wanted = w.extra[f"{key}_{where}"] if key != "student" else _student(w, where).id
        return str(wanted) in ids_of(body)

    return listed


_STUDENT_IDS = _listed("student", lambda body: {s["id"] for s in body["students"]})
_ALERT_IDS = _listed("alert", lambda body: {a["id"] for a in body["alerts"]})
_FOLLOWUP_IDS = _listed("followup", lambda body: {f["id"] for f in body["followups"]})

TOKEN_CASES = [
    TokenCase("/api/v1/students", _lookup, "students:read",
              staff(FORBIDDEN, psych_teacher=LISTED, school_leader=LISTED, counsellor=UNLISTED),
              staff(FORBIDDEN, psych_teacher=UNLISTED, school_leader=UNLISTED, counsellor=UNLISTED),
              wrong_scope="screening:read", listed=_STUDENT_IDS),
    TokenCase("/api/v1/students/<uuid:student_id>", _student_url, "students:read",
              staff(FORBIDDEN, psych_teacher=OK, school_leader=OK, counsellor=NOT_FOUND),
              staff(FORBIDDEN, psych_teacher=NOT_FOUND, school_leader=NOT_FOUND, counsellor=NOT_FOUND),
              wrong_scope="screening:read"),
    TokenCase("/api/v1/alerts", _inbox_url, "alerts:read",
              staff(UNLISTED, psych_teacher=LISTED, class_teacher=FORBIDDEN, partner=FORBIDDEN,
                    admin=FORBIDDEN),
              staff(UNLISTED, counsellor=LISTED, class_teacher=FORBIDDEN, partner=FORBIDDEN,
                    admin=FORBIDDEN),
              wrong_scope="followups:read", listed=_ALERT_IDS, setup=setup),
    # A token reads only alerts of its owner's inbox (handling them stays a web action).
    TokenCase("/api/v1/alerts/<uuid:alert_id>", _alert_url, "alerts:read",
              staff(NOT_FOUND, psych_teacher=OK, class_teacher=FORBIDDEN, partner=FORBIDDEN,
                    admin=FORBIDDEN),
              staff(NOT_FOUND, counsellor=OK, class_teacher=FORBIDDEN, partner=FORBIDDEN,
                    admin=FORBIDDEN),
              wrong_scope="students:read", setup=setup),
    TokenCase("/api/v1/followups", _agenda_url, "followups:read",
              staff(UNLISTED, psych_teacher=LISTED, partner=FORBIDDEN, supervisor=FORBIDDEN,
                    admin=FORBIDDEN),
              staff(UNLISTED, counsellor=LISTED, partner=FORBIDDEN, supervisor=FORBIDDEN,
                    admin=FORBIDDEN),
              wrong_scope="alerts:read", listed=_FOLLOWUP_IDS, setup=setup),
    TokenCase("/api/v1/campaigns/<uuid:campaign_id>/progress", _progress_url, "screening:read",
              staff(FORBIDDEN, psych_teacher=OK, counsellor=OK),
              staff(FORBIDDEN, psych_teacher=NOT_FOUND, counsellor=OK),
              wrong_scope="screening:intake", setup=setup),
]  # fmt: skip


def test_api_read_routes_matrix_with_tokens(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_token_cases(client, world, TOKEN_CASES) == []


def test_every_read_route_has_a_token_matrix() -> None:
    assert {c.rule for c in TOKEN_CASES} == {c.rule for c in CASES}


def test_documented_scopes_match_the_matrix() -> None:
    import re

    from wellbeing.api.openapi import build_document

    paths = build_document()["paths"]
    for case in TOKEN_CASES:
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", case.rule.removeprefix("/api/v1"))
        assert paths[path]["get"]["security"] == [{"bearer": [case.scope]}], path
