"""Demo case data on top of the demo district (``wellbeing.demo``): a screening campaign with
results, tier decisions, teachers' concerns (one of them urgent, which opens a red alert and a
crisis), a counsellor on duty and cadence follow-ups — all written through the services a
user's request would call, as the people who would do it.

Idempotent: a marker (any tier decision in the demo district) makes a second run do nothing.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from .auth.models import User
from .auth.services import build_principal
from .concerns.services import create_concern
from .config import Settings
from .core import audit
from .core.authz import Principal
from .db import Database, utcnow
from .demo_data import SCHOOLS, SEED, SEED_STEPS
from .demo_records import seed_records
from .orgs.models import School
from .orgs.services import school_by_code
from .reports.snapshots import seed_past_months
from .risk.models import TierDecision
from .screening.clock import local_today
from .screening.intake.importer import import_file
from .screening.services import create_campaign
from .students.models import Student

CONCERN_TEXTS = (
    ("mood", "soon", "最近两周上课常常走神，情绪低落，午饭吃得很少。"),
    ("bullying", "soon", "同学反映他在宿舍被几个同学起外号、排挤。"),
    ("family", "routine", "父母外出务工，近期由祖父母照顾，作业完成情况明显下降。"),
    ("self_harm_signs", "soon", "体育课换衣服时看到手臂上有几道划痕。"),
    ("self_harm_signs", "immediate_danger", "课间对同桌说“活着没意思”，并在作业本上写了告别的话。"),
)


@contextmanager
def _acting(session: Session, username: str) -> Iterator[tuple[User, Principal]]:
    """The demo user and their principal; audit entries are attributed to them meanwhile."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise RuntimeError(f"demo user {username} is missing: seed the users first")
    role = user.memberships[0].role if user.memberships else None
    token = audit.set_actor(audit.Actor(user_id=user.id, username=user.username, role=role))
    try:
        yield user, build_principal(session, user)
    finally:
        audit._cli_actor.reset(token)


def _school(session: Session, school_code: str) -> School:
    school = school_by_code(session, school_code)
    if school is None:
        raise RuntimeError(f"demo school {school_code} is missing: seed the district first")
    return school


def _students(session: Session, school_code: str, grade: int | None = None) -> list[Student]:
    school = _school(session, school_code)
    stmt = select(Student).where(Student.school_id == school.id).order_by(Student.id)
    if grade is not None:
        stmt = stmt.where(Student.grade == grade)
    return list(session.scalars(stmt))


def _already_seeded(session: Session) -> bool:
    return session.scalar(select(TierDecision.id).limit(1)) is not None


def seed_cases(db: Database, settings: Settings) -> None:
    with db.session() as session:
        if _already_seeded(session):
            return
        counsellor = session.scalar(select(User).where(User.username == "counsellor"))
        if counsellor is not None:
            counsellor.on_duty = True  # the district counsellor on duty receives the top rung
    _seed_screening(db, settings)
    _seed_concerns(db)


def _seed_screening(db: Database, settings: Settings) -> None:
    """A PHQ-9 + GAD-7 campaign at the junior high, imported from a file as a psych teacher
    would upload it (scored, encrypted, tiered; critical items raise alerts)."""
    school = SCHOOLS[1]
    rng = random.Random(SEED)
    today = local_today()
    with db.session() as session, _acting(session, f"{school.prefix}.psych") as (user, actor):
        campaign = create_campaign(
            session, actor, name=f"{today.year}年秋季心理测评筛查", instruments=["phq9", "gad7"],
            schools=[_school(session, school.code)], grades=list(school.grades),
            opens_on=today - dt.timedelta(days=14), closes_on=today + dt.timedelta(days=14),
            consent_text="本次测评仅用于了解学生心理健康状况，结果严格保密。", created_by=user.id,
        )  # fmt: skip
        header = [f"phq9_{i}" for i in range(1, 10)] + [f"gad7_{i}" for i in range(1, 8)]
        lines = ["student_number," + ",".join(header)]
        students = _students(session, school.code)
        for student in students[: int(len(students) * 0.9)]:  # a tenth has not taken it yet
            level = rng.choices((0, 1, 2, 3), weights=(75, 16, 7, 2))[0]
            answers = [min(3, max(0, round(rng.gauss(level * 0.8, 0.6)))) for _ in header]
            if level < 3:
                answers[8] = 0  # PHQ-9 item 9 (critical) only for the few at real risk
            lines.append(",".join([student.student_number, *map(str, answers)]))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "screening.csv"
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            report = import_file(session, actor, campaign, path, entered_by=user.id)
        if not report.ok:
            raise RuntimeError(f"demo screening file is invalid: {report.errors[:3]}")


def _seed_concerns(db: Database) -> None:
    """Class teachers report what they saw; the last one is immediate danger (red, alert, crisis)."""
    for school, texts in ((SCHOOLS[0], CONCERN_TEXTS[:3]), (SCHOOLS[2], CONCERN_TEXTS[2:])):
        with db.session() as session, _acting(session, f"{school.prefix}.class") as (user, actor):
            teacher_class = next(m.class_id for m in user.memberships if m.class_id)
            students = [s for s in _students(session, school.code) if s.class_id == teacher_class]
            for student, (category, urgency, text) in zip(students[3:], texts, strict=False):
                create_concern(
                    session, actor, student, category=category, urgency=urgency, text=text
                )


def seed_tier_history(db: Database, settings: Settings) -> None:
    """This month's tier snapshot and six made-up earlier months (the tiers report's chart)."""
    with db.session() as session:
        seed_past_months(session, utcnow(), settings.tz, months=6)


def register() -> None:
    # records build on the cases (notes, plans, referrals); the tier history on both
    for step in (seed_cases, seed_records, seed_tier_history):
        if step not in SEED_STEPS:
            SEED_STEPS.append(step)
