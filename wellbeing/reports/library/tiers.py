"""Students by tier (issue 16 item 1): now, per school (district view) or per grade (one
school), and month by month from the monthly snapshots (``reports.snapshots``), so that the
history does not change when students move, leave or change tier later.

Now: one GROUP BY (school, grade, tier) of the enrolled students on the covering index
``ix_student_status_school_grade_tier``. Over time: one GROUP BY (month, tier) of
``tier_snapshot`` for the months of the chosen period, summed over the schools shown (and the
grade chosen); a month without a snapshot has no row.
"""

from __future__ import annotations

import uuid
from collections.abc import Hashable

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Integer, func, select
from sqlalchemy.orm import Session

from ...core.authz import Permission, Principal
from ...orgs.labels import grade_label
from ...orgs.models import School
from ...students.collation import pinyin_key
from ...students.models import Student, StudentStatus
from ...ui import TIER_SHORT
from ..catalog import ReportFilters, ReportPage, ReportSpec
from ..snapshots import history, months_between
from ..suppression import Path
from ..tables import ReportTable, Share

KEY = "tiers"
TIERS = (0, 1, 2, 3)


TIER_CSS = [f"tier-{t}" for t in range(4)]  # reports.css: each tier in its colour


def current_counts(
    session: Session, school_ids: list[uuid.UUID], grade: int | None, *, by_grade: bool
) -> dict[Path, list[int]]:
    """``{(school_id[, grade]): [green, yellow, orange, red]}`` of enrolled students now."""
    if not school_ids:
        return {}
    stmt = (
        select(Student.school_id, Student.grade, Student.tier, func.count().cast(Integer))
        .where(Student.status == StudentStatus.ACTIVE, Student.school_id.in_(school_ids))
        .group_by(Student.school_id, Student.grade, Student.tier)
    )
    if grade is not None:
        stmt = stmt.where(Student.grade == grade)
    out: dict[Path, list[int]] = {}
    for school_id, g, tier, n in session.execute(stmt):
        path: Path = (school_id, int(g)) if by_grade else (school_id,)
        out.setdefault(path, [0, 0, 0, 0])[min(max(int(tier), 0), 3)] += int(n)
    return out


def _columns() -> list[str]:
    return [str(TIER_SHORT[t]) for t in TIERS]


def current_table(session: Session, filters: ReportFilters) -> ReportTable:
    school_ids = list(filters.school_ids)
    by_grade = not filters.district
    found = current_counts(session, school_ids, filters.grade, by_grade=by_grade)
    names: dict[Hashable, str] = {
        s.id: s.name for s in session.scalars(select(School).where(School.id.in_(school_ids)))
    }
    rows = sorted(
        found.items(),
        key=lambda item: (pinyin_key(names.get(item[0][0], "")), str(item[0][0]), item[0][1:]),
    )
    labels: dict[Path, str] = {}
    for path, _counts in rows:
        labels[path[:1]] = names.get(path[0], "")
        if len(path) > 1:
            labels[path] = grade_label(int(str(path[1])))
    headings = [_("School"), _("Grade")]
    return ReportTable(
        key="tiers.by_grade" if by_grade else "tiers.by_school",
        title=_("Students by tier now"),
        level_headings=headings if by_grade else headings[:1],
        columns=_columns(), rows=rows, labels=labels, show_depth=2 if by_grade else 1,
        total_heading=_("Enrolled students"),
        shares=[Share(_("Orange share"), 2), Share(_("Red share"), 3)],
        chart="bars", school_ids=set(school_ids), column_css=TIER_CSS,
    )  # fmt: skip


def history_table(session: Session, filters: ReportFilters) -> ReportTable:
    months = months_between(filters.start, filters.end)
    found = history(session, filters.school_ids, months, filters.grade)
    rows: list[tuple[Path, list[int]]] = [
        ((month,), [found[month].get(t, 0) for t in TIERS]) for month in months if month in found
    ]
    return ReportTable(
        key="tiers.by_month",
        title=_("Students by tier, month by month"),
        level_headings=[_("Month")],
        columns=_columns(), rows=rows, labels={path: str(path[0]) for path, _c in rows},
        show_depth=1, total_heading=_("Enrolled students"), chart="lines",
        school_ids=set(filters.school_ids), column_css=TIER_CSS,
        show_total=False,  # adding the months up counts the same children twelve times
    )  # fmt: skip


def build(session: Session, principal: Principal, filters: ReportFilters) -> ReportPage:
    notes = [
        _(
            "Now: the enrolled students at each tier today. Month by month: the counts kept at "
            "the end of each month, as they were then (students who moved later still count "
            "where they were)."
        )
    ]
    return ReportPage(
        _("Students by tier"), [current_table(session, filters), history_table(session, filters)],
        notes,
    )  # fmt: skip


SPECS = [
    ReportSpec(
        key=KEY,
        title=_l("Students by tier"),
        description=_l(
            "Students at each tier (green, yellow, orange, red) by school and grade, now and "
            "month by month."
        ),
        filters=("school", "grade", "period"),
        build=build,
        permission=Permission.STATS_SCHOOL,
    )
]
