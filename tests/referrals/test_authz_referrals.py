"""Authorization matrix for the referral pages of the school, the centre and the admin
(expected statuses written by hand). The partner portal has its own matrix.

Each case has its own students (of the own and of the other school) with a referral in the
state the route acts on, made by the psychology teacher of the student's school with the
guardian's consent. Starting and changing a referral (REFERRALS_CREATE): the own school's
psychology teacher; another school's referral is a 404 (it may not know it exists). Reading
(REFERRALS_READ): the own school's psychology teacher and leader, the district counsellor
(every school of the district). Triage (REFERRALS_TRIAGE): the counsellor. The letter and the
FHIR download: the sender and the centre (a leader gets 404). The admin pages
(PARTNERS_MANAGE): the admin. A partner liaison gets 403 everywhere here (the matrix's
``partner`` has no organisation; :func:`test_a_liaison_of_the_addressed_partner_is_refused`
repeats every case with the liaison of the partner the referral is addressed to).
"""

from __future__ import annotations

import datetime as dt

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Role
from wellbeing.crisis.guardian_log import record_guardian_contact
from wellbeing.db import utcnow
from wellbeing.referrals import services

from ..authz import (
    FORBIDDEN,
    LOGIN,
    NOT_FOUND,
    OK,
    REDIRECT,
    Case,
    build_world,
    check_case,
    everyone,
    run_cases,
)
from ..conftest import login
from ..factories import make_class, make_student, make_user
from .helpers import liaison, make_partner

NONE = everyone(FORBIDDEN, anonymous=LOGIN)
CREATE_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK)
ACT_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=REDIRECT)
CREATE_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=NOT_FOUND)
READ_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=OK,
                    counsellor=OK)  # fmt: skip
READ_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=NOT_FOUND,
                      school_leader=NOT_FOUND, counsellor=OK)  # fmt: skip
DOC_OWN = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=OK, school_leader=NOT_FOUND,
                   counsellor=OK)  # fmt: skip
TRIAGE = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=REDIRECT)
# Closing a declined referral is the centre's: the sender and the leader are refused by the
# move's guard (403), the other school's staff do not know it (404).
CLOSE_OWN = everyone(FORBIDDEN, anonymous=LOGIN, counsellor=REDIRECT)
CLOSE_OTHER = everyone(FORBIDDEN, anonymous=LOGIN, psych_teacher=NOT_FOUND,
                       school_leader=NOT_FOUND, counsellor=REDIRECT)  # fmt: skip
ADMIN_OK = everyone(FORBIDDEN, anonymous=LOGIN, admin=OK)
ADMIN_ACT = everyone(FORBIDDEN, anonymous=LOGIN, admin=REDIRECT)
GUARDIANS = [{"name": "王母", "phone": "13800000000", "relation": "mother"}]


def _partner(w):  # type: ignore[no-untyped-def]
    if "partner" not in w.extra:
        w.extra["partner"] = make_partner(w.session, w.own_school.district_id, "矩阵医院")
        w.extra["partner_b"] = make_partner(w.session, w.own_school.district_id, "矩阵医院二")
        w.extra["liaison"] = liaison(w.session, w.settings, w.extra["partner"])
    return w.extra["partner"]


def _people(w):  # type: ignore[no-untyped-def]
    if "psych_other" not in w.extra:
        w.extra["psych_other"] = make_user(w.session, w.settings, Role.PSYCH_TEACHER,
                                           school=w.other_school)  # fmt: skip
    return {
        "own": build_principal(w.session, w.users["psych_teacher"]),
        "other": build_principal(w.session, w.extra["psych_other"]),
        "centre": build_principal(w.session, w.users["counsellor"]),
        "liaison": build_principal(w.session, w.extra["liaison"]),
    }


STEPS = {
    "none": [], "draft": [], "submitted": ["submit"], "accepted": ["submit", "accept"],
    "declined": ["submit", "accept", "send", "decline"],
}  # fmt: skip


def _students(key, state):  # type: ignore[no-untyped-def]
    """A setup: for each school a new orange student with guardian consent and (unless
    ``state`` is "none") a referral in ``state``; ids in ``w.extra[f"{key}_{where}"]``."""

    def setup(w):  # type: ignore[no-untyped-def]
        partner = _partner(w)
        people = _people(w)
        for where, school in (("own", w.own_school), ("other", w.other_school)):
            student = make_student(w.session, school, make_class(w.session, school), tier=2)
            student.guardians = GUARDIANS
            record_guardian_contact(
                w.session, people[where], student, relation="mother", channel="phone",
                contacted_at=utcnow() - dt.timedelta(hours=1), summary="转介同意",
                consent_purpose="referral", consent="given",
            )  # fmt: skip
            w.extra[f"student_{key}_{where}"] = student.id
            if state == "none":
                continue
            sender = people[where]
            referral = services.create_draft(
                w.session, sender, student.id, services.ReferralInput(reason="矩阵测试")
            )
            for step in STEPS[state]:
                if step == "submit":
                    services.submit(w.session, sender, referral.id)
                elif step == "accept":
                    services.accept(w.session, people["centre"], referral.id)
                elif step == "send":
                    services.send(w.session, people["centre"], referral.id, partner.id)
                elif step == "decline":
                    services.decline(w.session, people["liaison"], referral.id, "门诊已满")
            w.extra[f"{key}_{where}"] = referral.id

    return setup


def _at(key, suffix=""):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/referrals/{w.extra[f'{key}_{where}']}{suffix}"


def _new(key):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/students/{w.extra[f'student_{key}_{where}']}/referrals/new"


FORM = {"reason": "矩阵测试", "urgency": "routine", "guardian": ""}
PARTNER_FORM = {
    "name": "矩阵新医院", "kind": "clinic", "ack_working_days": "2", "red_ack_hours": "4",
    "appointment_working_days": "5", "feedback_working_days": "10", "access_days": "30",
    "day_start": "08:30", "day_end": "17:30",
}  # fmt: skip


def _partner_url(suffix=""):  # type: ignore[no-untyped-def]
    return lambda w, where: f"/admin/partners/{_partner(w).id}{suffix}"


CASES = [
    Case("GET", "/students/<uuid:student_id>/referrals/new", _new("new"), CREATE_OWN, NONE,
         setup=_students("new", "none")),
    Case("POST", "/students/<uuid:student_id>/referrals/new", _new("new"), ACT_OWN, NONE,
         data=FORM),
    Case("GET", "/referrals/<uuid:referral_id>/edit", _at("draft", "/edit"), CREATE_OWN,
         CREATE_OTHER, setup=_students("draft", "draft")),
    Case("POST", "/referrals/<uuid:referral_id>/edit", _at("draft", "/edit"), ACT_OWN,
         CREATE_OTHER, data=FORM),
    Case("GET", "/referrals/<uuid:referral_id>/preview", _at("draft", "/preview"), CREATE_OWN,
         CREATE_OTHER),
    Case("POST", "/referrals/<uuid:referral_id>/submit", _at("draft", "/submit"), ACT_OWN,
         CREATE_OTHER, data={"partner_id": ""}),
    Case("GET", "/referrals/<uuid:referral_id>", _at("sub"), READ_OWN, READ_OTHER,
         setup=_students("sub", "submitted")),
    Case("GET", "/referrals", lambda w, where: "/referrals", READ_OWN),
    Case("GET", "/referrals/<uuid:referral_id>/letter", _at("sub", "/letter"), DOC_OWN,
         READ_OTHER),
    Case("GET", "/referrals/<uuid:referral_id>/fhir", _at("sub", "/fhir"), DOC_OWN, READ_OTHER),
    Case("POST", "/referrals/<uuid:referral_id>/withdraw", _at("wd", "/withdraw"), ACT_OWN,
         CREATE_OTHER, setup=_students("wd", "submitted"), data={"reason": "矩阵"}),
    Case("POST", "/referrals/<uuid:referral_id>/accept", _at("acc", "/accept"), TRIAGE,
         setup=_students("acc", "submitted")),
    Case("POST", "/referrals/<uuid:referral_id>/return", _at("ret", "/return"), TRIAGE,
         setup=_students("ret", "submitted"), data={"reason": "矩阵"}),
    Case("POST", "/referrals/<uuid:referral_id>/send", _at("snd", "/send"), TRIAGE,
         setup=_students("snd", "accepted"),
         data=lambda w, where: {"partner_id": str(w.extra["partner_b"].id)}),
    Case("POST", "/referrals/<uuid:referral_id>/close", _at("cls", "/close"), CLOSE_OWN,
         CLOSE_OTHER, setup=_students("cls", "declined"), data={"outcome": "no_partner"}),
    # the admin's partner register
    Case("GET", "/admin/partners", lambda w, where: "/admin/partners", ADMIN_OK),
    Case("GET", "/admin/partners/new", lambda w, where: "/admin/partners/new", ADMIN_OK),
    Case("POST", "/admin/partners/new", lambda w, where: "/admin/partners/new", ADMIN_ACT,
         data=PARTNER_FORM),
    Case("GET", "/admin/partners/<uuid:partner_id>", _partner_url(), ADMIN_OK),
    Case("POST", "/admin/partners/<uuid:partner_id>", _partner_url(), ADMIN_ACT,
         data={**PARTNER_FORM, "name": "矩阵医院"}),
    Case("POST", "/admin/partners/<uuid:partner_id>/liaisons", _partner_url("/liaisons"),
         ADMIN_ACT, data=lambda w, where: {"username": w.users["psych_teacher"].username}),
    Case("POST", "/admin/partners/<uuid:partner_id>/calendar", _partner_url("/calendar"),
         ADMIN_ACT, data={"day": "2027-02-20", "is_working_day": "1", "label": "调休"}),
    Case("GET", "/admin/partners/calendar", lambda w, where: "/admin/partners/calendar",
         ADMIN_OK),
    Case("POST", "/admin/partners/calendar", lambda w, where: "/admin/partners/calendar",
         ADMIN_ACT, data={"day": "2027-02-08", "is_working_day": "0", "label": "春节"}),
    Case("POST", "/admin/partners/calendar/<day>/remove",
         lambda w, where: "/admin/partners/calendar/2027-02-08/remove", ADMIN_ACT),
]  # fmt: skip


def test_referral_routes_matrix(client, db_session, env):  # type: ignore[no-untyped-def]
    world = build_world(db_session, env.settings)
    assert run_cases(client, world, CASES) == []


def test_a_liaison_of_the_addressed_partner_is_refused(client, db_session, env):  # type: ignore[no-untyped-def]
    """The liaison of the partner a referral is addressed to: 403 on every school, centre and
    admin page (the role has none of their permissions), whatever the referral's state."""
    world = build_world(db_session, env.settings)
    problems = []
    for case in CASES:
        if case.setup is not None and not world.extra.get(f"_setup_{id(case)}"):
            case.setup(world)
            world.extra[f"_setup_{id(case)}"] = True
            db_session.flush()
        _partner(world)
        world.users["liaison"] = world.extra["liaison"]
        check = Case(case.method, case.rule, case.path, {"liaison": FORBIDDEN}, data=case.data)
        for where in ("own", "other"):
            with client.session_transaction() as sess:
                sess.clear()
            login(client, world.extra["liaison"])
            problem = check_case(client, world, check, "liaison", where)
            if problem:
                problems.append(problem)
    assert problems == []
