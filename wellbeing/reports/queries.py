"""Read-only aggregate queries for the dashboards.

Every figure is one GROUP BY on indexed columns (student: school_id/grade/tier, alert:
school_id/state, crisis: state/school_id, followup: state/due_at); nothing loops over students.
Lists of names are bounded (``NAME_LIMIT``) and read through the (school_id, tier) index.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, func, or_, select, true
from sqlalchemy.orm import Session

from ..alerts.district import queue_counts
from ..alerts.models import Alert, AlertState
from ..concerns.models import Concern, HotlineCall
from ..crisis.models import Crisis, CrisisState
from ..followups.models import ACTIVE_STATES, FollowUp
from ..orgs.models import School
from ..students.collation import pinyin_key
from ..students.models import Student

NAME_LIMIT = 200
DUE_SOON = dt.timedelta(days=7)
ALERT_STATES_UNRESOLVED = (AlertState.OPEN, AlertState.ACKNOWLEDGED)
SLA_KINDS_EXCLUDED = ("break_glass",)  # supervisors' alerts are not a student's first response


@dataclass
class SchoolFigures:
    tiers: dict[int, int] = field(default_factory=lambda: {0: 0, 1: 0, 2: 0, 3: 0})
    alerts_open: int = 0
    alerts_overdue: int = 0
    alerts_acknowledged: int = 0
    crises_open: int = 0
    oldest_crisis_at: dt.datetime | None = None
    followups_due: int = 0
    followups_overdue: int = 0

    @property
    def students(self) -> int:
        return sum(self.tiers.values())


def tier_by_grade(session: Session, school_id: uuid.UUID) -> dict[int, dict[int, int]]:
    """{grade: {tier: count}} of active students of one school."""
    rows = session.execute(
        select(Student.grade, Student.tier, func.count())
        .where(Student.school_id == school_id, Student.status == "active")
        .group_by(Student.grade, Student.tier)
    ).all()
    result: dict[int, dict[int, int]] = defaultdict(lambda: {0: 0, 1: 0, 2: 0, 3: 0})
    for grade, tier, count in rows:
        result[int(grade)][int(tier)] = int(count)
    return dict(sorted(result.items()))


def _school_filter(
    column: SQLColumnExpression[Any], school_ids: list[uuid.UUID] | None
) -> ColumnElement[Any]:
    """``column IN (...)``, or no condition at all for the whole district (an always-true
    clause that the planners drop, so the covering indexes stay usable)."""
    return column.in_(school_ids) if school_ids is not None else true()


def school_figures(
    session: Session, now: dt.datetime, school_ids: list[uuid.UUID] | None = None,
    *, district_queue: bool = False,
) -> dict[uuid.UUID, SchoolFigures]:  # fmt: skip
    """Per-school figures; ``school_ids`` None means every school of the district. With
    ``district_queue`` the alert figures count the district centre's alerts only, by the
    definition of its queue (``alerts.district``), so the district dashboard and the queue
    agree."""
    figures: dict[uuid.UUID, SchoolFigures] = defaultdict(SchoolFigures)
    # Grouped by grade too: the order of the covering index (status, school_id, grade, tier),
    # so both engines read the index alone, in order, without sorting.
    for school_id, _grade, tier, count in session.execute(
        select(Student.school_id, Student.grade, Student.tier, func.count())
        .where(Student.status == "active", _school_filter(Student.school_id, school_ids))
        .group_by(Student.school_id, Student.grade, Student.tier)
    ):
        figures[school_id].tiers[int(tier)] += int(count)
    overdue = func.sum(case((Alert.due_at < now, 1), else_=0))
    alert_rows = (
        queue_counts(session, now, school_ids)
        if district_queue
        else session.execute(
            select(Alert.school_id, Alert.state, func.count(), overdue)
            .where(
                _school_filter(Alert.school_id, school_ids),
                Alert.state.in_(ALERT_STATES_UNRESOLVED),
            )
            .group_by(Alert.school_id, Alert.state)
        ).all()
    )
    for school_id, state, count, late in alert_rows:
        fig = figures[school_id]
        if state == AlertState.OPEN:
            fig.alerts_open, fig.alerts_overdue = int(count), int(late or 0)
        else:
            fig.alerts_acknowledged = int(count)
    for school_id, count, oldest in session.execute(
        select(Crisis.school_id, func.count(), func.min(Crisis.opened_at))
        .where(Crisis.state == CrisisState.OPEN, _school_filter(Crisis.school_id, school_ids))
        .group_by(Crisis.school_id)
    ):
        figures[school_id].crises_open = int(count)
        figures[school_id].oldest_crisis_at = _aware(oldest)
    late_followup = func.sum(case((FollowUp.due_at < now, 1), else_=0))
    for school_id, count, late in session.execute(
        select(FollowUp.school_id, func.count(), late_followup)
        .where(
            FollowUp.state.in_(ACTIVE_STATES),
            FollowUp.due_at <= now + DUE_SOON,
            _school_filter(FollowUp.school_id, school_ids),
        )
        .group_by(FollowUp.school_id)
    ):
        figures[school_id].followups_due = int(count)
        figures[school_id].followups_overdue = int(late or 0)
    return dict(figures)


def _aware(value: dt.datetime | str | None) -> dt.datetime | None:
    """Aggregates (MIN) bypass the column type on SQLite: parse and mark as UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def students_of_concern(
    session: Session, school_id: uuid.UUID, limit: int = NAME_LIMIT
) -> list[Student]:
    """Orange and red students of a school, red first (index school_id, tier), then by the
    pinyin of their names (decrypted here: the database cannot order them)."""
    return _by_tier_and_name(
        session.scalars(
            select(Student)
            .where(Student.school_id == school_id, Student.tier >= 2, Student.status == "active")
            .order_by(Student.tier.desc(), Student.id)
            .limit(limit)
        )
    )


def _by_tier_and_name(students: Iterable[Student]) -> list[Student]:
    return sorted(students, key=lambda s: (-s.tier, pinyin_key(s.name)))


def escalated_students(session: Session, limit: int = NAME_LIMIT) -> list[Student]:
    """Students the district is involved with, highest tier first, then by name (pinyin)."""
    return _by_tier_and_name(
        session.scalars(
            select(Student)
            .where(Student.district_involved.is_(True), Student.status == "active")
            .order_by(Student.tier.desc(), Student.id)
            .limit(limit)
        )
    )


def open_crisis_students(session: Session, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, Crisis]:
    if not student_ids:
        return {}
    rows = session.scalars(
        select(Crisis).where(Crisis.student_id.in_(student_ids), Crisis.state == CrisisState.OPEN)
    )
    return {c.student_id: c for c in rows}


def schools(session: Session, school_ids: list[uuid.UUID] | None = None) -> list[School]:
    stmt = select(School).order_by(School.code)
    if school_ids is not None:
        stmt = stmt.where(School.id.in_(school_ids))
    return list(session.scalars(stmt))


# --------------------------------------------------------------------------- SLA and trends


@dataclass
class Sla:
    alerts: int  # alerts raised in the period whose outcome is known (acknowledged or due)
    in_time: int
    median_minutes: float | None
    pending: int  # open and not yet due: not counted either way

    @property
    def share(self) -> float | None:
        return None if not self.alerts else self.in_time / self.alerts


def sla(
    session: Session,
    since: dt.datetime,
    now: dt.datetime,
    tz: dt.tzinfo,
    school_ids: list[uuid.UUID] | None = None,
) -> tuple[Sla, dict[str, Sla]]:
    """Share of alerts acknowledged by their due time (overall and per local month of raising)
    and the median minutes to acknowledge, over alerts raised since ``since``. Computed in SQL
    (one GROUP BY, one ordered read of the middle row), so it stays fast on a district's year."""
    where = [Alert.raised_at >= since, Alert.kind.not_in(SLA_KINDS_EXCLUDED)]
    if school_ids is not None:
        where.append(Alert.school_id.in_(school_ids))
    acked = Alert.acknowledged_at.is_not(None)
    month = month_expr(session, Alert.raised_at, tz, now).label("month")
    rows = session.execute(
        select(
            month,
            func.sum(case((and_(acked, Alert.acknowledged_at <= Alert.due_at), 1), else_=0)),
            func.sum(case((or_(acked, Alert.due_at < now), 1), else_=0)),
            func.sum(case((and_(Alert.acknowledged_at.is_(None), Alert.due_at >= now), 1), else_=0)),
        ).where(*where).group_by(month)
    ).all()  # fmt: skip
    per_month = {str(m): Sla(int(k or 0), int(i or 0), None, int(p or 0)) for m, i, k, p in rows}
    per_month = dict(sorted(per_month.items()))
    overall = Sla(
        sum(v.alerts for v in per_month.values()), sum(v.in_time for v in per_month.values()),
        _median_minutes(session, [*where, acked]), sum(v.pending for v in per_month.values()),
    )  # fmt: skip
    return overall, per_month


def _minutes_between(
    session: Session, start: SQLColumnExpression[Any], end: SQLColumnExpression[Any]
) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 60.0
    return (func.julianday(end) - func.julianday(start)) * 1440.0


def _median_minutes(session: Session, where: list[SQLColumnExpression[Any]]) -> float | None:
    count = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
    if not count:
        return None
    minutes = _minutes_between(session, Alert.raised_at, Alert.acknowledged_at).label("minutes")
    middle = session.scalars(
        select(minutes)
        .where(*where)
        .order_by(minutes)
        .offset((count - 1) // 2)
        .limit(2 - count % 2)
    ).all()
    return round(statistics.mean(float(m) for m in middle), 1)


def month_keys(now: dt.datetime, months: int, tz: dt.tzinfo) -> list[str]:
    local = now.astimezone(tz)
    year, month = local.year, local.month
    keys = []
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def month_start(key: str, tz: dt.tzinfo) -> dt.datetime:
    year, month = (int(p) for p in key.split("-"))
    return dt.datetime(year, month, 1, tzinfo=tz).astimezone(dt.UTC)


def month_expr(
    session: Session, column: SQLColumnExpression[Any], tz: dt.tzinfo, now: dt.datetime
) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(str(tz), column), "YYYY-MM")
    offset = now.astimezone(tz).utcoffset() or dt.timedelta(0)
    return func.strftime("%Y-%m", column, f"{int(offset.total_seconds())} seconds")


def monthly_counts(
    session: Session,
    now: dt.datetime,
    tz: dt.tzinfo,
    months: int = 12,
    school_ids: list[uuid.UUID] | None = None,
) -> tuple[list[str], dict[str, list[int]]]:
    """Concerns reported, alerts raised, crises opened (and hotline calls, district-wide) per
    month: one GROUP BY per series on its indexed time column."""
    keys = month_keys(now, months, tz)
    since = month_start(keys[0], tz)
    series: dict[str, list[int]] = {}
    sources: list[tuple[str, SQLColumnExpression[Any], SQLColumnExpression[Any] | None]] = [
        ("concerns", Concern.created_at, _school_filter(Concern.school_id, school_ids) if school_ids else None),
        ("alerts", Alert.raised_at, and_(_school_filter(Alert.school_id, school_ids), Alert.kind.not_in(SLA_KINDS_EXCLUDED))),
        ("crises", Crisis.opened_at, _school_filter(Crisis.school_id, school_ids) if school_ids else None),
    ]  # fmt: skip
    if school_ids is None:
        sources.append(("hotline", HotlineCall.called_at, None))
    for name, column, where in sources:
        month = month_expr(session, column, tz, now).label("month")
        stmt = select(month, func.count()).where(column >= since).group_by(month)
        if where is not None:
            stmt = stmt.where(where)
        counts = {str(m): int(n) for m, n in session.execute(stmt)}
        series[name] = [counts.get(k, 0) for k in keys]
    return keys, series
