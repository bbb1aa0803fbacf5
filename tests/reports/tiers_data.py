"""A small fixed data set for the tiers report and its monthly snapshots.

========  =====  ==================================================
school    grade  students by tier (0 green, 1 yellow, 2 orange, 3 red)
========  =====  ==================================================
A (甲校)  7      0, 0, 0, 1, 2  (and a red student who left: not counted)
A         8      0, 0, 3
B (乙校)  7      0, 0, 1
========  =====  ==================================================

So now: A grade 7 = [3, 1, 1, 0], A grade 8 = [2, 0, 0, 1], A = [5, 1, 1, 1], B = [2, 1, 0, 0].
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from wellbeing.config import Settings
from wellbeing.core.authz import Role
from wellbeing.reports.catalog import ReportFilters

from ..factories import make_class, make_school, make_student, make_user


@dataclass
class TiersWorld:
    school_a: Any
    school_b: Any
    classes: dict[str, Any]
    red_in_a8: Any  # the student who moves to school B in the snapshot tests
    yellow_in_a7: Any
    users: dict[str, Any]


def build(session: Session, settings: Settings) -> TiersWorld:
    a = make_school(session, name="甲校")
    b = make_school(session, name="乙校")
    classes = {
        "a7": make_class(session, a, 7, "1班"), "a8": make_class(session, a, 8, "1班"),
        "b7": make_class(session, b, 7, "1班"), "b8": make_class(session, b, 8, "1班"),
    }  # fmt: skip
    made = {}
    for key, tiers in (("a7", [0, 0, 0, 1, 2]), ("a8", [0, 0, 3]), ("b7", [0, 0, 1])):
        school = a if key.startswith("a") else b
        made[key] = [make_student(session, school, classes[key], tier=t) for t in tiers]
    gone = make_student(session, a, classes["a7"], tier=3)
    gone.status = "left"
    session.flush()
    users = {
        "school_leader": make_user(session, settings, Role.SCHOOL_LEADER, school=a),
        "psych_teacher": make_user(session, settings, Role.PSYCH_TEACHER, school=a),
        "counsellor": make_user(session, settings, Role.COUNSELLOR),
    }
    return TiersWorld(a, b, classes, made["a8"][2], made["a7"][3], users)


def filters(
    settings: Settings, schools: list[Any], *, start: dt.date, end: dt.date,
    district: bool = False, grade: int | None = None, now: dt.datetime | None = None,
) -> ReportFilters:  # fmt: skip
    return ReportFilters(
        tuple(s.id for s in schools), district, grade, start, end, None, settings.tz,
        now or dt.datetime.now(dt.UTC),
    )  # fmt: skip
