"""Factories for test data. They go through the real services where one exists, so the data
is shaped as the app shapes it (encrypted, audited)."""

from __future__ import annotations

import datetime as dt
import itertools
import random

from sqlalchemy.orm import Session

from wellbeing.auth.admin import create_user, grant_membership
from wellbeing.auth.models import User
from wellbeing.config import Settings
from wellbeing.core.authz import Role
from wellbeing.orgs.models import School, SchoolClass
from wellbeing.orgs.services import create_class, create_school, ensure_district
from wellbeing.students.models import Student

_counter = itertools.count(1)
PASSWORD = "Correct-horse-9"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英"


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def chinese_name(rng: random.Random | None = None) -> str:
    rng = rng or random.Random()
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def make_school(session: Session, code: str | None = None, name: str | None = None) -> School:
    ensure_district(session)
    code = code or unique("sch")
    return create_school(session, None, code, name or f"学校{code}")


def make_class(
    session: Session, school: School, grade: int = 7, label: str | None = None
) -> SchoolClass:
    return create_class(session, None, school, grade, label or unique("班"))


def make_user(
    session: Session,
    settings: Settings,
    role: Role | str,
    *,
    school: School | None = None,
    school_class: SchoolClass | None = None,
    username: str | None = None,
    password: str = PASSWORD,
) -> User:
    role = Role(role)
    ensure_district(session)
    user = create_user(session, None, settings, username=username or unique(str(role).replace("_", "")),
                       password=password, display_name=f"{role} user")  # fmt: skip
    if role == Role.CLASS_TEACHER and school_class is None and school is not None:
        school_class = make_class(session, school)
    grant_membership(session, None, user, role, school=school, school_class=school_class)
    return user


def make_student(
    session: Session,
    school: School,
    school_class: SchoolClass | None = None,
    *,
    name: str | None = None,
    student_number: str | None = None,
    tier: int = 0,
    **extra: object,
) -> Student:
    school_class = school_class or make_class(session, school)
    student = Student(
        school_id=school.id,
        class_id=school_class.id,
        grade=school_class.grade,
        student_number=student_number or unique("S"),
        name=name or chinese_name(),
        sex="F",
        birth_date=dt.date(2012, 5, 1),
        tier=tier,
        **extra,
    )
    session.add(student)
    session.flush()
    return student


def staff_set(session: Session, settings: Settings, school: School) -> dict[str, User]:
    """One user of every role; school roles in ``school``."""
    klass = make_class(session, school)
    return {
        "psych_teacher": make_user(session, settings, Role.PSYCH_TEACHER, school=school),
        "class_teacher": make_user(
            session, settings, Role.CLASS_TEACHER, school=school, school_class=klass
        ),
        "school_leader": make_user(session, settings, Role.SCHOOL_LEADER, school=school),
        "counsellor": make_user(session, settings, Role.COUNSELLOR),
        "partner": make_user(session, settings, Role.PARTNER),
        "supervisor": make_user(session, settings, Role.SUPERVISOR),
        "admin": make_user(session, settings, Role.ADMIN),
    }
