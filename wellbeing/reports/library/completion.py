"""Follow-up and plan-task completion (issue 16 item 1), by school (district) or grade (one
school).

*Follow-ups* due in the period (``due_at`` in the local dates): done on time (completed by the
due time), done late, overdue (not done and past the due time: marked overdue by the scan, or
still open when the scan has not run yet), not yet due. Cancelled follow-ups are not counted.

*Plan tasks* due in the period (``due_date``, a local date): done on time (done on or before
the due date, in the district's time zone), done late, overdue (open after the due date), not
yet due (open, due today or later). Cancelled tasks are not counted.

Each table is one GROUP BY over the rows due in the period.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session

from ...core.authz import Principal
from ...followups.models import FollowUp, FollowUpState
from ...plans.models import PlanTask, TaskState
from ..catalog import ReportFilters, ReportPage, ReportSpec
from ..suppression import Path
from ..tables import ReportTable, Share
from . import grouping

ON_TIME, LATE, OVERDUE, NOT_DUE = range(4)


def _grouped(session: Session, stmt: Any) -> dict[Path, list[int]]:
    """``stmt`` selects the path keys (k0, k1) and the column (``outcome``) of each row due:
    the counts per path and column."""
    sub = stmt.subquery("due")
    keys = [c for c in sub.c if c.name.startswith("k")]
    counts: dict[Path, list[int]] = {}
    group = [*keys, sub.c.outcome]
    for *key, outcome, count in session.execute(select(*group, func.count()).group_by(*group)):
        counts.setdefault(tuple(key), [0] * 4)[int(outcome)] += int(count)
    return counts


def _labelled(filters: ReportFilters, school: Any) -> list[Any]:
    return [k.label(f"k{i}") for i, k in enumerate(grouping.keys(filters, school))]


def followup_counts(session: Session, filters: ReportFilters) -> dict[Path, list[int]]:
    f = FollowUp
    column = case(
        (and_(f.state == FollowUpState.DONE, f.completed_at > f.due_at), LATE),
        (f.state == FollowUpState.DONE, ON_TIME),
        (or_(f.state == FollowUpState.OVERDUE, f.due_at < filters.now), OVERDUE),
        else_=NOT_DUE,
    )
    stmt = select(*_labelled(filters, f.school_id), column.label("outcome")).where(
        f.due_at >= filters.since(), f.due_at < filters.until(),
        f.state != FollowUpState.CANCELLED,
    )  # fmt: skip
    return _grouped(session, grouping.scoped(stmt, filters, f.school_id, f.student_id))


def task_counts(session: Session, filters: ReportFilters) -> dict[Path, list[int]]:
    t = PlanTask
    done_on = grouping.local_date(session, t.done_at, filters)
    column = case(
        (and_(t.state == TaskState.DONE, done_on > t.due_date), LATE),
        (t.state == TaskState.DONE, ON_TIME),
        (t.due_date < grouping.local_today(filters), OVERDUE),
        else_=NOT_DUE,
    )
    stmt = select(*_labelled(filters, t.school_id), column.label("outcome")).where(
        t.due_date >= filters.start, t.due_date <= filters.end, t.state != TaskState.CANCELLED
    )
    return _grouped(session, grouping.scoped(stmt, filters, t.school_id, t.student_id))


def _table(
    session: Session, filters: ReportFilters, key: str, title: object, total: object,
    counts: dict[Path, list[int]],
) -> ReportTable:  # fmt: skip
    rows, labels = grouping.assemble(session, filters, counts, 4)
    levels = grouping.levels(filters)
    return ReportTable(
        key=key, title=str(title), level_headings=levels,
        columns=[str(_l("Done on time")), str(_l("Done late")), str(_l("Overdue, not done")),
                 str(_l("Not yet due"))],
        rows=rows, labels=labels, show_depth=len(levels), total_heading=str(total),
        shares=[Share(str(_l("Share done on time")), ON_TIME)],
        school_ids=set(filters.school_ids),
    )  # fmt: skip


def build(session: Session, principal: Principal, filters: ReportFilters) -> ReportPage:
    return ReportPage(
        title=str(_l("Follow-up and plan-task completion")),
        tables=[
            _table(session, filters, "completion.followups", _l("Follow-ups due in the period"),
                   _l("Follow-ups due"), followup_counts(session, filters)),
            _table(session, filters, "completion.plan_tasks", _l("Plan tasks due in the period"),
                   _l("Tasks due"), task_counts(session, filters)),
        ],
        notes=[
            str(_l("Follow-ups and plan tasks due in the period; cancelled ones are not "
                   "counted. A follow-up is on time when it was done by its due time, a plan "
                   "task when it was done on or before its due date.")),
            str(_l("The share done on time is of everything due in the period, including what "
                   "is not yet due.")),
        ],
    )  # fmt: skip


SPECS = [
    ReportSpec(
        key="completion",
        title=_l("Follow-up and plan-task completion"),
        description=_l("Follow-ups and plan tasks due in the period: done on time, done late, "
                       "overdue and not yet due, by school or grade."),
        filters=("school", "grade", "period"),
        build=build,
    )
]  # fmt: skip
