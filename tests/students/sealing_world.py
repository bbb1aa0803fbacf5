"""Shared set-up for the leaving / sealing / retention tests: a school with one user of each
role, students in the class teacher's class, and a record filled through the real services
(a red tier and what it sets off: alerts, a crisis, follow-ups; a signed note with an
addendum, a concern, a guardian contact, a break-glass grant)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, Table, cast, or_, select
from sqlalchemy.orm import Session

from wellbeing.audit.models import BreakGlass
from wellbeing.auth.models import User
from wellbeing.auth.sessions import build_principal
from wellbeing.concerns.services import create_concern
from wellbeing.core.authz import Principal, Role
from wellbeing.crisis.guardian_log import record_guardian_contact
from wellbeing.db import Base, utcnow
from wellbeing.notes.services import NoteInput, add_addendum, write_note
from wellbeing.orgs.models import School, SchoolClass
from wellbeing.risk.services import apply_tier
from wellbeing.students.models import Student
from wellbeing.students.retention import AUDIT_TABLES

from ..factories import make_school, make_student, make_user, staff_set


@dataclass
class World:
    school: School
    users: dict[str, User]
    students: list[Student]

    def principal(self, session: Session, role: str) -> Principal:
        return build_principal(session, self.users[role])


def build(session: Session, settings: Any, students: int = 2) -> World:
    school = make_school(session)
    users = staff_set(session, settings, school)
    users["other_psych"] = make_user(session, settings, Role.PSYCH_TEACHER, school=school)
    class_id = next(m.class_id for m in users["class_teacher"].memberships)
    klass = session.get(SchoolClass, class_id)
    made = []
    for _ in range(students):
        student = make_student(session, school, klass)
        student.district_involved = True  # in the counsellor's scope
        made.append(student)
    session.flush()
    return World(school, users, made)


def fill_record(
    session: Session, world: World, student: Student, *, red: bool = True, note: bool = True,
    concern: bool = True, contact: bool = True, grant: bool = True,
) -> None:  # fmt: skip
    """Write a record about ``student`` through the services (each part optional)."""
    psych = world.principal(session, "psych_teacher")
    now = utcnow()
    if red:
        apply_tier(session, psych, student, 3, source="manual", reason="谈话后评估为高风险")
    if note:
        data = NoteInput(session_date=now.date(), note_type="individual", duration_minutes=30,
                         content="谈话：学生说最近睡不好。")  # fmt: skip
        written = write_note(session, psych, student, data, sign=True)
        add_addendum(session, psych, written, "补充：已联系家长。")
    if concern:
        create_concern(session, world.principal(session, "class_teacher"), student,
                       category="mood", urgency="soon", text="上课时情绪低落")  # fmt: skip
    if contact:
        record_guardian_contact(
            session, psych, student, relation="mother", channel="phone",
            contacted_at=now - dt.timedelta(minutes=10), summary="告知家长情况",
        )  # fmt: skip
    if grant:
        session.add(
            BreakGlass(
                user_id=world.users["counsellor"].id, student_id=student.id, started_at=now,
                expires_at=now + dt.timedelta(minutes=60), reason="热线来电：学生情况紧急",
            )
        )  # fmt: skip
    session.flush()


# --------------------------------------------------------------------------- looking for traces


def _text_columns(table: Table) -> list[Any]:
    return [
        c for c in table.columns
        if type(c.type).__name__ in {"String", "Text", "JSON"} and not c.foreign_keys
    ]  # fmt: skip


def traces(session: Session, student_id: Any) -> dict[str, int]:
    """Rows of every table (but the audit trail's) that still name the student: a foreign key
    or id column equal to the id, or a text / JSON column containing it."""
    found: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in AUDIT_TABLES:
            continue
        conditions = [c == student_id for c in table.columns if type(c.type).__name__ == "Uuid"] + [
            cast(c, String).like(f"%{student_id}%") for c in _text_columns(table)
        ]
        if not conditions:
            continue
        count = len(
            session.execute(select(*table.primary_key.columns).where(or_(*conditions))).all()
        )
        if count:
            found[table.name] = count
    return found


def snapshot(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    """Every row of every table but the audit trail's, as tuples (to compare byte by byte)."""
    session.flush()
    rows: dict[str, set[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in AUDIT_TABLES or table.name == "apscheduler_jobs":
            continue
        rows[table.name] = {tuple(_plain(v) for v in r) for r in session.execute(select(table))}
    return rows


def _plain(value: Any) -> Any:
    if isinstance(value, list | dict):
        return repr(value)
    if isinstance(value, memoryview):
        return bytes(value)
    return value


def pk_index(table_name: str) -> int:
    table = Base.metadata.tables[table_name]
    pk = next(iter(table.primary_key.columns))
    return list(table.columns).index(pk)


__all__ = ["World", "build", "fill_record", "pk_index", "snapshot", "traces"]
