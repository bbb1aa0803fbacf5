"""Shared set-up for referral tests: a school with one user of each role, a psychology teacher
of another school, two health partners with a liaison each, a student with guardians and the
guardian's consent, and :func:`walk_to` that brings a referral to any state through the
services, each move made by its rightful actor."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from wellbeing.auth.admin import create_user
from wellbeing.auth.models import User
from wellbeing.auth.services import build_principal
from wellbeing.config import Settings
from wellbeing.core.authz import Principal, Role
from wellbeing.crisis.guardian_log import record_guardian_contact
from wellbeing.db import utcnow
from wellbeing.orgs.models import School, SchoolClass
from wellbeing.referrals import partners, services
from wellbeing.referrals.models import HealthPartner, Referral, ReferralState
from wellbeing.students.models import Student

from ..factories import PASSWORD, make_school, make_student, make_user, staff_set, unique

S = ReferralState
ROLES = (
    "sender", "centre", "partner_a", "partner_b", "leader", "class_teacher", "other_psych",
    "supervisor", "admin",
)  # fmt: skip


@dataclass
class World:
    school: School
    student: Student
    users: dict[str, User]
    people: dict[str, Principal]
    partner_a: HealthPartner
    partner_b: HealthPartner


def liaison(session: Session, settings: Settings, partner: HealthPartner) -> User:
    user = create_user(session, None, settings, username=unique("liaison"), password=PASSWORD,
                       display_name="liaison", email=f"{unique('l')}@hospital.example")  # fmt: skip
    partners.link_liaison(session, None, user, partner)
    session.flush()
    session.refresh(user)
    return user


def make_partner(session: Session, district_id: Any, name: str, **extra: Any) -> HealthPartner:
    data = partners.PartnerInput(
        name=name, kind="hospital", district_id=district_id, services=["outpatient"],
        contacts=[{"kind": "phone", "value": "021-5555-0000"}], **extra,
    )  # fmt: skip
    return partners.save_partner(session, None, data)


def give_consent(
    session: Session, world: World, purpose: str = "referral", decision: str = "given",
    at: dt.datetime | None = None,
) -> None:  # fmt: skip
    record_guardian_contact(
        session, world.people["sender"], world.student, relation="mother", channel="phone",
        contacted_at=at or utcnow() - dt.timedelta(hours=1), summary="电话沟通转介事宜",
        consent_purpose=purpose, consent=decision,
    )  # fmt: skip


def make_world(
    session: Session, settings: Settings, *, tier: int = 3, consent: bool = True
) -> World:
    school = make_school(session)
    staff = staff_set(session, settings, school)
    class_id = next(m.class_id for m in staff["class_teacher"].memberships)
    student = make_student(session, school, session.get(SchoolClass, class_id), tier=tier)
    student.guardians = [{"name": "王母", "phone": "13800000000", "relation": "mother"},
                         {"name": "王父", "phone": "13900000000", "relation": "father"}]  # fmt: skip
    other = make_school(session)
    partner_a = make_partner(session, school.district_id, unique("市精神卫生中心"))
    partner_b = make_partner(session, school.district_id, unique("区妇幼保健院"))
    users = {
        "sender": staff["psych_teacher"], "centre": staff["counsellor"],
        "partner_a": liaison(session, settings, partner_a),
        "partner_b": liaison(session, settings, partner_b),
        "leader": staff["school_leader"], "class_teacher": staff["class_teacher"],
        "other_psych": make_user(session, settings, Role.PSYCH_TEACHER, school=other),
        "supervisor": staff["supervisor"], "admin": staff["admin"],
    }  # fmt: skip
    for user in users.values():
        user.email = user.email or f"{user.username}@school.example"
    session.flush()
    people = {role: build_principal(session, user) for role, user in users.items()}
    world = World(school, student, users, people, partner_a, partner_b)
    if consent:
        give_consent(session, world, "referral")
    return world


def draft(session: Session, world: World, **overrides: Any) -> Referral:
    values: dict[str, Any] = {"reason": "情绪低落两月，有自伤念头，需专科评估。",
                              "internal_reason": "班主任反映上课哭泣", "urgency": "urgent"}  # fmt: skip
    values.update(overrides)
    return services.create_draft(session, world.people["sender"], world.student.id,
                                 services.ReferralInput(**values))  # fmt: skip


# The path to each state, as (move, role) steps after the draft.
PATHS: dict[ReferralState, tuple[tuple[str, str], ...]] = {
    S.DRAFT: (),
    S.SUBMITTED: (("submit", "sender"),),
    S.RETURNED: (("submit", "sender"), ("return", "centre")),
    S.ACCEPTED: (("submit", "sender"), ("accept", "centre")),
    S.SENT: (("submit", "sender"), ("accept", "centre"), ("send", "centre")),
}
PATHS[S.ACKNOWLEDGED] = (*PATHS[S.SENT], ("acknowledge", "partner_a"))
PATHS[S.DECLINED] = (*PATHS[S.SENT], ("decline", "partner_a"))
PATHS[S.SCHEDULED] = (*PATHS[S.ACKNOWLEDGED], ("schedule", "partner_a"))
PATHS[S.ATTENDED] = (*PATHS[S.SCHEDULED], ("attended", "partner_a"))
PATHS[S.MISSED] = (*PATHS[S.SCHEDULED], ("missed", "partner_a"))
PATHS[S.FEEDBACK] = (*PATHS[S.ATTENDED], ("feedback", "partner_a"))
PATHS[S.CLOSED] = (*PATHS[S.FEEDBACK], ("close", "centre"))
PATHS[S.WITHDRAWN] = (("withdraw", "sender"),)
PATHS[S.CANCELLED] = (("submit", "sender"), ("consent_withdrawn", "sender"))


def do(session: Session, world: World, referral: Referral, move: str, role: str) -> Any:
    """Make ``move`` on ``referral`` as ``role`` through its service."""
    who, rid = world.people[role], referral.id
    partner = world.partner_b if referral.state == S.DECLINED else world.partner_a
    calls = {
        "submit": lambda: services.submit(session, who, rid),
        "accept": lambda: services.accept(session, who, rid),
        "return": lambda: services.return_to_school(session, who, rid, "请补充监护人意见"),
        "send": lambda: services.send(session, who, rid, partner.id),
        "acknowledge": lambda: services.acknowledge(session, who, rid),
        "decline": lambda: services.decline(session, who, rid, "本院儿童门诊已满"),
        "schedule": lambda: services.schedule(
            session, who, rid, utcnow() + dt.timedelta(days=2), note="儿童精神科门诊三楼"
        ),
        "attended": lambda: services.record_attendance(session, who, rid, True),
        "missed": lambda: services.record_attendance(session, who, rid, False),
        "feedback": lambda: services.record_feedback(
            session,
            who,
            rid,
            services.FeedbackInput(summary="诊断为中度抑郁发作", advises_return=True),
        ),
        "close": lambda: services.close(session, who, rid, "treated"),
        "withdraw": lambda: services.withdraw(session, who, rid, "家长改为自行就医"),
        "consent_withdrawn": lambda: give_consent(session, world, "referral", "withdrawn"),
    }
    return calls[move]()


MOVES = (
    "submit", "accept", "return", "send", "acknowledge", "decline", "schedule", "attended",
    "missed", "feedback", "close", "withdraw",
)  # fmt: skip


def walk_to(session: Session, world: World, state: ReferralState) -> Referral:
    referral = draft(session, world)
    for move, role in PATHS[state]:
        do(session, world, referral, move, role)
    session.refresh(referral)
    assert referral.state == state
    return referral
