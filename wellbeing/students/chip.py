"""Where a student sits, for the student chip (``templates/_macros/student.html``).

The chip shows a student's school and class next to the name for someone who may open the
record. Lists hold students of a few schools, so the first student of a school loads that
school's name and all its classes in one query each, kept for the rest of the request (no
query per row).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from flask import g
from sqlalchemy import select

from ..core.authz import Permission, Principal, can
from ..db import get_session
from ..orgs.labels import class_label
from ..orgs.models import School, SchoolClass

_CACHE = "_student_chip_schools"


def _school(school_id: uuid.UUID) -> tuple[str, dict[uuid.UUID, tuple[int, str]]]:
    cache: dict[uuid.UUID, tuple[str, dict[uuid.UUID, tuple[int, str]]]] = g.setdefault(_CACHE, {})
    if school_id not in cache:
        session = get_session()
        school = session.get(School, school_id)
        rows = session.execute(
            select(SchoolClass.id, SchoolClass.grade, SchoolClass.label).where(
                SchoolClass.school_id == school_id
            )
        )
        classes = {row.id: (row.grade, row.label) for row in rows}
        cache[school_id] = (school.name if school else "", classes)
    return cache[school_id]


def student_place(student: Any) -> dict[str, str]:
    """``{"school": 第一中学, "class": 高一(1)班}`` for a student (or any object with
    ``school_id``, ``class_id`` and ``grade``); the grade alone when there is no class."""
    school_id = getattr(student, "school_id", None)
    if school_id is None:
        return {"school": "", "class": ""}
    name, classes = _school(school_id)
    klass = classes.get(getattr(student, "class_id", None))  # type: ignore[arg-type]  # None misses
    grade = klass[0] if klass else getattr(student, "grade", None)
    return {"school": name, "class": class_label(grade, klass[1] if klass else None)}


def chip_fields(
    principal: Principal | None,
    students: Iterable[Any],
    *,
    school: bool = True,
    tier: bool = True,
    prefix: str = "",
) -> list[str]:
    """The audit ``fields`` of a page that names ``students`` with
    ``student_chip(s, school=..., tier=...)``: what the chip shows, i.e. the name, school,
    class and tier badge to a viewer who may open a record, the name alone to anyone else,
    nothing when no student is named. ``prefix`` is the page's own naming (``"student."``
    where the listed objects are alerts)."""
    listed = list(students)
    if not listed:
        return []
    full = principal is not None and any(can(principal, Permission.RECORD_READ, s) for s in listed)
    shown = ["name"]
    if full:
        shown += (["school"] if school else []) + ["class"] + (["tier"] if tier else [])
    return [prefix + name for name in shown]
