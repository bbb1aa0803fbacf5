"""Alert SLA compliance and the time to acknowledge, by school and by rung (issue 16 item 1).

The alerts raised in the period (local dates, ``raised_at``) about a student, except
break-glass alerts (a supervisor's check on a person's access, not a response to a child: as
the dashboards' SLA, ``reports.queries.sla``), per school (district view) or per grade (one
school):

* *Response*: acknowledged by the due time (``acknowledged_at <= due_at``, the policy's
  response time for the tier), acknowledged late, not acknowledged and past the due time
  (still open, or closed by the system when the student left), not yet due. The share in
  time is of every alert raised; the median and the 90th percentile minutes from raising to
  acknowledging (linear interpolation, as PostgreSQL's ``percentile_cont``) are over the
  acknowledged ones, shown when the row's alerts reach the threshold.
* *Time to acknowledge*: the same alerts by how long the acknowledgement took.
* *By rung*: the rung of the ladder the alert had reached when someone acknowledged it (the
  first rung is always the school's psychology teachers).

One GROUP BY gives the three tables; the percentiles are computed in SQL: ``percentile_cont`` on
PostgreSQL, a ranking window on SQLite that returns only the values either side of each
quantile (two rows per quantile and row of the table).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Float, Integer, and_, case, cast, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ...alerts.models import Alert
from ...core.authz import Principal
from ..catalog import ReportFilters, ReportPage, ReportSpec
from ..queries import SLA_KINDS_EXCLUDED
from ..suppression import Path
from ..tables import ReportTable, Share, Statistic
from . import grouping

IN_TIME, LATE, PAST_DUE, NOT_DUE = range(4)
# Upper bounds (minutes, exclusive) of the time-to-acknowledge buckets; then "over 24 h" and
# "not acknowledged".
BOUNDS = (15, 60, 4 * 60, 24 * 60)
NOT_ACKED_BUCKET = len(BOUNDS) + 1
# Rung columns: the first rung (0), the second (1), the third or higher, not acknowledged.
TOP_RUNG, NOT_ACKED_RUNG = 2, 3
QUANTILES = (0.5, 0.9)  # the median and the 90th percentile


def _alerts(session: Session, filters: ReportFilters) -> Any:
    """One row per alert of the report: its path keys, outcome, bucket and rung column."""
    acked = Alert.acknowledged_at.is_not(None)
    minutes = grouping.minutes_between(session, Alert.raised_at, Alert.acknowledged_at)
    outcome = case(
        (and_(acked, Alert.acknowledged_at <= Alert.due_at), IN_TIME), (acked, LATE),
        (Alert.due_at < filters.now, PAST_DUE), else_=NOT_DUE,
    )  # fmt: skip
    bucket = case(
        (Alert.acknowledged_at.is_(None), NOT_ACKED_BUCKET),
        *((minutes < bound, i) for i, bound in enumerate(BOUNDS)), else_=len(BOUNDS),
    )  # fmt: skip
    rung = case(
        (Alert.acknowledged_at.is_(None), NOT_ACKED_RUNG), (Alert.rung <= 0, 0),
        (Alert.rung == 1, 1), else_=TOP_RUNG,
    )  # fmt: skip
    keys = grouping.keys(filters, Alert.school_id)
    stmt = select(
        *(k.label(f"k{i}") for i, k in enumerate(keys)), outcome.label("outcome"),
        bucket.label("bucket"), rung.label("rung"),
        cast(minutes, Float).label("minutes"), Alert.acknowledged_at.label("acknowledged_at"),
    ).where(
        Alert.raised_at >= filters.since(), Alert.raised_at < filters.until(),
        Alert.kind.not_in(SLA_KINDS_EXCLUDED), Alert.student_id.is_not(None),
    )  # fmt: skip
    return grouping.scoped(stmt, filters, Alert.school_id, Alert.student_id).subquery("alerts")


def _counts(
    session: Session, filters: ReportFilters, sub: Any
) -> tuple[dict[Path, list[int]], dict[Path, list[int]], dict[Path, list[int]]]:
    keys = [sub.c[f"k{i}"] for i in range(len(grouping.keys(filters, Alert.school_id)))]
    response: dict[Path, list[int]] = defaultdict(lambda: [0] * 4)
    buckets: dict[Path, list[int]] = defaultdict(lambda: [0] * (NOT_ACKED_BUCKET + 1))
    rungs: dict[Path, list[int]] = defaultdict(lambda: [0] * (NOT_ACKED_RUNG + 1))
    group = [*keys, sub.c.outcome, sub.c.bucket, sub.c.rung]
    for *key, outcome, bucket, rung, count in session.execute(
        select(*group, func.count()).group_by(*group)
    ):
        path = tuple(key)
        response[path][int(outcome)] += int(count)
        buckets[path][int(bucket)] += int(count)
        rungs[path][int(rung)] += int(count)
    return response, buckets, rungs


def _percentiles(
    session: Session, filters: ReportFilters, sub: Any
) -> tuple[dict[Path, float | None], dict[Path, float | None]]:
    """Median and 90th percentile minutes to acknowledge per row and over all rows."""
    keys = [sub.c[f"k{i}"] for i in range(len(grouping.keys(filters, Alert.school_id)))]
    medians: dict[Path, float | None] = {}
    p90s: dict[Path, float | None] = {}
    acked = sub.c.acknowledged_at.is_not(None)  # the column, not the minutes computed from it
    if session.get_bind().dialect.name == "postgresql":
        # One pass: the rows' groups and the whole table (the grouping set "()", flagged by
        # GROUPING() = 1), each with both quantiles.
        median, p90 = (func.percentile_cont(q).within_group(sub.c.minutes) for q in QUANTILES)
        whole = func.grouping(*keys)
        sets = func.grouping_sets(tuple_(*keys), tuple_())
        for *key, overall, m, p in session.execute(
            select(*keys, whole, median, p90).where(acked).group_by(sets)
        ):
            if m is not None:  # no acknowledged alert at all: the whole table's row is empty
                path = () if overall else tuple(key)
                medians[path], p90s[path] = round(float(m), 1), round(float(p), 1)
        return medians, p90s
    for group in (keys, []):
        for path, (m, p) in _ranked_percentiles(session, sub, group).items():
            medians[path], p90s[path] = round(m, 1), round(p, 1)
    return medians, p90s


def _ranked_percentiles(
    session: Session, sub: Any, keys: list[Any]
) -> dict[Path, tuple[float, float]]:
    """SQLite has no ``percentile_cont``: rank the minutes per group in SQL (a window) and
    read only the two values on either side of each quantile's position, then interpolate
    as ``percentile_cont`` (the position ``(n - 1) * q``, computed in the same floating point
    on both sides)."""
    minutes = sub.c.minutes
    ranked = select(
        *keys, minutes.label("v"),
        (func.row_number().over(partition_by=keys or None, order_by=minutes) - 1).label("pos"),
        func.count().over(partition_by=keys or None).label("n"),
    ).where(sub.c.acknowledged_at.is_not(None)).subquery("ranked")  # fmt: skip
    near = []
    for q in QUANTILES:
        low = cast((ranked.c.n - 1) * q, Integer)
        near += [ranked.c.pos == low, ranked.c.pos == low + 1]
    found: dict[Path, dict[int, float]] = defaultdict(dict)
    sizes: dict[Path, int] = {}
    key_columns = [ranked.c[k.name] for k in keys]
    for *key, pos, n, value in session.execute(
        select(*key_columns, ranked.c.pos, ranked.c.n, ranked.c.v).where(or_(*near))
    ):
        found[tuple(key)][int(pos)] = float(value)
        sizes[tuple(key)] = int(n)
    out = {}
    for path, values in found.items():
        m, p = (_interpolate(values, sizes[path], q) for q in QUANTILES)
        out[path] = (m, p)
    return out


def _interpolate(values: dict[int, float], n: int, q: float) -> float:
    position = (n - 1) * q
    low = int(position)
    high = min(low + 1, n - 1)
    return values[low] + (values[high] - values[low]) * (position - low)


def _table(
    session: Session, filters: ReportFilters, key: str, title: object,
    columns: list[object], counts: dict[Path, list[int]], **extra: Any,
) -> ReportTable:  # fmt: skip
    rows, labels = grouping.assemble(session, filters, counts, len(columns))
    levels = grouping.levels(filters)
    return ReportTable(
        key=key, title=str(title), level_headings=levels, columns=[str(c) for c in columns],
        rows=rows, labels=labels, show_depth=len(levels),
        total_heading=str(_l("Alerts raised")), school_ids=set(filters.school_ids), **extra,
    )  # fmt: skip


def build(session: Session, principal: Principal, filters: ReportFilters) -> ReportPage:
    sub = _alerts(session, filters)
    response, buckets, rungs = _counts(session, filters, sub)
    medians, p90s = _percentiles(session, filters, sub)
    response_table = _table(
        session, filters, "alert_sla.response", _l("Alerts acknowledged in time"),
        [_l("Acknowledged by the due time"), _l("Acknowledged late"),
         _l("Not acknowledged, past the due time"), _l("Not yet due")],
        response,
        shares=[Share(str(_l("Share acknowledged in time")), IN_TIME)],
        statistics=[
            Statistic(str(_l("Minutes to acknowledge: median")), medians),
            Statistic(str(_l("Minutes to acknowledge: 90th percentile")), p90s),
        ],
    )  # fmt: skip
    distribution = _table(
        session, filters, "alert_sla.time_to_acknowledge", _l("Time to acknowledge"),
        [_l("Under 15 minutes"), _l("15 to 60 minutes"), _l("1 to 4 hours"),
         _l("4 to 24 hours"), _l("Over 24 hours"), _l("Not acknowledged")],
        buckets,
    )  # fmt: skip
    by_rung = _table(
        session, filters, "alert_sla.by_rung", _l("Rung reached when acknowledged"),
        [_l("First rung (psychology teachers)"), _l("Second rung"),
         _l("Third rung or higher"), _l("Not acknowledged")],
        rungs,
    )  # fmt: skip
    return ReportPage(
        title=str(_l("Alert response times")),
        tables=[response_table, distribution, by_rung],
        notes=[
            str(_l("Alerts raised in the period about a student (break-glass checks are not "
                   "counted). An alert is in time when it was acknowledged by its due time, "
                   "which the district's policy sets for each tier.")),
            str(_l("The share in time is of every alert raised, including those not yet due. "
                   "Minutes to acknowledge are over the acknowledged alerts; the rung is the "
                   "step of the escalation ladder the alert had reached when acknowledged.")),
        ],
    )  # fmt: skip


SPECS = [
    ReportSpec(
        key="alert_sla",
        title=_l("Alert response times"),
        description=_l("Alerts acknowledged in time, late or not yet, the median and 90th "
                       "percentile minutes to acknowledge, and the rung reached, by school or "
                       "grade."),
        filters=("school", "grade", "period"),
        build=build,
    )
]  # fmt: skip
