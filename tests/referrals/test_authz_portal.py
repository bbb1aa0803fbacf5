"""Authorization matrix of the partner portal and the referral API (expected statuses written by
hand), and the partner role on every other page of the app.

The world (tests/authz.py) gains two health partners: the world's ``partner`` user is the
liaison of the first ("own"); the other school's student is referred to the second ("other").
Each move has its own referral of the own student, sent to the own partner and brought to the
state the move needs, so every move succeeds once for the liaison (302 to the referral) and is
refused to everyone else: 403 for every role without the partner permission (route level),
404 for the liaison on the other partner's referral (no existence oracle). A browser session
never authenticates the API: 401 throughout (the API's token matrix is below).
"""

from __future__ import annotations

import datetime as dt
import importlib
import pkgutil
from typing import Any

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.crisis.guardian_log import record_guardian_contact
from wellbeing.db import utcnow
from wellbeing.referrals import services

from ..api.tokens import TokenCase, run_token_cases, staff
from ..authz import (
    FORBIDDEN,
    LOGIN,
    NOT_FOUND,
    OK,
    REDIRECT,
    Case,
    World,
    build_world,
    check_case,
    everyone,
    run_cases,
)
from ..factories import make_user
from .helpers import liaison, make_partner

UNAUTHENTICATED = 401
MOVES = ("acknowledge", "decline", "appointment", "attendance", "feedback")
# The state each move's referral is brought to: the moves that lead there, in order.
PATH = {
    "view": ("submit", "accept", "send", "acknowledge"),
    "acknowledge": ("submit", "accept", "send"),
    "decline": ("submit", "accept", "send"),
    "appointment": ("submit", "accept", "send", "acknowledge"),
    "attendance": ("submit", "accept", "send", "acknowledge", "schedule"),
    "feedback": ("submit", "accept", "send", "acknowledge", "schedule", "attended"),
}


def _walk(
    w: World, student: Any, sender: Any, partner: Any, liaison: Any, steps: tuple[str, ...]
) -> Any:
    s = w.session
    centre = build_principal(s, w.users["counsellor"])
    referral = services.create_draft(s, sender, student.id,
                                     services.ReferralInput(reason="转介原因", urgency="soon"))  # fmt: skip
    for step in steps:
        if step == "submit":
            services.submit(s, sender, referral.id)
        elif step == "accept":
            services.accept(s, centre, referral.id)
        elif step == "send":
            services.send(s, centre, referral.id, partner.id)
        elif step == "acknowledge":
            services.acknowledge(s, liaison, referral.id)
        elif step == "schedule":
            services.schedule(s, liaison, referral.id, utcnow() + dt.timedelta(days=2))
        elif step == "attended":
            services.record_attendance(s, liaison, referral.id, True)
    return referral


def setup(w: World) -> None:
    if "ref_view" in w.extra:
        return
    s = w.session
    own = make_partner(s, w.own_school.district_id, "本区精神卫生中心")
    other = make_partner(s, w.own_school.district_id, "他区医院")
    # the matrix's partner user (the partner role, no organisation yet) becomes own's liaison
    [membership] = w.users["partner"].memberships
    membership.partner_id = own.id
    s.flush()
    s.refresh(w.users["partner"])
    other_psych = make_user(s, w.settings, Role.PSYCH_TEACHER, school=w.other_school)
    for student, teacher in (
        (w.own_student, w.users["psych_teacher"]),
        (w.other_student, other_psych),
    ):
        student.guardians = [{"name": "母亲", "phone": "13800000000", "relation": "mother"}]
        record_guardian_contact(
            s, build_principal(s, teacher), student, relation="mother", channel="phone",
            contacted_at=utcnow() - dt.timedelta(hours=1), summary="同意转介",
            consent_purpose="referral", consent="given",
        )  # fmt: skip
    sender = build_principal(s, w.users["psych_teacher"])
    own_liaison = build_principal(s, w.users["partner"])
    for name, steps in PATH.items():
        w.extra[f"ref_{name}"] = _walk(w, w.own_student, sender, own, own_liaison, steps).id
    other_sender = build_principal(s, other_psych)
    other_liaison = build_principal(s, liaison(s, w.settings, other))
    w.extra["ref_other"] = _walk(
        w, w.other_student, other_sender, other, other_liaison, PATH["view"]
    ).id
    s.flush()


def _ref(name: str, suffix: str = "", prefix: str = "/partner/referrals") -> Any:
    def path(w: World, where: str) -> str:
        rid = w.extra[f"ref_{name}"] if where == "own" else w.extra["ref_other"]
        return f"{prefix}/{rid}{suffix}"

    return path


def _future(w: World, where: str) -> dict[str, str]:
    return {"at": (dt.datetime.now() + dt.timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")}


DATA: dict[str, Any] = {
    "acknowledge": {}, "decline": {"reason": "本院已满"}, "appointment": _future,
    "attendance": {"attendance": "attended"}, "feedback": {"summary": "反馈"},
}  # fmt: skip
ONLY_PARTNER = everyone(FORBIDDEN, anonymous=LOGIN, partner=OK)
READ_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, partner=NOT_FOUND)
MOVE_OWN = everyone(FORBIDDEN, anonymous=LOGIN, partner=REDIRECT)
API_SESSION = everyone(UNAUTHENTICATED)

CASES = [
    Case("GET", "/partner/referrals", lambda w, where: "/partner/referrals", ONLY_PARTNER,
         setup=setup),
    Case("GET", "/partner/referrals/<uuid:referral_id>", _ref("view"), ONLY_PARTNER, READ_OTHER,
         setup=setup),
    Case("GET", "/partner/referrals/<uuid:referral_id>/print", _ref("view", "/print"),
         ONLY_PARTNER, READ_OTHER, setup=setup),
    Case("GET", "/partner/referrals/<uuid:referral_id>/export.json",
         _ref("view", "/export.json"), ONLY_PARTNER, READ_OTHER, setup=setup),
    *(
        Case("POST", f"/partner/referrals/<uuid:referral_id>/{move}", _ref(move, f"/{move}"),
             MOVE_OWN, READ_OTHER, data=DATA[move], setup=setup)
        for move in MOVES
    ),
    Case("GET", "/api/v1/partner/referrals", lambda w, where: "/api/v1/partner/referrals",
         API_SESSION, setup=setup),
    Case("GET", "/api/v1/partner/referrals/<uuid:referral_id>",
         _ref("view", prefix="/api/v1/partner/referrals"), API_SESSION, setup=setup),
    *(
        Case("POST", f"/api/v1/partner/referrals/<uuid:referral_id>/{move}",
             _ref(move, f"/{move}", "/api/v1/partner/referrals"), API_SESSION, data={},
             setup=setup)
        for move in MOVES
    ),
    Case("GET", "/api/v1/students/<uuid:student_id>/referrals",
         lambda w, where: f"/api/v1/students/{(w.own_student if where == 'own' else w.other_student).id}/referrals",
         API_SESSION, setup=setup),
]  # fmt: skip


def test_portal_routes_matrix(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []


# --------------------------------------------------------------------------- tokens (GET)

PARTNER_READ_OWN = staff(FORBIDDEN, partner=OK)
PARTNER_READ_OTHER = staff(FORBIDDEN, partner=NOT_FOUND)
# A student's referrals: the own school's psych teacher and leader; the counsellor only once
# the district is involved (referring it involves it: the own student is); never the partner.
SCHOOL_OWN = staff(FORBIDDEN, psych_teacher=OK, school_leader=OK, counsellor=OK)
SCHOOL_OTHER = staff(FORBIDDEN, psych_teacher=NOT_FOUND, school_leader=NOT_FOUND, counsellor=OK)

TOKEN_CASES = [
    TokenCase("/api/v1/partner/referrals", lambda w, where: "/api/v1/partner/referrals",
              "partner:referrals", staff(FORBIDDEN, partner=OK), wrong_scope="alerts:read",
              setup=setup),
    TokenCase("/api/v1/partner/referrals/<uuid:referral_id>",
              _ref("view", prefix="/api/v1/partner/referrals"), "partner:referrals",
              PARTNER_READ_OWN, PARTNER_READ_OTHER, wrong_scope="alerts:read", setup=setup),
    TokenCase("/api/v1/students/<uuid:student_id>/referrals",
              lambda w, where: f"/api/v1/students/{(w.own_student if where == 'own' else w.other_student).id}/referrals",
              "referrals:read", SCHOOL_OWN, SCHOOL_OTHER, wrong_scope="plans:read", setup=setup),
]  # fmt: skip


def test_portal_api_matrix_with_tokens(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_token_cases(client, world, TOKEN_CASES) == []


# --------------------------------------------------------------------------- the partner elsewhere

# What a partner liaison may use outside the portal: their own account and session, the public
# pages and the credential-in-the-link routes (written by hand).
PARTNER_ELSEWHERE = {
    ("GET", "/"), ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("POST", "/locale"),
    ("GET", "/account"), ("GET", "/account/mfa/enrol"), ("POST", "/account/mfa/enrol"),
    ("GET", "/account/password"), ("POST", "/account/password"), ("GET", "/account/mfa/reset"),
    ("POST", "/account/mfa/reset"), ("GET", "/account/recovery-codes"),
    ("POST", "/account/recovery-codes"), ("GET", "/account/tokens"), ("POST", "/account/tokens"),
    ("GET", "/login/totp"), ("POST", "/login/totp"), ("GET", "/api/v1/openapi.json"),
    ("GET", "/agenda/<string:token>.ics"), ("GET", "/screening/kiosk/<token>"),
    ("POST", "/screening/kiosk/<token>"),
}  # fmt: skip
REFUSED = {FORBIDDEN, NOT_FOUND, UNAUTHENTICATED, LOGIN}


def _other_cases() -> list[tuple[str, Case]]:
    import tests

    found = []
    for info in pkgutil.walk_packages(tests.__path__, "tests."):
        name = info.name.rsplit(".", 1)[-1]
        if name.startswith("test_authz_") and info.name != __name__:
            found += [(info.name, c) for c in importlib.import_module(info.name).CASES]
    return found


def test_the_partner_role_is_refused_on_every_other_page() -> None:
    """Every other module's matrix says 403/404 (401 on the API, the login page for the login
    step) for the partner, but for their own account and the public pages."""
    wrong = [
        f"{module}: {case.method} {case.rule} ({where}) expects {case.expected('partner', where)}"
        for module, case in _other_cases()
        for where in ("own", "other")
        if (case.method, case.rule) not in PARTNER_ELSEWHERE
        and case.expected("partner", where) not in REFUSED
    ]
    assert wrong == []


def test_a_liaison_with_referrals_is_refused_everywhere_else_too(client, db_session, env) -> None:  # type: ignore[no-untyped-def]
    """The matrices run with a partner user of no organisation; here the liaison of the own
    partner, with referrals of the own student addressed to them, walks every other module's
    GET route: the same refusals (an addressed referral opens nothing but the portal)."""
    by_module: dict[str, list[Case]] = {}
    for module, case in _other_cases():
        by_module.setdefault(module, []).append(case)
    problems = []
    for cases in by_module.values():  # one world per module: its setups expect their own
        world = build_world(db_session, env.settings)
        setup(world)
        for setup_of in dict.fromkeys(c.setup for c in cases if c.setup is not None):
            setup_of(world)  # a case may read what another case's setup made
        world.session.flush()
        for case in cases:
            if case.method != "GET" or (case.method, case.rule) in PARTNER_ELSEWHERE:
                continue
            for where in ("own", "other"):
                problem = check_case(client, world, case, "partner", where)
                if problem:
                    problems.append(problem)
    assert problems == []
