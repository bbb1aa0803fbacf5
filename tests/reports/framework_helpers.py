"""A test-only report for the framework's tests (the library's reports are tested on their own):
students by tier, one row per school in the district view, per class in a school's view, and
a named list (students at red) for the school's psychology teacher only.

Registered with :func:`register` (monkeypatching ``catalog.specs``), never in the library.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wellbeing.core.authz import Principal, Role
from wellbeing.orgs.labels import class_label, grade_label
from wellbeing.orgs.models import School, SchoolClass
from wellbeing.reports import catalog
from wellbeing.reports.catalog import NamedList, ReportFilters, ReportPage, ReportSpec
from wellbeing.reports.tables import ReportTable
from wellbeing.students.models import Student
from wellbeing.ui import TIER_SHORT

KEY = "framework-demo"
TABLE = "demo.by_tier"


def build(session: Session, principal: Principal, filters: ReportFilters) -> ReportPage:
    ids = list(filters.school_ids)
    stmt = (
        select(Student.school_id, Student.grade, Student.class_id, Student.tier, func.count())
        .where(Student.school_id.in_(ids))
        .group_by(Student.school_id, Student.grade, Student.class_id, Student.tier)
    )
    if filters.grade is not None:
        stmt = stmt.where(Student.grade == filters.grade)
    counts: dict[tuple[Any, ...], list[int]] = {}
    for school_id, grade, class_id, tier, n in session.execute(stmt):
        counts.setdefault((school_id, grade, class_id), [0, 0, 0, 0])[tier] += n
    schools = {s.id: s.name for s in session.scalars(select(School).where(School.id.in_(ids)))}
    classes = {
        c.id: class_label(c.grade, c.label)
        for c in session.scalars(select(SchoolClass).where(SchoolClass.school_id.in_(ids)))
    }
    rows = sorted(
        counts.items(), key=lambda item: (schools[item[0][0]], item[0][1], str(item[0][2]))
    )
    labels: dict[tuple[Any, ...], str] = {}
    for (school_id, grade, class_id), _n in rows:
        labels[(school_id,)] = schools[school_id]
        labels[(school_id, grade)] = grade_label(grade)
        labels[(school_id, grade, class_id)] = classes.get(class_id, "")
    table = ReportTable(
        key=TABLE, title=str(_l("Tier")),
        level_headings=[str(_l("School")), str(_l("Grade")), str(_l("Class"))],
        columns=[str(TIER_SHORT[t]) for t in range(4)], rows=rows, labels=labels,
        show_depth=1 if filters.district else 3, school_ids=set(ids),
    )  # fmt: skip
    named = None
    own = principal.school_ids(Role.PSYCH_TEACHER)
    if not filters.district and ids and set(ids) <= own:
        red = sorted(
            session.scalars(select(Student).where(Student.school_id.in_(ids), Student.tier == 3)),
            key=lambda s: str(s.id),
        )
        named = NamedList(
            str(_l("Students")), [str(_l("Student"))], [[s.name] for s in red],
            student_ids=[s.id for s in red],
        )  # fmt: skip
    return ReportPage(str(_l("Students")), [table], [], named)


DEMO = ReportSpec(
    key=KEY, title=_l("Students"), description=_l("Tier"),
    filters=("school", "grade", "period"), build=build,
)  # fmt: skip


def register(monkeypatch: Any) -> None:
    """Add the demo report to the catalog for this test."""
    original = catalog.specs
    monkeypatch.setattr(catalog, "specs", lambda: {**original(), KEY: DEMO})


def school_ids(*schools: Any) -> list[uuid.UUID]:
    return [s.id for s in schools]
