"""Shared fixtures for the plans tests (other test packages import these too; keep them stable).

``plans_world`` is one school with a psychology teacher (and a second one), a school leader, a
class teacher (of the students' class), a district counsellor, a student of each tier that
matters (``orange``: tier 2, ``red``: tier 3, ``yellow``: tier 1) and a psychology teacher of
another school. Tiers are set directly (no ``TIER_CHANGED``), so no plan is proposed and no
crisis is opened: a test that wants those calls the services. Every student is
``district_involved`` so that the counsellor may act on them.

``safety_crisis(session, world, student)`` opens a crisis for the student and records the
checklist's "safety_plan" step (what a red student's plan links as its safety step).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy.orm import Session

from wellbeing.auth.models import User
from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Principal, Role
from wellbeing.orgs.models import School, SchoolClass
from wellbeing.students.models import Student

from ..factories import make_class, make_school, make_student, make_user

# A fixed moment (a Monday morning in Shanghai) tests may pass as ``now``.
NOW = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
TODAY = dt.date(2026, 3, 2)


@dataclass
class PlansWorld:
    school: School
    school_class: SchoolClass
    users: dict[str, User]  # psych_teacher, other_psych, school_leader, class_teacher,
    # counsellor, admin, other_school_psych
    p: dict[str, Principal]  # the same keys, as principals
    orange: Student  # tier 2
    red: Student  # tier 3
    yellow: Student  # tier 1
    other_school: School
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def psych(self) -> Principal:
        return self.p["psych_teacher"]

    @property
    def leader(self) -> Principal:
        return self.p["school_leader"]

    @property
    def counsellor(self) -> Principal:
        return self.p["counsellor"]

    @property
    def class_teacher(self) -> Principal:
        return self.p["class_teacher"]


def build_plans_world(session: Session, settings: Any) -> PlansWorld:
    school = make_school(session)
    klass = make_class(session, school)
    other_school = make_school(session)
    users = {
        "psych_teacher": make_user(session, settings, Role.PSYCH_TEACHER, school=school),
        "other_psych": make_user(session, settings, Role.PSYCH_TEACHER, school=school),
        "school_leader": make_user(session, settings, Role.SCHOOL_LEADER, school=school),
        "class_teacher": make_user(
            session, settings, Role.CLASS_TEACHER, school=school, school_class=klass
        ),
        "counsellor": make_user(session, settings, Role.COUNSELLOR),
        "admin": make_user(session, settings, Role.ADMIN),
        "other_school_psych": make_user(session, settings, Role.PSYCH_TEACHER, school=other_school),
    }
    students = {
        tier: make_student(session, school, klass, tier=tier, district_involved=True)
        for tier in (1, 2, 3)
    }
    session.flush()
    principals = {key: build_principal(session, user) for key, user in users.items()}
    return PlansWorld(
        school=school, school_class=klass, users=users, p=principals, orange=students[2],
        red=students[3], yellow=students[1], other_school=other_school,
    )  # fmt: skip


@pytest.fixture
def plans_world(db_session: Session, env: Any) -> PlansWorld:
    return build_plans_world(db_session, env.settings)


def safety_crisis(session: Session, world: PlansWorld, student: Student, *, done: bool = True):  # type: ignore[no-untyped-def]
    """An open crisis for ``student``; with ``done`` its "safety_plan" step is recorded."""
    from wellbeing.crisis import services as crisis_services

    crisis = crisis_services.open_crisis(session, student, now=NOW)
    if crisis is None:
        crisis = crisis_services.crisis_for_student(session, student.id)
    assert crisis is not None
    if done:
        steps = crisis_services.steps_of(session, crisis)
        for step in ("acknowledge", "safety_plan"):
            if step not in steps:
                crisis_services.complete_step(session, world.psych, crisis, step, now=NOW)
    session.flush()
    return crisis


def complete_body(
    *,
    teacher_id: Any = None,
    safety_crisis_id: Any = None,
    due: dt.date = TODAY + dt.timedelta(days=5),
) -> dict[str, Any]:
    """A body ``save_version`` accepts for an orange student (a red one also needs
    ``safety_crisis_id``): one concern with its goal, one intervention, a guardian with a task,
    and, with ``teacher_id``, a staff adult (the class teacher) with a task."""
    adults: list[dict[str, Any]] = [
        {"id": "a-guardian", "name": "妈妈", "role": "guardian",
         "tasks": [{"id": "t-call", "title": "周五给班主任打电话", "due": due.isoformat()}]},
    ]  # fmt: skip
    if teacher_id is not None:
        adults.append(
            {"id": "a-teacher", "user_id": str(teacher_id), "name": "", "role": "class_teacher",
             "tasks": [{"id": "t-seat", "title": "座位调到前排", "due": due.isoformat()}]}
        )  # fmt: skip
    return {
        "concerns": [{"id": "c1", "text": "考试焦虑，睡眠差"}],
        "summary": "近一个月情绪低落。",
        "protective_factors": "和妈妈关系好",
        "student_view": "愿意每周谈一次",
        "student_agreed": True,
        "guardian_involvement": "妈妈每周反馈一次",
        "goals": [
            {
                "id": "g1",
                "text": "每晚睡够七小时",
                "measure": "睡眠日记",
                "target_date": "2026-04-30",
                "lifecycle": "active",
                "achievement": "in_progress",
                "concern_ids": ["c1"],
            },
        ],
        "interventions": [
            {
                "id": "i1",
                "kind": "individual_counselling",
                "description": "每周一次个别辅导",
                "frequency": "每周",
                "who": "心理老师",
            },
        ],
        "adults": adults,
        "safety_crisis_id": str(safety_crisis_id) if safety_crisis_id else None,
        "review_due": None,
    }


def plans_snapshot(session: Session) -> list[tuple[Any, ...]]:
    """Every plan with its tasks, ids and clock readings left out (the per-item and the bulk
    proposal paths are compared with it, in ``tests/core/test_bulk_subscribers.py`` too)."""
    from sqlalchemy import select

    from wellbeing.plans.models import Plan, PlanTask

    out = []
    for plan in session.scalars(select(Plan)):
        tasks = sorted(
            (t.kind, t.state, t.due_date, t.title, str(t.assignee_id), str(t.created_by))
            for t in session.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id))
        )
        out.append((str(plan.student_id), str(plan.school_id), plan.state, plan.proposed_tier,
                    plan.proposal_due, plan.latest_version, str(plan.created_by), tasks))  # fmt: skip
    return sorted(out)
