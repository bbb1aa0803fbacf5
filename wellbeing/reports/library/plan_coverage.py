"""Plan coverage and overdue reviews (issue 16 item 1), by school (district) or grade (one
school), as they are now.

*Coverage*: the students enrolled now whose current tier is orange or red, by their plan:

* a current signed-off plan: a version is in effect (the plan is active, or under review with
  the signed version still in effect), it was signed off (``signoff_required``: it took effect
  by a sign-off) or changed nothing material since the version last signed (``material``
  false), and its next review date has not passed (today, local, is not late);
* a signed-off plan whose review is overdue (the next review date is before today);
* a plan not signed off: proposed, being written, waiting for sign-off, or in effect without a
  sign-off (a version written while the student was below orange);
* no open plan.

The share covered is the first over them all.

*Reviews*: every plan in effect of an enrolled student (any tier), whether its next review date
has passed.

Two GROUP BY queries over the students (through the (status, school, grade, tier) index) and
their open plan (one per student) with the version in effect.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ...core.authz import Principal
from ...plans.models import OPEN_PLAN_STATES, Plan, PlanState, PlanVersion
from ...students.models import Student, StudentStatus
from ..catalog import ReportFilters, ReportPage, ReportSpec
from ..suppression import Path
from ..tables import ReportTable, Share
from . import grouping

CURRENT, REVIEW_OVERDUE, NOT_SIGNED, NO_PLAN = range(4)
UP_TO_DATE, OVERDUE = range(2)
ORANGE = 2
IN_EFFECT = (PlanState.ACTIVE, PlanState.REVIEW)


def _students(filters: ReportFilters, *where: Any) -> list[Any]:
    out = [Student.status == StudentStatus.ACTIVE, Student.school_id.in_(filters.school_ids)]
    if filters.grade is not None:
        out.append(Student.grade == filters.grade)
    return [*out, *where]


def _in_effect() -> Any:
    return and_(Plan.state.in_(IN_EFFECT), Plan.effective_version.is_not(None))


def _grouped(session: Session, stmt: Any, width: int) -> dict[Path, list[int]]:
    sub = stmt.subquery("plans")
    keys = [c for c in sub.c if c.name.startswith("k")]
    group = [*keys, sub.c.outcome]
    counts: dict[Path, list[int]] = {}
    for *key, outcome, count in session.execute(select(*group, func.count()).group_by(*group)):
        counts.setdefault(tuple(key), [0] * width)[int(outcome)] += int(count)
    return counts


def _keys(filters: ReportFilters) -> list[Any]:
    return [k.label(f"k{i}") for i, k in enumerate(grouping.keys(filters, Student.school_id))]


def coverage_counts(session: Session, filters: ReportFilters) -> dict[Path, list[int]]:
    today = grouping.local_today(filters)
    signed = or_(PlanVersion.signoff_required.is_(True), PlanVersion.material.is_(False))
    outcome = case(
        (Plan.id.is_(None), NO_PLAN),
        (and_(_in_effect(), signed, Plan.review_due >= today), CURRENT),
        (and_(_in_effect(), signed), REVIEW_OVERDUE),
        else_=NOT_SIGNED,
    )
    stmt = (
        select(*_keys(filters), outcome.label("outcome"))
        .select_from(Student)
        .outerjoin(Plan, and_(Plan.student_id == Student.id, Plan.state.in_(OPEN_PLAN_STATES)))
        .outerjoin(
            PlanVersion,
            and_(PlanVersion.plan_id == Plan.id, PlanVersion.number == Plan.effective_version),
        )
        .where(*_students(filters, Student.tier >= ORANGE))
    )
    return _grouped(session, stmt, 4)


def review_counts(session: Session, filters: ReportFilters) -> dict[Path, list[int]]:
    outcome = case((Plan.review_due < grouping.local_today(filters), OVERDUE), else_=UP_TO_DATE)
    stmt = (
        select(*_keys(filters), outcome.label("outcome"))
        .select_from(Plan)
        .join(Student, Student.id == Plan.student_id)
        .where(_in_effect(), *_students(filters))
    )
    return _grouped(session, stmt, 2)


def _table(
    session: Session, filters: ReportFilters, key: str, title: object, columns: list[object],
    counts: dict[Path, list[int]], total: object, share: Share,
) -> ReportTable:  # fmt: skip
    rows, labels = grouping.assemble(session, filters, counts, len(columns))
    levels = grouping.levels(filters)
    return ReportTable(
        key=key, title=str(title), level_headings=levels, columns=[str(c) for c in columns],
        rows=rows, labels=labels, show_depth=len(levels), total_heading=str(total),
        shares=[share], school_ids=set(filters.school_ids),
    )  # fmt: skip


def build(session: Session, principal: Principal, filters: ReportFilters) -> ReportPage:
    coverage = _table(
        session, filters, "plan_coverage.coverage", _l("Orange and red students by their plan"),
        [_l("Current signed-off plan"), _l("Signed-off plan, review overdue"),
         _l("Plan not signed off yet"), _l("No plan")],
        coverage_counts(session, filters), _l("Orange and red students"),
        Share(str(_l("Share with a current plan")), CURRENT),
    )  # fmt: skip
    reviews = _table(
        session, filters, "plan_coverage.reviews", _l("Reviews of the plans in effect"),
        [_l("Review not yet due"), _l("Review overdue")],
        review_counts(session, filters), _l("Plans in effect"),
        Share(str(_l("Share overdue")), OVERDUE),
    )  # fmt: skip
    return ReportPage(
        title=str(_l("Plan coverage")),
        tables=[coverage, reviews],
        notes=[
            str(_l("As of today: the students enrolled now whose current tier is orange or "
                   "red. A plan is current when a signed-off version is in effect and its next "
                   "review date has not passed.")),
            str(_l("A plan not signed off yet is proposed, being written, waiting for sign-off, "
                   "or in effect without a sign-off. Reviews count every plan in effect, "
                   "whatever the student's tier.")),
        ],
    )  # fmt: skip


SPECS = [
    ReportSpec(
        key="plan_coverage",
        title=_l("Plan coverage"),
        description=_l("The share of orange and red students with a current signed-off plan, "
                       "and the plans whose review is overdue, by school or grade."),
        filters=("school", "grade"),
        build=build,
    )
]  # fmt: skip
