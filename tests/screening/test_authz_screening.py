"""Authorization matrix for the screening routes (expected statuses written by hand)."""

from __future__ import annotations

import uuid

from wellbeing.screening.kiosk.service import hold_answers, open_kiosk

from ..authz import (
    BAD,
    FORBIDDEN,
    LOGIN,
    NOT_FOUND,
    OK,
    REDIRECT,
    Case,
    World,
    build_world,
    everyone,
    run_cases,
)
from ..factories import make_student
from .helpers import open_campaign

SEE_OTHER = 303
UNAUTHENTICATED = 401


def setup(w: World) -> None:
    if "campaign_own" in w.extra:
        return
    w.extra["campaign_own"] = open_campaign(w.session, [w.own_school])
    w.extra["campaign_other"] = open_campaign(w.session, [w.other_school])
    from wellbeing.auth.services import build_principal

    teacher = build_principal(w.session, w.users["psych_teacher"])
    _kiosk, token = open_kiosk(w.session, teacher, w.extra["campaign_own"], [w.own_student])
    w.extra["kiosk_token"] = token
    # Queued at the kiosk by the POST case: the entry case answers for own_student first, and an
    # already screened student is refused (400) before any kiosk opens.
    w.extra["kiosk_student"] = make_student(w.session, w.own_school)
    # Kiosk answers held for review (one per school) for the "mark reviewed" route.
    for where, student in (("own", w.own_student), ("other", w.other_student)):
        campaign = w.extra[f"campaign_{where}"]
        w.extra[f"held_{where}"] = hold_answers(w.session, campaign, student, {"phq9": {"phq9_1": 1}},
                                                reason="a different phq9 response is already recorded")  # fmt: skip


def campaign(suffix: str = ""):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/screening/campaigns/{w.extra[f'campaign_{where}'].id}{suffix}"


def student(suffix: str = ""):  # type: ignore[no-untyped-def]
    return lambda w, where: (
        f"/students/{(w.own_student if where == 'own' else w.other_student).id}/screening{suffix}"
    )


def _campaign_data(w: World, where: str) -> dict[str, str]:
    school = w.own_school if where == "own" else w.other_school
    return {"name": "Autumn", "instruments": "phq9", "school": str(school.id), "grade_from": "4", "grade_to": "12",
            "opens_on": "2000-01-01", "closes_on": "2999-01-01"}  # fmt: skip


def _entry_data(w: World, where: str) -> dict[str, str]:
    s = w.own_student if where == "own" else w.other_student
    return {"student_number": s.student_number, **{f"a__phq9__phq9_{n}": "0" for n in range(1, 10)}}


def _kiosk_data(w: World, where: str) -> dict[str, str]:
    s = w.extra["kiosk_student"] if where == "own" else w.other_student
    return {"student_numbers": s.student_number}


MANAGE = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, counsellor=OK)
MANAGE_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK)
STATS = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK, counsellor=OK)
STATS_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK)
SCREENING_READ = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
SCREENING_READ_OTHER = everyone(FORBIDDEN, anonymous=LOGIN)

CASES = [
    Case("GET", "/screening/", lambda w, where: "/screening/", STATS, setup=setup),
    Case("GET", "/screening/campaigns/new", lambda w, where: "/screening/campaigns/new", MANAGE),
    Case("POST", "/screening/campaigns/new", lambda w, where: "/screening/campaigns/new",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT, counsellor=REDIRECT),
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=BAD, counsellor=REDIRECT), data=_campaign_data),
    Case("GET", "/screening/campaigns/<uuid:campaign_id>", campaign(), MANAGE, MANAGE_OTHER, setup=setup),
    Case("GET", "/screening/campaigns/<uuid:campaign_id>/results", campaign("/results"), STATS, STATS_OTHER, setup=setup),
    Case("GET", "/screening/campaigns/<uuid:campaign_id>/import", campaign("/import"), MANAGE, MANAGE_OTHER, setup=setup),
    Case("POST", "/screening/campaigns/<uuid:campaign_id>/import", campaign("/import"),
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=BAD, counsellor=BAD),
         everyone(FORBIDDEN, anonymous=LOGIN, counsellor=BAD), data={}, setup=setup),
    Case("GET", "/screening/mappings", lambda w, where: "/screening/mappings", MANAGE),
    Case("POST", "/screening/mappings", lambda w, where: "/screening/mappings",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT, counsellor=REDIRECT),
         data=lambda w, where: {"name": f"m-{uuid.uuid4().hex[:8]}", "lines": "学号 = student_number"}),
    Case("GET", "/screening/campaigns/<uuid:campaign_id>/entry", campaign("/entry"), MANAGE, MANAGE_OTHER, setup=setup),
    Case("POST", "/screening/campaigns/<uuid:campaign_id>/entry", campaign("/entry"),
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT, counsellor=REDIRECT),
         everyone(FORBIDDEN, anonymous=LOGIN, counsellor=REDIRECT), data=_entry_data, setup=setup),
    Case("GET", "/screening/campaigns/<uuid:campaign_id>/kiosk", campaign("/kiosk"),
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK), SCREENING_READ_OTHER, setup=setup),
    Case("POST", "/screening/campaigns/<uuid:campaign_id>/kiosk", campaign("/kiosk"),
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT), SCREENING_READ_OTHER, data=_kiosk_data, setup=setup),
    # The kiosk page is public: the token is the credential; without answers a post is refused.
    Case("GET", "/screening/kiosk/<token>", lambda w, where: f"/screening/kiosk/{w.extra['kiosk_token'] if where == 'own' else 'nope'}",
         everyone(OK), everyone(NOT_FOUND), setup=setup),
    Case("POST", "/screening/kiosk/<token>", lambda w, where: f"/screening/kiosk/{w.extra['kiosk_token'] if where == 'own' else 'nope'}",
         everyone(BAD), everyone(NOT_FOUND), data={}, setup=setup),
    Case("GET", "/screening/review", lambda w, where: "/screening/review",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, counsellor=OK)),
    # Allowed users are sent back to the queue (303: the student has no provisional decision).
    Case("POST", "/screening/review/<uuid:student_id>",
         lambda w, where: f"/screening/review/{(w.own_student if where == 'own' else w.other_student).id}",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=SEE_OTHER), everyone(FORBIDDEN, anonymous=LOGIN),
         data={"tier": "1", "reason": "Assessed in person"}),
    # Held kiosk answers: the psychology teacher of the student's school marks them reviewed.
    Case("POST", "/screening/held/<uuid:held_id>/reviewed",
         lambda w, where: f"/screening/held/{w.extra[f'held_{where}'].id}/reviewed",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT), everyone(FORBIDDEN, anonymous=LOGIN),
         setup=setup),
    Case("GET", "/students/<uuid:student_id>/screening", student(), SCREENING_READ, SCREENING_READ_OTHER),
    Case("GET", "/students/<uuid:student_id>/screening/fhir", student("/fhir"), SCREENING_READ, SCREENING_READ_OTHER),
    # A browser session never authenticates the API (bearer tokens only): 401 for everyone.
    # With tokens: tests/screening/test_api.py.
    Case("POST", "/api/v1/campaigns/<uuid:campaign_id>/responses",
         lambda w, where: f"/api/v1/campaigns/{w.extra[f'campaign_{where}'].id}/responses",
         everyone(UNAUTHENTICATED), everyone(UNAUTHENTICATED), data={}, setup=setup),
]  # fmt: skip


def test_screening_routes_matrix(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
