"""The world of the duty-of-care simulation (bench/duty_of_care.py): the district's staff as
random people (how likely and how fast they respond, their hours, the counsellors' duty rota),
when alerts arise and when the SMTP server is down."""

from __future__ import annotations

import datetime as dt
import math
import random
import uuid
from dataclasses import dataclass

from sqlalchemy import select

from wellbeing.auth.models import Membership, User
from wellbeing.config import Settings
from wellbeing.core.authz import Role
from wellbeing.db import Database
from wellbeing.orgs.models import School

KIND_WEIGHTS = (("red_tier", 0.6), ("critical_item", 0.25), ("urgent_concern", 0.15))
ALERTS_PER_STUDENT_DAY = 1e-4  # ≈ 2 red alerts a school day for 20,000 students
MINUTE = dt.timedelta(minutes=1)
COUNSELLORS = 4
START = dt.datetime(2025, 9, 1, 0, 0, tzinfo=dt.UTC)  # 08:00 in Asia/Shanghai, a Monday
LOCAL = dt.timedelta(hours=8)  # Asia/Shanghai


# --------------------------------------------------------------------------- the people


@dataclass
class Person:
    user_id: uuid.UUID
    role: str
    p_respond: float  # chance of acting on one notification (0: never responds)
    inbox_mean: float  # minutes until they look at the in-app inbox, on average
    email_mean: float  # minutes until they read a delivered email, on average
    duty_slot: int | None = None  # counsellors: their turn in the weekly duty rota

    def available_from(self, t: dt.datetime, counsellors: int) -> dt.datetime:
        """The first moment from ``t`` when this person reads messages: school staff 07–22 h,
        district counsellors 08–20 h, the counsellor on duty at any hour."""
        if self.duty_slot is not None and (t - START).days // 7 % counsellors == self.duty_slot:
            return t
        first, last = (8, 20) if self.role == Role.COUNSELLOR.value else (7, 22)
        local = t + LOCAL
        if first <= local.hour < last:
            return t
        day = local.date() if local.hour < first else local.date() + dt.timedelta(days=1)
        return dt.datetime(day.year, day.month, day.day, first, tzinfo=dt.UTC) - LOCAL


@dataclass
class Notice:
    alert_id: uuid.UUID
    person: Person
    notified_at: dt.datetime
    outbox_id: uuid.UUID | None
    responds: bool
    inbox_at: dt.datetime  # when they would see it in the app
    email_delay: dt.timedelta
    email_at: dt.datetime | None = None  # when they would read the email (once delivered)

    def act_at(self) -> dt.datetime | None:
        if not self.responds:
            return None
        return self.inbox_at if self.email_at is None else min(self.inbox_at, self.email_at)


PROFILES = {
    # role: (share who never respond, p range, inbox mean range, email mean range) in minutes
    Role.PSYCH_TEACHER.value: (0.12, (0.5, 0.95), (20, 240), (5, 60)),
    Role.SCHOOL_LEADER.value: (0.10, (0.5, 0.95), (30, 300), (5, 60)),
    Role.COUNSELLOR.value: (0.10, (0.7, 0.98), (15, 120), (3, 30)),
}


def _person(rng: random.Random, user_id: uuid.UUID, role: str) -> Person:
    never, p, inbox, email = PROFILES[role]
    p_respond = 0.0 if rng.random() < never else rng.uniform(*p)
    return Person(user_id, role, p_respond, rng.uniform(*inbox), rng.uniform(*email))


def build_staff(
    db: Database, settings: Settings, rng: random.Random, *, schools: int, students: int
) -> dict[uuid.UUID, Person]:
    """Schools and students (bench.synthetic), then 1–2 psychology teachers and a leader per
    school, four district counsellors and two supervisors."""
    from wellbeing.auth.admin import create_user, grant_membership

    from .synthetic import generate_district

    people: dict[uuid.UUID, Person] = {}
    with db.session() as session:
        generate_district(
            session, students=students, schools=schools, seed=rng.randrange(1 << 30), prefix="D"
        )
        n = 0

        def user(role: Role, school: School | None) -> None:
            nonlocal n
            n += 1
            account = create_user(
                session, None, settings, username=f"{role.value.replace('_', '')}{n}", password="Duty-of-care-9",  # noqa: S106 (synthetic staff)
                display_name=f"{role.value} {n}", email=f"{role.value}{n}@district.example",
                locale=rng.choice(("zh_CN", "en")),
            )  # fmt: skip
            grant_membership(session, None, account, role, school=school)
            if role != Role.SUPERVISOR:
                people[account.id] = _person(rng, account.id, role.value)

        for school in session.scalars(select(School).order_by(School.code)):
            for _ in range(rng.choice((1, 1, 2))):
                user(Role.PSYCH_TEACHER, school)
            user(Role.SCHOOL_LEADER, school)
        for _ in range(COUNSELLORS):
            user(Role.COUNSELLOR, None)
        for _ in range(2):
            user(Role.SUPERVISOR, None)
        rota = session.scalars(
            select(User.id).join(Membership, Membership.user_id == User.id)
            .where(Membership.role == Role.COUNSELLOR.value).order_by(User.username)
        ).all()  # fmt: skip
        for slot, user_id in enumerate(rota):
            people[user_id].duty_slot = slot
    return people


def rotate_duty(db: Database, now: dt.datetime) -> None:
    """One counsellor on duty per week, in turn."""
    with db.session() as session:
        counsellors = list(
            session.scalars(
                select(User).join(Membership, Membership.user_id == User.id)
                .where(Membership.role == Role.COUNSELLOR.value).order_by(User.username)
            )
        )  # fmt: skip
        week = (now - START).days // 7
        for n, user in enumerate(counsellors):
            user.on_duty = n == week % len(counsellors)


# --------------------------------------------------------------------------- the world's events


def alert_times(
    rng: random.Random, days: int, students: int, rate: float = ALERTS_PER_STUDENT_DAY
) -> list[tuple[dt.datetime, str]]:
    """When alerts arise: mostly school hours on weekdays, some at any time (hotline, evenings)."""
    out = []
    per_day = students * rate
    kinds, weights = zip(*KIND_WEIGHTS, strict=True)
    for day in range(days):
        midnight_cn = START + dt.timedelta(days=day) - dt.timedelta(hours=8)
        weekday = (START + dt.timedelta(days=day)).weekday() < 5
        count = _poisson(rng, per_day * (1.0 if weekday else 0.25))
        for _ in range(count):
            if weekday and rng.random() < 0.85:
                offset = dt.timedelta(hours=rng.uniform(8, 17))
            else:
                offset = dt.timedelta(hours=rng.uniform(0, 24))
            out.append((midnight_cn + offset, rng.choices(kinds, weights)[0]))
    return sorted(out)


def _poisson(rng: random.Random, lam: float) -> int:
    threshold, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= threshold:
            return k
        k += 1


def outage_windows(rng: random.Random, days: int) -> list[tuple[dt.datetime, dt.datetime]]:
    """SMTP outages: about one every two weeks, from half an hour to a day and a half."""
    windows = []
    for _ in range(max(1, days // 14)):
        start = START + dt.timedelta(minutes=rng.uniform(0, days * 24 * 60))
        windows.append((start, start + dt.timedelta(minutes=rng.choice((30, 90, 240, 600, 2160)))))
    return sorted(windows)
