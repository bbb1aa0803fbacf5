"""Demo data for development: one district, three schools, ~600 students, a user for every role.

``wellbeing demo`` (``make run``) calls :func:`seed_demo` after migrating. Everything is made
through the same services as the app (schools and classes through ``orgs.services``, students
through the roster import, users through ``auth.admin``), so the demo exercises the real paths,
encrypted and audited. Seeding is idempotent: each step creates only what is missing, so running
``make run`` twice keeps the data and duplicates nothing.

Later modules extend the seed by appending a step to :data:`.demo_data.SEED_STEPS` (a function taking the
database and the settings, idempotent, committing its own units of work).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from dataclasses import dataclass
from pathlib import Path

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .auth.admin import create_user, grant_membership
from .auth.models import User
from .config import Settings
from .core.authz import MFA_REQUIRED_ROLES, Role
from .db import Database
from .demo_cases import register as register_cases
from .demo_data import SCHOOLS, SEED, SEED_STEPS, DemoSchool
from .demo_records import PARTNERS
from .orgs.labels import class_label
from .orgs.services import create_school, ensure_district, find_class, school_by_code
from .screening.clock import local_today
from .students.models import Student
from .students.roster import national_id_check_digit
from .students.services import import_roster

DEV_KEY_FILE = Path("instance") / "dev-master-key.json"
DEMO_PASSWORD = "wellbeing-demo-1"  # noqa: S105 (a published demo password, development only)
DISTRICT = ("demo-district", "示范区教育局")


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    where: str
    password: str = DEMO_PASSWORD


def demo_logins() -> list[DemoLogin]:
    """Every demo account (the same list whether or not it was created in this run)."""
    logins = []
    for school in SCHOOLS:
        logins += [
            DemoLogin(f"{school.prefix}.psych", Role.PSYCH_TEACHER, school.name),
            DemoLogin(
                f"{school.prefix}.class",
                Role.CLASS_TEACHER,
                f"{school.name} {class_label(school.grades[0], '1班', 'zh_CN')}",
            ),
            DemoLogin(f"{school.prefix}.leader", Role.SCHOOL_LEADER, school.name),
        ]
    logins += [
        DemoLogin("counsellor", Role.COUNSELLOR, DISTRICT[1]),
        *(DemoLogin(username, Role.PARTNER, name) for username, name, *_ in PARTNERS),
        DemoLogin("supervisor", Role.SUPERVISOR, DISTRICT[1]),
        DemoLogin("admin", Role.ADMIN, DISTRICT[1]),
    ]
    return logins


# --------------------------------------------------------------------------- names

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严武戴莫孔向汤"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "诸葛", "上官")
GIVEN_BOYS = "浩宇轩然子涵博文俊杰航晨阳铭泽睿思远豪嘉明伟强磊鑫鹏志诚天佑奕辰逸凡一鸣昊"
GIVEN_GIRLS = "欣怡梓萱雨涵诗琪若曦佳思彤可馨语桐婉清雅静悦梦瑶一诺紫萌芷晴安琪心怡雪"
GUARDIAN_GIVEN = "建国志强秀英丽华海涛红梅文军桂芳明华玉兰晓东春燕永刚淑珍国庆"


def chinese_name(rng: random.Random, sex: str) -> str:
    """A plausible name: common surname (rarely a compound one) + one or two given characters."""
    surname = rng.choice(COMPOUND_SURNAMES) if rng.random() < 0.02 else rng.choice(SURNAMES)
    pool = GIVEN_BOYS if sex == "M" else GIVEN_GIRLS
    length = 1 if rng.random() < 0.2 else 2
    return surname + "".join(rng.choice(pool) for _ in range(length))


def _national_id(rng: random.Random, birth: dt.date, sex: str) -> str:
    order = rng.randrange(0, 500) * 2 + (1 if sex == "M" else 0)  # odd for male, even for female
    first17 = f"110105{birth:%Y%m%d}{order:03d}"
    return first17 + national_id_check_digit(first17)


def roster_csv(school: DemoSchool, today: dt.date | None = None) -> str:
    """The school's demo roster as CSV text (Chinese headers, like a school's export)."""
    rng = random.Random(f"{SEED}-{school.code}")
    today = today or local_today()
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(
        ["学号", "姓名", "性别", "出生日期", "年级", "班级", "身份证号", "监护人", "监护人电话"]
    )
    for grade in school.grades:
        for klass in range(1, school.classes_per_grade + 1):
            for seat in range(1, rng.randint(31, 36) + 1):
                sex = rng.choice("MF")
                name = chinese_name(rng, sex)
                age = grade + 6
                birth = dt.date(today.year - age - 1, 9, 1) + dt.timedelta(days=rng.randrange(365))
                guardian = name[0] + "".join(rng.sample(GUARDIAN_GIVEN, 2))
                phone = f"1{rng.choice('3589')}{rng.randrange(10**9):09d}"
                writer.writerow([
                    f"{school.prefix[0].upper()}{grade:02d}{klass:02d}{seat:02d}",
                    name, "男" if sex == "M" else "女", birth.isoformat(), grade, f"{klass}班",
                    _national_id(rng, birth, sex) if rng.random() < 0.7 else "", guardian, phone,
                ])  # fmt: skip
    return out.getvalue()


# --------------------------------------------------------------------------- steps


def seed_schools(session: Session) -> None:
    ensure_district(session, *DISTRICT)
    for school in SCHOOLS:
        if school_by_code(session, school.code) is None:
            create_school(session, None, school.code, school.name)


def seed_students(session: Session, school: DemoSchool) -> int:
    """Import the school's roster through the roster import service, once."""
    row = school_by_code(session, school.code)
    assert row is not None  # noqa: S101 (seed_schools ran first)
    if session.scalar(select(func.count()).where(Student.school_id == row.id)):
        return 0
    data = io.BytesIO(roster_csv(school).encode("utf-8"))
    result = import_roster(session, None, row, data, f"{school.code}.csv")
    if not result.ok:
        raise RuntimeError(f"demo roster for {school.code} is invalid: {result.errors[:3]}")
    return result.created


def seed_users(session: Session, settings: Settings) -> None:
    schools = {s.name: (s, school_by_code(session, s.code)) for s in SCHOOLS}
    for login in demo_logins():
        if session.scalar(select(User.id).where(User.username == login.username)) is not None:
            continue
        role = Role(login.role)
        spec, school = next(
            (value for name, value in schools.items() if login.where.startswith(name)), (None, None)
        )
        school_class = None
        if role == Role.CLASS_TEACHER and spec is not None and school is not None:
            school_class = find_class(session, school.id, spec.grades[0], "1班")
        user = create_user(
            session, None, settings, username=login.username, password=login.password,
            display_name=_display_name(login), locale=settings.locale,
        )  # fmt: skip
        grant_membership(
            session, None, user, role, school=school if role in _SCHOOL_ROLES else None,
            school_class=school_class,
        )  # fmt: skip


_SCHOOL_ROLES = {Role.PSYCH_TEACHER, Role.CLASS_TEACHER, Role.SCHOOL_LEADER}
_ROLE_TITLES = {
    Role.PSYCH_TEACHER: "心理教师", Role.CLASS_TEACHER: "班主任", Role.SCHOOL_LEADER: "分管校长",
    Role.COUNSELLOR: "区心理辅导中心", Role.PARTNER: "合作医疗机构", Role.SUPERVISOR: "督导",
    Role.ADMIN: "系统管理员",
}  # fmt: skip


def _display_name(login: DemoLogin) -> str:
    rng = random.Random(f"{SEED}-{login.username}")
    return f"{rng.choice(SURNAMES)}老师（{_ROLE_TITLES[Role(login.role)]}）"


def seed_demo(db: Database, settings: Settings) -> list[DemoLogin]:
    """Create whatever of the demo district is missing; return the demo logins."""
    with db.session() as session:
        seed_schools(session)
    for school in SCHOOLS:
        with db.session() as session:
            seed_students(session, school)
    with db.session() as session:
        seed_users(session, settings)
    register_cases()
    for step in SEED_STEPS:
        step(db, settings)
    return demo_logins()


def print_logins(logins: list[DemoLogin] | None = None) -> None:
    logins = demo_logins() if logins is None else logins
    width = max(len(login.username) for login in logins)
    click.echo("")
    click.echo("Demo logins (development only):")
    click.echo(f"  {'username':<{width}}  {'role':<14} {'password':<18} where")
    for login in logins:
        title = _ROLE_TITLES[Role(login.role)]  # a label, as the pages show it, not the code
        pad = 14 - 2 * len(title)  # CJK characters are two columns wide
        click.echo(
            f"  {login.username:<{width}}  {title}{' ' * pad} {login.password:<18} {login.where}"
        )
    second = [login.username for login in logins if Role(login.role) in MFA_REQUIRED_ROLES]
    click.echo(f"  {', '.join(second)} set up a second factor (TOTP app) at first sign-in.")
