"""Demo growth records (issue 14) and referrals (issue 15) for the demo district's orange and red
students, on top of the cases ``demo_cases`` seeds (screening, concerns, crises, proposals).

Everything goes through the services a person's request would call, as that person (the
school's psychology teacher writes notes, contacts and plans; the school leader signs them off;
the class teacher completes a task; the district counsellor triages referrals; the partners'
liaisons acknowledge, schedule and write feedback). Times are spread over the past weeks (the
services take ``now``), so versions, SLAs and turnaround figures have something to show.

The students are taken in a fixed order (school code, student number); each gets the plan
scenario and the referral of its position (:data:`PLAN_SCENARIOS`, :data:`REFERRAL_PATHS`).

Idempotent: each part runs only when its marker is absent (any counselling note; any health
partner; any referral), so a second run adds nothing. This file sits beside the roof
(``demo``, ``demo_cases``) and imports only domain modules, never them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth.admin import revoke_membership
from .auth.models import Membership, User
from .auth.services import build_principal
from .config import Settings
from .core import audit
from .core.authz import Principal, Role
from .crisis.guardian_log import record_guardian_contact
from .crisis.services import complete_step, crisis_for_student, steps_of
from .db import Database, utcnow
from .notes.models import CounsellingNote
from .notes.services import NoteInput, write_note
from .orgs.models import District, School
from .plans.models import PlanTask, TaskState
from .plans.services import save_draft, save_version, sign, start_plan, start_review
from .plans.tasks import complete_task
from .referrals import services as referrals
from .referrals.models import HealthPartner, Referral
from .referrals.partners import PartnerInput, link_liaison, save_partner, set_calendar_day
from .screening.clock import local_today, school_tz
from .screening.models import Response
from .students.models import Student, StudentStatus

DISTRICT_CODE = "demo-district"
# (liaison username, name, kind, departments, services)
PARTNERS = (
    ("partner", "示范区精神卫生中心", "hospital", "儿童青少年心理科",
     ["outpatient", "inpatient", "emergency", "assessment", "medication"]),
    ("partner2", "示范区儿童青少年心理门诊部", "clinic", "心理咨询门诊",
     ["outpatient", "assessment", "psychotherapy", "family_therapy"]),
)  # fmt: skip
# What happens to each student's plan, by position (cycled).
PLAN_SCENARIOS = ("active", "review", "submitted", "proposed", "resigned", "active", "active")
# The referral path of each student, by position: the partner (index into PARTNERS) and the
# state it is left in; "cancelled" is sent, then the guardian withdraws consent.
REFERRAL_PATHS = (
    (0, "closed"), (1, "feedback"), (0, "scheduled"), (1, "cancelled"), (1, "acknowledged"),
    (0, "accepted"), (0, "sent"), (0, "submitted"),
)  # fmt: skip
SHARING_REFUSED = 2  # the position whose father refuses sharing screening results

SCREENING_CONCERN = "秋季心理测评中抑郁、焦虑量表得分偏高，自述近两周情绪低落、兴趣减退、入睡困难。"
SUMMARIES = (
    "近一个月情绪低落、睡眠差，学习动力明显下降；测评与约谈提示存在消极想法，已完成校内安全计划。",
    "近期与同学关系紧张，常独来独往，课堂参与减少；自评焦虑明显，考试前尤甚。",
)
PROTECTIVE = "与母亲关系亲密，愿意和心理老师交流；喜欢篮球，有一两位要好的同学。"
STUDENT_VIEW = "希望老师不要在全班面前点名提问，愿意每周来心理辅导室聊一次。"
GUARDIANS = "母亲每周与心理老师电话沟通一次，留意孩子作息和手机使用；家中药品、利器由家长妥善保管。"
GOALS = (
    ("情绪逐步稳定，能说出并使用至少两种应对低落情绪的方法", "每周辅导记录；六周后PHQ-9复测得分下降"),
    ("恢复规律作息，每晚十一点前入睡", "学生睡眠日记，班主任观察上课精神状态"),
    ("在班级中至少有一位可以倾诉的同伴", "班主任每周观察反馈"),
)  # fmt: skip
ACHIEVEMENTS = (("improving", "in_progress", "worsening"), ("in_progress", "achieved", "not_achieved"))  # fmt: skip
INTERVENTIONS = (
    ("individual_counselling", "个别心理辅导，帮助识别和调整消极想法", "每周一次，每次四十分钟", "心理教师"),
    ("mentor_checkin", "班主任课间简短问候，关注情绪和出勤", "每周一次", "班主任"),
    ("class_adjustment", "座位调整到前排，减少在全班面前被点名", "本学期", "班主任"),
    ("family_meeting", "与家长面谈，共同商定家庭支持措施", "每月一次", "心理教师、家长"),
)  # fmt: skip
REFERRAL_INTERVENTION = (
    "referral", "经监护人同意，转介至合作医院儿童青少年心理门诊评估", "一次，视评估结果调整",
    "心理教师、区心理辅导中心",
)  # fmt: skip
TASKS = {
    "psych": "给家长打电话，反馈本周在校情况",
    "checkin": "每周一课间谈心问候",
    "seat": "把座位调到前排",
    "guardian": "每晚陪孩子散步二十分钟，并记录入睡时间",
}
SEAT_DONE = "已调到第二排靠窗位置，学生表示满意。"
NOTES = {
    "first": ("individual", 45, "第一次个别辅导。学生讲述近两周入睡困难、上课注意力不集中，提到“觉得自己什么都做不好”。"
              "评估：有消极想法，否认具体计划；与母亲关系亲密是重要保护因素。约定下周同一时间再谈。"),
    "phone": ("phone", 20, "与学生母亲电话沟通。母亲反映孩子在家话少、常熬夜玩手机，同意配合学校的支持计划，"
              "愿意每周与心理老师联系一次。已提醒家长妥善保管家中药品。"),
    "second": ("individual", 40, "第二次辅导。学生情绪较上周平稳，能用呼吸放松练习应对紧张，仍担心期中考试。"
               "布置作业：每天记录一件做得好的小事。"),
    "restricted": ("individual", 50, "学生谈到家中父母经常争吵，曾有推搡，希望不要告诉班主任。已说明保密例外的范围；"
                   "目前未发现需要立即报告的情形，下次辅导继续评估。"),
}  # fmt: skip
CRISIS_NOTES = {
    "assessment": "与学生单独面谈完成风险评估：有消极想法，否认具体计划和准备，同意接受帮助。",
    "safety_plan": "与学生共同制定安全计划：识别预警信号，列出可以求助的人和心理援助热线，家长负责移除家中危险物品。",
    "guardian": "电话告知母亲孩子今天在校的情况和学校已采取的措施，请家长当天到校接孩子并注意看护。",
}
CONSENTS = {
    "referral": ("mother", "in_person", "given", "与母亲面谈，说明转介到合作医院评估的目的、流程和将共享的信息，母亲同意转介。"),
    "partner_sharing": ("mother", "in_person", "given", "向母亲说明将与医院共享测评得分和风险等级，不共享辅导记录，母亲同意。"),
    "refused": ("father", "phone", "refused", "父亲同意孩子去医院就诊，但不同意学校向医院提供测评结果，希望由家长自己向医生说明。"),
    "withdrawn": ("mother", "phone", "withdrawn", "母亲来电表示家里决定先带孩子去外地亲戚推荐的医院就诊，撤回对本次转介的同意。已说明学校会继续提供校内支持。"),
}  # fmt: skip
REASON = "学生近一个月情绪低落、失眠，校内测评提示抑郁症状明显并有消极想法，已完成校内危机干预，请协助专业评估并给出诊治建议。"
INTERNAL = "家长起初倾向先观察，经两次沟通后同意转介；联系母亲为宜，父亲工作较忙。"
APPOINTMENT = "儿童青少年心理门诊三楼，请携带既往就诊资料和学校转介单。"
FEEDBACK = referrals.FeedbackInput(
    summary="学生按时就诊，完成精神检查和量表评估。",
    assessment="中度抑郁发作，伴焦虑症状；目前无自伤行为。",
    for_school="建议适当减轻课业压力，避免公开点名批评；心理老师每周跟进一次。",
    for_family="保证规律作息，家长每天与孩子交流不少于二十分钟，按医嘱复诊。",
    next_appointment="两周后门诊复诊。",
)
CLOSE_REASON = "学生已在医院门诊规律治疗，校内按计划继续跟进。"
UPDATE_DONE = "已阅读医院反馈，校内措施不变，下次复查时补充复诊安排。"


@contextmanager
def acting(session: Session, user: User) -> Iterator[Principal]:
    """``user``'s principal; audit entries are attributed to them meanwhile."""
    role = user.memberships[0].role if user.memberships else None
    token = audit.set_actor(audit.Actor(user_id=user.id, username=user.username, role=role))
    try:
        yield build_principal(session, user)
    finally:
        audit._cli_actor.reset(token)


def _user(
    session: Session, role: Role, school_id: uuid.UUID | None = None, username: str | None = None
) -> User:
    """The demo user with ``role`` (at the school; with the username), the first by name."""
    stmt = select(User).join(Membership, Membership.user_id == User.id)
    stmt = stmt.where(Membership.role == str(role), User.active.is_(True))
    if school_id is not None:
        stmt = stmt.where(Membership.school_id == school_id)
    if username is not None:
        stmt = stmt.where(User.username == username)
    user = session.scalars(stmt.order_by(User.username)).first()
    if user is None:
        raise RuntimeError(f"demo user {username or role} is missing: seed the users first")
    return user


def students_of_concern(session: Session) -> list[Student]:
    """The demo district's active orange and red students, in a fixed order (school code,
    student number: the number is encrypted, so the order is made here)."""
    rows = session.execute(
        select(School.code, Student)
        .join(School, School.id == Student.school_id)
        .join(District, District.id == School.district_id)
        .where(District.code == DISTRICT_CODE, Student.tier >= 2,
               Student.status == StudentStatus.ACTIVE)
    ).all()  # fmt: skip
    return [student for _code, student in sorted(rows, key=lambda r: (r[0], r[1].student_number))]


def local_at(days_ago: int, hour: float) -> dt.datetime:
    """``hour`` o'clock (school time) ``days_ago`` days ago: demo work happens in working hours."""
    day = local_today() - dt.timedelta(days=days_ago)
    start = dt.datetime.combine(day, dt.time(0), tzinfo=school_tz())
    return (start + dt.timedelta(hours=hour)).astimezone(dt.UTC)


def _exists(session: Session, model: type[Any]) -> bool:
    return session.scalar(select(model.id).limit(1)) is not None


def seed_records(db: Database, settings: Settings) -> None:
    """Notes, guardian contacts, plans and tasks; then partners and referrals (idempotent)."""
    now = utcnow()
    with db.session() as session:
        if not _exists(session, CounsellingNote):
            for n, student in enumerate(students_of_concern(session)):
                _seed_student(session, student, n, now)
    with db.session() as session:
        if not _exists(session, HealthPartner):
            _seed_partners(session)
    with db.session() as session:
        if not _exists(session, Referral):
            _seed_referrals(session)


# --------------------------------------------------------------------------- records (issue 14)


def _seed_student(session: Session, student: Student, n: int, now: dt.datetime) -> None:
    psych = _user(session, Role.PSYCH_TEACHER, student.school_id)
    with acting(session, psych) as actor:
        if student.tier == 3:
            _crisis_steps(session, actor, student, now)
        for key, days in _note_plan(n):
            note_type, minutes, text = NOTES[key]
            data = NoteInput(
                session_date=local_today() - dt.timedelta(days=days), note_type=note_type,
                duration_minutes=minutes, content=text, restricted=key == "restricted",
                checklist=["hopelessness", "protective_factors"] if key == "first" else [],
            )  # fmt: skip
            write_note(session, actor, student, data, sign=True, now=local_at(days, 17))
        for key in _consents(n):
            relation, channel, decision, summary = CONSENTS[key]
            record_guardian_contact(
                session, actor, student, relation=relation, channel=channel,
                contacted_at=local_at(20, 16 + n / 4), summary=summary,
                consent_purpose="referral" if key == "referral" else "partner_sharing",
                consent=decision,
            )  # fmt: skip
    scenario = PLAN_SCENARIOS[n % len(PLAN_SCENARIOS)]
    if scenario != "proposed":
        _seed_plan(session, student, n, scenario, psych)


def _note_plan(n: int) -> list[tuple[str, int]]:
    """Which notes the student at position ``n`` has (key, days ago): one to three."""
    notes = [("first", 12)]
    if n % 2 == 0:
        notes.append(("phone", 11))
    if n % 3 != 2:
        notes.append(("second", 5))
    if n == 1:
        notes.append(("restricted", 4))
    return notes


def _consents(n: int) -> list[str]:
    if n >= len(REFERRAL_PATHS):
        return []
    if n == SHARING_REFUSED:
        return ["referral", "refused"]
    return ["referral", "partner_sharing"]


def _crisis_steps(session: Session, actor: Principal, student: Student, now: dt.datetime) -> None:
    """The crisis checklist up to the safety plan (a red student's plan links it)."""
    crisis = crisis_for_student(session, student.id)
    if crisis is None:
        return
    done = steps_of(session, crisis)
    guardian = {"relation": "mother", "channel": "phone", "summary": CRISIS_NOTES["guardian"],
                "contacted_at": now}  # fmt: skip
    for step in ("acknowledge", "assessment", "guardian_notified", "safety_plan"):
        if step not in done:
            complete_step(
                session, actor, crisis, step, note=CRISIS_NOTES.get(step),
                guardian=guardian if step == "guardian_notified" else None, now=now,
            )  # fmt: skip


def _body(
    draft: dict[str, Any], student: Student, n: int, staff: dict[str, User]
) -> dict[str, Any]:
    """The first version's body: the prefilled draft plus goals, interventions and adults."""
    today = local_today()
    body = dict(draft)
    concerns = list(body["concerns"]) or [{"text": SCREENING_CONCERN}]
    for concern in concerns:
        concern.setdefault("id", uuid.uuid4().hex)
    achievements = ACHIEVEMENTS[n % 2]
    body |= {
        "concerns": concerns, "summary": SUMMARIES[student.tier == 2], "protective_factors": PROTECTIVE,
        "student_view": STUDENT_VIEW, "student_agreed": True, "guardian_involvement": GUARDIANS,
        "goals": [
            {"id": uuid.uuid4().hex, "text": text, "measure": measure,
             "target_date": (today + dt.timedelta(weeks=6 + 2 * i)).isoformat(),
             "lifecycle": "active", "achievement": achievements[i],
             "concern_ids": [c["id"] for c in concerns] if i == 0 else []}
            for i, (text, measure) in enumerate(GOALS)
        ],
        "interventions": [
            {"id": uuid.uuid4().hex, "kind": kind, "description": description, "frequency": freq,
             "who": who}
            for kind, description, freq, who in INTERVENTIONS
        ],
    }  # fmt: skip
    overdue = n == 0  # one student's weekly check-in is overdue
    checkin_due = today - dt.timedelta(days=2) if overdue else today + dt.timedelta(days=4)
    body["adults"] = [
        {"user_id": staff["psych"].id.hex, "role": "psych_teacher",
         "tasks": [{"id": f"psych{n}", "title": TASKS["psych"],
                    "due": (today + dt.timedelta(days=3)).isoformat()}]},
        {"user_id": staff["class"].id.hex, "role": "class_teacher",
         "tasks": [{"id": f"checkin{n}", "title": TASKS["checkin"], "due": checkin_due.isoformat()},
                   {"id": f"seat{n}", "title": TASKS["seat"],
                    "due": (today + dt.timedelta(days=-1 if overdue else 2)).isoformat()}]},
        {"name": "母亲", "role": "guardian",
         "tasks": [{"id": f"guardian{n}", "title": TASKS["guardian"],
                    "due": (today + dt.timedelta(days=7)).isoformat()}]},
    ]  # fmt: skip
    return body


def _seed_plan(session: Session, student: Student, n: int, scenario: str, psych: User) -> None:
    """Write the plan as the psychology teacher; the school leader signs it off."""
    school = student.school_id
    staff = {"psych": psych, "class": _user(session, Role.CLASS_TEACHER, school)}
    leader = _user(session, Role.SCHOOL_LEADER, school)
    first = local_at(9 if scenario in ("review", "resigned") else 3, 10)
    with acting(session, psych) as writer:
        plan = start_plan(session, writer, student.id, now=first)
        body = _body(plan.draft or {}, student, n, staff)
        save_draft(session, writer, plan.id, body, now=first)
        save_version(session, writer, plan.id, now=first)
    if scenario == "submitted":
        return
    with acting(session, leader) as signer:
        sign(session, signer, plan.id, 1, now=first + dt.timedelta(hours=3))
    if scenario == "active" and n == 0:
        with acting(session, staff["class"]) as teacher:
            task = session.scalar(select(PlanTask).where(PlanTask.key == f"seat{n}"))
            if task is not None:
                complete_task(session, teacher, task.id, SEAT_DONE, now=local_at(1, 12))
    if scenario not in ("review", "resigned"):
        return
    second = local_at(1, 10)
    with acting(session, psych) as writer:
        start_review(session, writer, plan.id, now=second)
        body = dict(plan.draft or {})
        if scenario == "review":  # progress only: in effect at once, no new sign-off
            body["summary"] += "两周来情绪有所好转，已能按时完成作业。"
            for goal, achievement in zip(body["goals"], ("improving", "achieved", "improving"),
                                         strict=False):  # fmt: skip
                goal["achievement"] = achievement
        else:  # a referral is added: material, signed off again
            kind, description, freq, who = REFERRAL_INTERVENTION
            body["interventions"] = [*body["interventions"], {
                "id": uuid.uuid4().hex, "kind": kind, "description": description,
                "frequency": freq, "who": who}]  # fmt: skip
        save_draft(session, writer, plan.id, body, now=second)
        save_version(session, writer, plan.id, now=second)
        if scenario == "review":  # the next review has begun (the draft waits)
            start_review(session, writer, plan.id, now=local_at(1, 16))
    if scenario == "resigned":
        with acting(session, leader) as signer:
            sign(session, signer, plan.id, 2, now=second + dt.timedelta(hours=2))


# --------------------------------------------------------------------------- referrals (issue 15)


def _seed_partners(session: Session) -> None:
    """Two health partners, each with its liaison (the demo's partner logins), and a holiday."""
    district = session.scalar(select(District).where(District.code == DISTRICT_CODE))
    if district is None:
        raise RuntimeError("the demo district is missing: seed the district first")
    admin = _user(session, Role.ADMIN)
    with acting(session, admin) as actor:
        for n, (username, name, kind, department, services) in enumerate(PARTNERS):
            partner = save_partner(session, actor, PartnerInput(
                name=name, kind=kind, district_id=district.id, services=services,
                departments=[{"name": department, "services": services}],
                contacts=[{"kind": "phone", "value": f"010-6{n + 1}88 0{n + 1}20", "label": "转介联络"},
                          {"kind": "email", "value": f"referral{n + 1}@partner.example.cn"}],
                ack_working_days=2 + n, red_ack_hours=4,
            ))  # fmt: skip
            liaison = _user(session, Role.PARTNER, username=username)
            for membership in list(liaison.memberships):  # the seeded, not yet scoped, role
                if membership.role == Role.PARTNER and membership.partner_id is None:
                    revoke_membership(session, actor, membership)
            session.flush()
            link_liaison(session, actor, liaison, partner)
        new_year = dt.date(local_today().year + 1, 1, 1)
        set_calendar_day(session, actor, district.id, new_year, False, label="元旦")


def _seed_referrals(session: Session) -> None:
    by_name = {p.name: p for p in session.scalars(select(HealthPartner))}
    if any(name not in by_name for _u, name, *_ in PARTNERS):
        return  # the partners were registered by hand, not by the demo: no demo referrals
    liaisons = [
        (_user(session, Role.PARTNER, username=u), by_name[name]) for u, name, *_ in PARTNERS
    ]
    centre = _user(session, Role.COUNSELLOR)
    for n, student in enumerate(students_of_concern(session)[: len(REFERRAL_PATHS)]):
        which, target = REFERRAL_PATHS[n]
        _referral(session, student, n, target, liaisons[which], centre)


def _referral(session: Session, student: Student, n: int, target: str,
              liaison: tuple[User, HealthPartner], centre: User) -> None:  # fmt: skip
    """One referral, moved along its path by the sender, the centre and the partner."""
    base = 2 * (len(REFERRAL_PATHS) - n) + 2  # days ago it was written: 18 to 4

    def at(days: int, hour: float) -> dt.datetime:
        return local_at(base - days, hour)

    responses = [] if n == SHARING_REFUSED else list(
        session.scalars(select(Response.id).where(Response.student_id == student.id))
    )  # fmt: skip
    sender = _user(session, Role.PSYCH_TEACHER, student.school_id)
    user, partner = liaison
    path = ("submitted", "accepted", "sent", "acknowledged", "scheduled", "attended", "feedback",
            "closed")  # fmt: skip
    stop = path.index("sent" if target == "cancelled" else target)
    with acting(session, sender) as actor:
        data = referrals.ReferralInput(
            reason=REASON, internal_reason=INTERNAL,
            urgency="urgent" if student.tier == 3 else "soon", responses=responses,
        )  # fmt: skip
        referral = referrals.create_draft(session, actor, student.id, data, now=at(0, 9.5))
        referrals.submit(session, actor, referral.id, now=at(0, 10))
    rid = referral.id
    with acting(session, centre) as actor:
        if stop >= 1:
            referrals.accept(session, actor, rid, now=at(1, 9))
        if stop >= 2:
            referrals.send(session, actor, rid, partner.id, now=at(1, 11))
    with acting(session, user) as actor:
        if stop >= 3:
            referrals.acknowledge(session, actor, rid, now=at(1, 15))
        if stop >= 4:  # one still to come; the others were attended
            when = local_at(-2, 9) if target == "scheduled" else at(4, 9)
            referrals.schedule(session, actor, rid, when, note=APPOINTMENT, now=at(1, 15.5))
        if stop >= 5:
            referrals.record_attendance(session, actor, rid, True, now=at(4, 10.5))
        if stop >= 6:
            referrals.record_feedback(session, actor, rid, FEEDBACK, now=at(6, 16))
    if stop >= 7:
        with acting(session, sender) as actor:
            referrals.close(session, actor, rid, "in_treatment", reason=CLOSE_REASON,
                            now=at(7, 10))  # fmt: skip
            for task in session.scalars(select(PlanTask).where(
                PlanTask.student_id == student.id, PlanTask.kind == "update_plan",
                PlanTask.state == TaskState.OPEN)):  # fmt: skip
                complete_task(session, actor, task.id, UPDATE_DONE, now=at(7, 10.5))
    if target == "cancelled":  # the guardian withdraws: the referral is cancelled at once
        relation, channel, decision, summary = CONSENTS["withdrawn"]
        with acting(session, sender) as actor:
            record_guardian_contact(
                session, actor, student, relation=relation, channel=channel,
                contacted_at=local_at(1, 18), summary=summary,
                consent_purpose="referral", consent=decision,
            )  # fmt: skip
