"""A synthetic district: schools, classes and students written in bulk (encrypted, indexed as the
app writes them), and plausible PHQ-9/GAD-7 answers.

``generate_district(session, students=300_000, schools=200)`` inserts with executemany, in
chunks, so it needs little memory; the students' numbers are ``S<school>-<n>``. Answers come
from a latent severity per student (Beta-distributed, most students low), each item a
Binomial(3, severity), item 9 of PHQ-9 much rarer than the others, so totals, bands and
critical items fall roughly as in school screenings (≈ 10–15 % PHQ-9 ≥ 10, a few % item 9 ≥ 1).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from wellbeing.config import Settings
from wellbeing.core import crypto
from wellbeing.core.crypto import Purpose
from wellbeing.db import utcnow
from wellbeing.orgs.models import School, SchoolClass
from wellbeing.orgs.services import ensure_district
from wellbeing.students.models import Student

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
SPANS = ((4, 6), (7, 9), (10, 12))
CLASS_SIZE = 45
CHUNK = 10_000


@dataclass(frozen=True)
class SyntheticStudent:
    school_code: str
    student_number: str
    grade: int


def generate_district(
    session: Session,
    *,
    students: int = 300_000,
    schools: int = 200,
    seed: int = 1,
    prefix: str = "B",
) -> list[str]:
    """Insert ``schools`` schools and ``students`` students; returns the school codes."""
    rng = random.Random(seed)
    keyring = crypto.current_keyring()
    district = ensure_district(session)
    now = utcnow()
    per_school = [
        students // schools + (1 if n < students % schools else 0) for n in range(schools)
    ]
    codes = []
    number_field, name_field = Student.student_number, Student.name
    rows: list[dict[str, object]] = []
    for n in range(schools):
        code = f"{prefix}{n:04d}"
        codes.append(code)
        school = School(district_id=district.id, code=code, name=f"合成学校{n}", active=True)
        session.add(school)
        session.flush()
        low, high = SPANS[n % len(SPANS)]
        count = per_school[n]
        grades = list(range(low, high + 1))
        classes: dict[tuple[int, int], uuid.UUID] = {}
        for i in range(count):
            grade = grades[i % len(grades)]
            slot = (grade, (i // len(grades)) // CLASS_SIZE)
            if slot not in classes:
                klass = SchoolClass(
                    school_id=school.id, grade=grade, label=f"{grade}-{slot[1] + 1}"
                )
                session.add(klass)
                session.flush()
                classes[slot] = klass.id
            sid = uuid.uuid4()
            number = f"S{n:04d}-{i:05d}"
            name = rng.choice(SURNAMES) + "".join(
                rng.choice(GIVEN) for _ in range(rng.choice((1, 2)))
            )
            rows.append({
                "id": sid, "school_id": school.id, "class_id": classes[slot], "grade": grade,
                "status": "active", "tier": 0, "tier_provisional": False, "district_involved": False,
                "created_at": now, "updated_at": now,
                "student_number_ct": keyring.encrypt(number.encode(), Purpose.IDENTITY, number_field.context(sid)),
                "student_number_bidx": number_field.blind_index(school.id, number),
                "name_ct": keyring.encrypt(name.encode(), Purpose.IDENTITY, name_field.context(sid)),
                "name_bidx": name_field.blind_index(school.id, name),
            })  # fmt: skip
            if len(rows) >= CHUNK:
                session.execute(insert(Student.__table__), rows)
                rows = []
    if rows:
        session.execute(insert(Student.__table__), rows)
    return codes


def add_staff(session: Session, settings: Settings, *, counsellors: int = 4) -> int:
    """A psychology teacher and a school leader per school, ``counsellors`` district
    counsellors (the first on duty), with e-mail addresses: who alerts, digests and follow-ups
    reach. Returns the number of accounts."""
    from wellbeing.auth.admin import create_user, grant_membership
    from wellbeing.core.authz import Role

    count = 0

    def user(role: Role, school: School | None) -> Any:
        nonlocal count
        count += 1
        name = f"{role.value.replace('_', '')}{count}"
        account = create_user(
            session, None, settings, username=name, password="Synthetic-staff-9",  # noqa: S106 (synthetic staff)
            email=f"{name}@district.example", locale=("zh_CN", "en")[count % 2],
        )  # fmt: skip
        grant_membership(session, None, account, role, school=school)
        return account

    for school in session.scalars(select(School).order_by(School.code)).all():
        user(Role.PSYCH_TEACHER, school)
        user(Role.SCHOOL_LEADER, school)
    for n in range(counsellors):
        user(Role.COUNSELLOR, None).on_duty = n == 0
    session.flush()
    return count


def iter_students(codes: list[str], students: int) -> Iterator[SyntheticStudent]:
    """The students ``generate_district`` made, in the same order (numbers and grades)."""
    schools = len(codes)
    for n, code in enumerate(codes):
        low, high = SPANS[n % len(SPANS)]
        grades = list(range(low, high + 1))
        for i in range(students // schools + (1 if n < students % schools else 0)):
            yield SyntheticStudent(code, f"S{n:04d}-{i:05d}", grades[i % len(grades)])


def answers(rng: random.Random) -> tuple[list[int], list[int]]:
    """PHQ-9 (10 items, item 10 the unscored difficulty) and GAD-7 answers of one student."""
    severity = rng.betavariate(1.3, 6.0)
    anxiety = min(1.0, max(0.0, severity + rng.gauss(0, 0.06)))
    r = rng.random

    def item(p: float) -> int:
        return (r() < p) + (r() < p) + (r() < p)

    phq = [item(severity) for _ in range(8)]
    phq.append(item(severity * 0.12))
    phq.append(item(severity * 0.8))
    gad = [item(anxiety) for _ in range(7)]
    return phq, gad


def today() -> dt.date:
    return utcnow().date()
