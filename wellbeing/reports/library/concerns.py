"""Concerns by category and source, by month (issue 16 item 1).

Counts the concerns on students of the report's schools raised in the period: those staff
reported and those from hotline calls about an identified student (``Concern.source``
"hotline": such a call becomes a concern through the same path). An anonymous hotline call
names no school and no student, so no school's table can hold it (the district dashboard
counts every call).

* Category × month (rows ``(month,)``, "YYYY-MM" in the district's time zone, every month of
  the period): the category is encrypted (it is content about a child), so the query reads
  the month and the ciphertext of each concern of the period and the count is made after
  decryption; nothing else is read.
* Source × school (district view) or source × grade (one school): one GROUP BY.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import replace

from flask_babel import lazy_gettext as _l
from sqlalchemy import LargeBinary, String, func, select, type_coerce
from sqlalchemy.orm import Session

from ...concerns.forms import CATEGORY_LABELS
from ...concerns.models import CATEGORIES, SOURCES, Concern
from ...core.authz import Principal
from ...core.crypto import current_keyring
from ..catalog import ReportFilters, ReportPage, ReportSpec
from ..queries import month_expr
from ..suppression import Path
from ..tables import ReportTable
from . import grouping

SOURCE_LABELS = {"staff": _l("Reported by staff"), "hotline": _l("Hotline call about a student")}


def month_keys(start: dt.date, end: dt.date) -> list[str]:
    """ "YYYY-MM" of every month from ``start`` to ``end`` (local dates, both included)."""
    keys, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month + 1) if month < 12 else (year + 1, 1)
    return keys


def _canonical(stored: object) -> str:
    """A uuid's canonical text from its stored form (32 hex digits on SQLite, a UUID from
    PostgreSQL's driver)."""
    if isinstance(stored, str) and len(stored) == 32:
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    return str(stored)


def category_table(session: Session, filters: ReportFilters) -> ReportTable:
    keys = month_keys(filters.start, filters.end)
    month = month_expr(session, Concern.created_at, filters.tz, filters.now).label("month")
    field = vars(Concern)["category"]  # the descriptor: its associated data per row
    keyring = current_keyring()
    counts: Counter[tuple[str, str]] = Counter()
    # The id as stored (no UUID object per row: the associated data takes its canonical text).
    stmt = select(
        month, type_coerce(Concern.id, String), type_coerce(Concern.category_ct, LargeBinary)
    ).where(Concern.created_at >= filters.since(), Concern.created_at < filters.until())
    # rows are months: the student is read only for a grade filter (district=True: no grade key)
    stmt = grouping.scoped(
        stmt, replace(filters, district=True), Concern.school_id, Concern.student_id
    )
    for key, concern_id, blob in session.connection().execute(stmt):
        category = keyring.decrypt(blob, field.context(_canonical(concern_id))).decode()
        counts[(str(key), category if category in CATEGORIES else "other")] += 1
    labels = dict(CATEGORY_LABELS)
    return ReportTable(
        key="concerns.by_category",
        title=str(_l("Concerns by category and month")),
        level_headings=[str(_l("Month"))],
        columns=[str(labels[c]) for c in CATEGORIES],
        rows=[((k,), [counts[(k, c)] for c in CATEGORIES]) for k in keys],
        labels={(k,): k for k in keys},
        total_heading=str(_l("Concerns")),
        chart="lines",
        school_ids=set(filters.school_ids),
    )


def source_table(session: Session, filters: ReportFilters) -> ReportTable:
    keys = grouping.keys(filters, Concern.school_id)
    column = {s: i for i, s in enumerate(SOURCES)}
    stmt = select(*keys, Concern.source, func.count()).where(
        Concern.created_at >= filters.since(), Concern.created_at < filters.until()
    )
    stmt = grouping.scoped(stmt, filters, Concern.school_id, Concern.student_id)
    counts: dict[Path, list[int]] = {}
    for *key, source, count in session.execute(stmt.group_by(*keys, Concern.source)):
        row = counts.setdefault(tuple(key), [0] * len(SOURCES))
        row[column.get(str(source), column["staff"])] += int(count)
    rows, labels = grouping.assemble(session, filters, counts, len(SOURCES))
    levels = grouping.levels(filters)
    return ReportTable(
        key="concerns.by_source",
        title=str(_l("Concerns by source and grade") if grouping.by_grade(filters)
                  else _l("Concerns by source and school")),
        level_headings=levels,
        columns=[str(SOURCE_LABELS[s]) for s in SOURCES],
        rows=rows,
        labels=labels,
        show_depth=len(levels),
        total_heading=str(_l("Concerns")),
        chart="bars",
        school_ids=set(filters.school_ids),
    )  # fmt: skip


def build(session: Session, principal: Principal, filters: ReportFilters) -> ReportPage:
    return ReportPage(
        title=str(_l("Concerns by category and source")),
        tables=[category_table(session, filters), source_table(session, filters)],
        notes=[
            str(
                _l(
                    "Concerns reported by staff and hotline calls about an identified student, "
                    "by the month they were raised. Anonymous hotline calls name no school and "
                    "are not counted here."
                )
            ),
        ],
    )


SPECS = [
    ReportSpec(
        key="concerns",
        title=_l("Concerns by category and source"),
        description=_l(
            "Concerns by category and month, and by source (staff or hotline) per school or grade."
        ),
        filters=("school", "grade", "period"),
        build=build,
    )
]
