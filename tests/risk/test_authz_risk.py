"""Authorization matrix for the risk module's routes (expected statuses written by hand).

``own``/``other``: a student of the user's own school / of another school. The plain world
students are green and not district-involved (counsellors may not see them); the "red" cases
use students raised to red by a rule, which involves the district.
"""

from __future__ import annotations

import yaml

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.risk.policy import default_body
from wellbeing.risk.services import apply_tier

from ..authz import FORBIDDEN, LOGIN, OK, REDIRECT, Case, World, build_world, everyone, run_cases
from ..factories import make_class, make_student, make_user

DENY = everyone(FORBIDDEN, anonymous=LOGIN)


def _red_students(world: World) -> None:
    """A red (district-involved) student in each school, once."""
    if "red_own" in world.extra:
        return
    s = world.session
    own = make_student(s, world.own_school, make_class(s, world.own_school))
    other = make_student(s, world.other_school, make_class(s, world.other_school))
    apply_tier(s, None, own, 3, source="concern")
    apply_tier(s, None, other, 3, source="concern")
    world.extra.update(red_own=own, red_other=other)


def _pending(key: str):  # type: ignore[no-untyped-def]
    """Setup: a pending step-down for a new red student per school, requested by that school's
    psych teacher (the world's own psych teacher for the own school)."""

    def setup(world: World) -> None:
        s = world.session
        other_psych = world.extra.get("other_psych")
        if other_psych is None:
            other_psych = make_user(
                s, world.settings, Role.PSYCH_TEACHER, school=world.other_school
            )
            world.extra["other_psych"] = other_psych
        for where, school, requester in (
            ("own", world.own_school, world.users["psych_teacher"]),
            ("other", world.other_school, other_psych),
        ):
            student = make_student(s, school, make_class(s, school))
            apply_tier(s, None, student, 3, source="screening", provisional=True)
            decision = apply_tier(
                s, build_principal(s, requester), student, 1, source="manual", reason="calm now"
            )
            world.extra[f"{key}_{where}"] = decision.id

    return setup


def _student(world: World, where: str) -> str:
    return str((world.own_student if where == "own" else world.other_student).id)


def _red(world: World, where: str) -> str:
    return str(world.extra[f"red_{where}"].id)


def _policy_body(world: World, where: str) -> dict[str, str]:
    """Step two of the editor (confirm): the text with the digest a preview would hand out."""
    from wellbeing.risk.policy_review import digest, latest_version

    body = default_body()
    body["tiers"][3]["followup_days"] = 2
    text = yaml.safe_dump(body, allow_unicode=True)
    district = world.own_school.district_id
    version = latest_version(world.session, district)
    secret = world.settings.secret_key
    return {"step": "confirm", "body": text, "digest": digest(secret, district, version, text)}


TIER_OWN_ONLY = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
TIER_RED = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, counsellor=OK)
TIER_RED_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=OK)
QUEUE = everyone(FORBIDDEN, anonymous=LOGIN, school_leader=OK, counsellor=OK)
APPROVE = everyone(FORBIDDEN, anonymous=LOGIN, school_leader=REDIRECT, counsellor=REDIRECT)
APPROVE_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=REDIRECT)

CASES = [
    # the tier page of a green student: only the own school's psych teacher
    Case("GET", "/students/<uuid:student_id>/tier",
         lambda w, where: f"/students/{_student(w, where)}/tier",
         TIER_OWN_ONLY, DENY),
    # ... of a red student: the district counsellor too
    Case("GET", "/students/<uuid:student_id>/tier",
         lambda w, where: f"/students/{_red(w, where)}/tier",
         TIER_RED, TIER_RED_OTHER, setup=_red_students),
    Case("POST", "/students/<uuid:student_id>/tier",
         lambda w, where: f"/students/{_student(w, where)}/tier",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT), DENY,
         data={"tier": "1", "reason": "observed in class"}),
    Case("POST", "/students/<uuid:student_id>/tier",
         lambda w, where: f"/students/{_red(w, where)}/tier",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT, counsellor=REDIRECT),
         everyone(FORBIDDEN, anonymous=LOGIN, counsellor=REDIRECT),
         data={"tier": "3", "reason": "assessed"}, setup=_red_students),
    Case("POST", "/students/<uuid:student_id>/special-care",
         lambda w, where: f"/students/{_student(w, where)}/special-care",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT), DENY,
         data={"categories": "left_behind"}),
    Case("POST", "/students/<uuid:student_id>/special-care",
         lambda w, where: f"/students/{_red(w, where)}/special-care",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT, counsellor=REDIRECT),
         everyone(FORBIDDEN, anonymous=LOGIN, counsellor=REDIRECT),
         data={"categories": "bereavement"}, setup=_red_students),
    Case("GET", "/tier/stepdowns", lambda w, where: "/tier/stepdowns", QUEUE),
    Case("POST", "/tier/stepdowns/<uuid:decision_id>/approve",
         lambda w, where: f"/tier/stepdowns/{w.extra['approve_' + where]}/approve",
         APPROVE, APPROVE_OTHER, setup=_pending("approve")),
    Case("POST", "/tier/stepdowns/<uuid:decision_id>/reject",
         lambda w, where: f"/tier/stepdowns/{w.extra['reject_' + where]}/reject",
         APPROVE, APPROVE_OTHER, setup=_pending("reject")),
    # only the requester withdraws (the own school's psych teacher asked for both "own" ones)
    Case("POST", "/tier/stepdowns/<uuid:decision_id>/withdraw",
         lambda w, where: f"/tier/stepdowns/{w.extra['withdraw_' + where]}/withdraw",
         everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT), DENY,
         setup=_pending("withdraw")),
    Case("GET", "/admin/policy", lambda w, where: "/admin/policy",
         everyone(FORBIDDEN, anonymous=LOGIN, admin=OK)),
    Case("POST", "/admin/policy", lambda w, where: "/admin/policy",
         everyone(FORBIDDEN, anonymous=LOGIN, admin=REDIRECT), data=_policy_body),
]  # fmt: skip


def test_risk_routes_matrix(client, db_session, env):
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []
