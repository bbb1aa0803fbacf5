"""The district centre's alert queue: every unresolved alert the centre may act on.

ONE definition (:func:`district_condition`) serves the queue, its count, the district
dashboard's alert figures (``reports.queries.school_figures(..., district_queue=True)``) and the
policy check for counsellors on one alert (``services.may_handle``), so the dashboard never
counts an alert the queue does not list, and nobody at the centre acts on an alert the queue
would not show them. An alert belongs to the district centre when it is not a break-glass alert
(those are the supervisors') and either

* it was escalated to the district: its ladder reached the counsellor rung, or a district
  counsellor was notified of it (a top rung nobody held falls back to the counsellors), or
* its student is already involved with the district (``Student.district_involved``: the tier
  policy or the school escalated or referred the student).

Least data: the queue shows kind, school, tier, times, state and why the alert is the centre's;
the student's name only where the viewer may read the record (the policy in ``core.authz``:
district-involved students, or a live break-glass grant). Never a score or a note.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
import uuid
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from ..auth.models import Membership
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, ensure
from ..core.rawsql import chunks
from ..orgs.models import School
from ..students.chip import chip_fields
from ..students.models import Student
from .common import visible_students
from .models import STATES, UNRESOLVED, Alert, AlertInbox, AlertState, AlertStep
from .queries import PAGE_SIZE, STATE_FILTERS, PageLinks

COUNSELLOR = Role.COUNSELLOR.value
# "Open for more than …": the age filter of the queue (time since the alert was raised).
AGE_FILTERS: dict[str, dt.timedelta] = {
    "1h": dt.timedelta(hours=1),
    "1d": dt.timedelta(days=1),
    "3d": dt.timedelta(days=3),
    "7d": dt.timedelta(days=7),
}
TIER_FILTERS = (3, 2, 1)


def escalated_condition() -> ColumnElement[bool]:
    """The alert reached the district: a counsellor rung, or a district counsellor notified."""
    reached = exists().where(AlertStep.alert_id == Alert.id, AlertStep.role == COUNSELLOR)
    notified = exists().where(
        AlertInbox.alert_id == Alert.id,
        Membership.user_id == AlertInbox.user_id,
        Membership.role == COUNSELLOR,
        Membership.district_id == Alert.district_id,
    )
    return or_(reached, notified)


def involved_condition() -> ColumnElement[bool]:
    """The alert's student is already involved with the district."""
    return exists().where(Student.id == Alert.student_id, Student.district_involved.is_(True))


def district_condition() -> ColumnElement[bool]:
    """The one definition of "an alert the district centre may act on" (module docstring)."""
    return and_(Alert.kind != "break_glass", or_(involved_condition(), escalated_condition()))


def is_district_alert(session: Session, alert: Alert) -> bool:
    """Does ``alert`` meet :func:`district_condition` (the same SQL as the queue)?"""
    if alert.kind == "break_glass":
        return False
    session.flush()
    found = session.scalar(select(Alert.id).where(Alert.id == alert.id, district_condition()))
    return found is not None


def district_alert_ids(session: Session, alerts: Collection[Alert]) -> set[uuid.UUID]:
    """:func:`is_district_alert` of many alerts: the ids of those that meet it (one query per
    :data:`~wellbeing.core.rawsql.IN_CHUNK` alerts)."""
    ids = sorted({alert.id for alert in alerts if alert.kind != "break_glass"})
    if not ids:
        return set()
    session.flush()
    found: set[uuid.UUID] = set()
    for part in chunks(ids):
        found.update(
            session.scalars(select(Alert.id).where(Alert.id.in_(part), district_condition()))
        )
    return found


def queue_counts(
    session: Session, now: dt.datetime, school_ids: list[uuid.UUID] | None = None
) -> list[tuple[uuid.UUID, str, int, int]]:
    """(school_id, state, count, overdue) of the centre's unresolved alerts: the district
    dashboard's alert figures. ``school_ids`` None means every school."""
    overdue = func.sum(case((Alert.due_at < now, 1), else_=0))
    schools = Alert.school_id.in_(school_ids) if school_ids is not None else true()
    rows = session.execute(
        select(Alert.school_id, Alert.state, func.count(), overdue)
        .where(schools, Alert.state.in_(UNRESOLVED), district_condition())
        .group_by(Alert.school_id, Alert.state)
    ).all()
    return [
        (school_id, state, int(count), int(late or 0)) for school_id, state, count, late in rows
    ]


# --------------------------------------------------------------------------- the queue


@dataclass(frozen=True)
class QueueFilter:
    state: str = AlertState.OPEN
    school_id: uuid.UUID | None = None
    tier: int | None = None
    age: str = ""

    def as_detail(self) -> dict[str, object]:
        return {
            "state": self.state, "school": self.school_id, "tier": self.tier, "age": self.age or None,
        }  # fmt: skip


@dataclass(frozen=True)
class QueueRow:
    alert: Alert
    school_name: str | None
    escalated: bool  # else: in the queue because the student is involved with the district


@dataclass(frozen=True)
class QueuePage(PageLinks):
    rows: list[QueueRow]
    total: int
    page: int
    has_prev: bool
    has_next: bool


def _where(
    district_ids: Collection[uuid.UUID], filters: QueueFilter, now: dt.datetime
) -> list[ColumnElement[bool]]:
    where = [Alert.district_id.in_(list(district_ids)), district_condition()]
    if filters.state in STATES:
        where.append(Alert.state == filters.state)
    if filters.school_id is not None:
        where.append(Alert.school_id == filters.school_id)
    if filters.tier is not None:
        where.append(Alert.tier == filters.tier)
    if filters.age in AGE_FILTERS:
        where.append(Alert.raised_at <= now - AGE_FILTERS[filters.age])
    return where


def queue_page(
    session: Session,
    district_ids: Collection[uuid.UUID],
    filters: QueueFilter,
    now: dt.datetime,
    page: int = 1,
) -> QueuePage:
    """One page of the queue: open alerts by response due time (most overdue first), the
    others newest first; ``total`` counts every matching alert."""
    page = max(1, page)
    if not district_ids:
        return QueuePage([], 0, page, False, False)
    where = _where(district_ids, filters, now)
    total = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
    order = (Alert.due_at.asc(),) if filters.state == AlertState.OPEN else (Alert.raised_at.desc(),)
    rows = session.execute(
        select(Alert, School.name, escalated_condition().label("escalated"))
        .outerjoin(School, School.id == Alert.school_id)
        .where(*where)
        .order_by(*order, Alert.id)
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE + 1)
    ).all()
    items = [QueueRow(alert, name, bool(esc)) for alert, name, esc in rows[:PAGE_SIZE]]
    return QueuePage(items, int(total), page, page > 1, len(rows) > PAGE_SIZE)


def centre_districts(principal: Principal) -> frozenset[uuid.UUID]:
    """The districts whose centre the principal works for (their counsellor memberships)."""
    return frozenset(
        s.district_id for s in principal.scopes if s.role == Role.COUNSELLOR and s.district_id
    )


def _pinyin_key(name: str) -> tuple[str, ...]:
    """Sort key: each character by its most common pinyin reading (names sorted by pinyin)."""
    # pypinyin takes ~0.25 s to import: it loads when a name is first sorted
    from pypinyin.pinyin_dict import pinyin_dict

    key = []
    for char in unicodedata.normalize("NFKC", name):
        readings = pinyin_dict.get(ord(char))
        if readings:
            plain = unicodedata.normalize("NFKD", readings.split(",")[0])
            key.append("".join(c for c in plain if c.isascii()))
        else:
            key.append(char.lower())
    return tuple(key)


def queue_schools(session: Session, principal: Principal) -> list[School]:
    """The schools of the principal's districts (the school filter), by pinyin of the name."""
    districts = centre_districts(principal)
    if not districts:
        return []
    schools = session.scalars(select(School).where(School.district_id.in_(list(districts))))
    return sorted(schools, key=lambda s: _pinyin_key(s.name))


def district_queue(
    session: Session,
    principal: Principal,
    filters: QueueFilter,
    *,
    now: dt.datetime,
    page: int = 1,
) -> tuple[QueuePage, dict[uuid.UUID, Student]]:
    """The queue page and the students the principal may see named (by alert id), audited like every list of children
    (``ALERT_LIST``: the alerts and students listed, the filters; never a name)."""
    ensure(principal, Permission.DISTRICT_ESCALATIONS)
    result = queue_page(session, centre_districts(principal), filters, now, page)
    alerts = [row.alert for row in result.rows]
    names = visible_students(session, principal, alerts)
    audit.record(
        session, AuditAction.ALERT_LIST, object_type="alert_queue", object_id="district",
        fields=chip_fields(principal, names.values(), school=False, prefix="student."),
        detail={
            "view": "district", **filters.as_detail(), "page": result.page,
            "total": result.total, "alerts": [a.id for a in alerts],
            "students": sorted({str(a.student_id) for a in alerts if a.student_id}),
        },
    )  # fmt: skip
    return result, names


__all__ = ["STATE_FILTERS", "district_condition", "district_queue", "queue_counts"]
