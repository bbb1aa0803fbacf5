"""Rows by school (district view) or by grade (one school) for the reports of alerts,
follow-ups, tasks and plans (``alert_sla``, ``completion``, ``plan_coverage``).

District view: one row per school of the report, ``(school_id,)``, every school listed even
without a count. One school: ``(school_id, grade)``, the grades with a count, shown at depth 2.
The grade is the student's grade now (``Student.grade``); only the district view without a
grade filter reads no student row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, Date, Select, cast, func, select
from sqlalchemy.orm import Session

from ...orgs.labels import grade_label
from ...orgs.models import School
from ...students.models import Student
from ..catalog import ReportFilters
from ..suppression import Path


def by_grade(filters: ReportFilters) -> bool:
    """Rows are grades (one school) rather than schools (the district)."""
    return not filters.district


def keys(filters: ReportFilters, school: Any) -> list[Any]:
    """The GROUP BY columns of a row's path."""
    return [school, Student.grade] if by_grade(filters) else [school]


def scoped(stmt: Select[Any], filters: ReportFilters, school: Any, student: Any) -> Select[Any]:
    """Only rows of the report's schools (and grade); joins the student when the grade is
    needed (``student``: the row's student id column)."""
    stmt = stmt.where(school.in_(filters.school_ids))
    if by_grade(filters) or filters.grade is not None:
        stmt = stmt.join(Student, Student.id == student)
    if filters.grade is not None:
        stmt = stmt.where(Student.grade == filters.grade)
    return stmt


def levels(filters: ReportFilters) -> list[str]:
    return [str(_l("School"))] + ([str(_l("Grade"))] if by_grade(filters) else [])


def assemble(
    session: Session, filters: ReportFilters, counts: Mapping[Path, Sequence[int]], width: int
) -> tuple[list[tuple[Path, list[int]]], dict[Path, str]]:
    """The table's rows in order (school code, then grade) and the label of every prefix."""
    table: dict[Path, list[int]] = {}
    if not by_grade(filters):
        table = {(sid,): [0] * width for sid in filters.school_ids}
    for path, row in counts.items():
        table[path] = [int(n) for n in row]
    schools = {
        s.id: s for s in session.scalars(select(School).where(School.id.in_(filters.school_ids)))
    }

    def order(path: Path) -> tuple[Any, ...]:
        school = schools.get(path[0])  # type: ignore[call-overload]
        return (school.code if school else "", str(path[0]), *path[1:])

    labels: dict[Path, str] = {}
    rows = []
    for path in sorted(table, key=order):
        school = schools.get(path[0])  # type: ignore[call-overload]
        labels[path[:1]] = school.name if school else ""
        if len(path) > 1:
            labels[path] = grade_label(path[1])  # type: ignore[arg-type]
        rows.append((path, table[path]))
    return rows, labels


def local_today(filters: ReportFilters) -> dt.date:
    return filters.now.astimezone(filters.tz).date()


def local_date(session: Session, column: Any, filters: ReportFilters) -> ColumnElement[Any]:
    """The district's local date of a UTC time column, computed by the database (SQLite: the
    offset at ``now``, as the dashboards' month keys; the district's zone has no DST)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone(str(filters.tz), column), Date)
    offset = filters.now.astimezone(filters.tz).utcoffset() or dt.timedelta(0)
    return func.date(column, f"{int(offset.total_seconds())} seconds")


def minutes_between(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """``end - start`` in minutes, exact for whole seconds on both engines (a time of exactly
    15 minutes falls on the same side of a bucket's bound on SQLite and PostgreSQL)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 60.0
    return func.round((func.julianday(end) - func.julianday(start)) * 86400.0, 3) / 60.0
