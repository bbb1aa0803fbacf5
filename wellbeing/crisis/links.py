"""The crisis side of "one event, one acknowledgement" (:mod:`wellbeing.alerts.links`).

A crisis stores the crisis alert about its student (``crisis.alert_id``), whichever of the two
is stored first, so the link does not depend on the order of the ``TIER_CHANGED`` subscribers:
a crisis that opens finds the student's open crisis alert (:func:`crisis_alert_ids`), and an
alert raised while the student's open crisis has none is stored on it (:func:`link_alerts`, on
``ALERT_RAISED``, single and bulk). The alert page lists the crisis (for people who may manage
it); acknowledging the alert records the checklist's first step
(:func:`.services.acknowledge_step`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..alerts.common import CRISIS_KINDS
from ..alerts.events import AlertRaised
from ..alerts.links import LinkedItem, When, rows_by_id
from ..alerts.models import Alert, AlertState
from ..core.authz import Permission, Principal, can
from ..core.rawsql import chunks
from ..core.states import state_label
from ..students.models import Student
from .models import Crisis, CrisisState


def crisis_alert_ids(
    session: Session, student_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, uuid.UUID]:
    """The open crisis alert of each student (by student id), for the crisis that opens now."""
    found: dict[uuid.UUID, uuid.UUID] = {}
    for part in chunks(sorted(student_ids)):
        rows = session.execute(
            select(Alert.student_id, Alert.id)
            .where(
                Alert.student_id.in_(part), Alert.kind.in_(CRISIS_KINDS),
                Alert.state == AlertState.OPEN,
            )
            .order_by(Alert.raised_at)
        ).all()  # fmt: skip
        for student_id, alert_id in rows:
            if student_id is not None:
                found.setdefault(student_id, alert_id)
    return found


def link_alerts(session: Session, raised: Sequence[AlertRaised]) -> None:
    """Store each new crisis alert on its student's open crisis that has no alert yet (the
    crisis opened before the alert was raised); the first alert per student wins."""
    by_student: dict[uuid.UUID, uuid.UUID] = {}
    for item in raised:
        alert = item.alert
        if alert.kind in CRISIS_KINDS and alert.student_id is not None:
            by_student.setdefault(alert.student_id, alert.id)
    for part in chunks(sorted(by_student)):
        for crisis in session.scalars(
            select(Crisis).where(
                Crisis.student_id.in_(part), Crisis.state == CrisisState.OPEN,
                Crisis.alert_id.is_(None),
            )
        ):  # fmt: skip
            crisis.alert_id = by_student[crisis.student_id]
    session.flush()


def link_alert(session: Session, raised: AlertRaised) -> None:
    """:func:`link_alerts` for one alert (``ALERT_RAISED``'s per-item form)."""
    link_alerts(session, [raised])


def crises_of_alert(session: Session, alert_id: uuid.UUID) -> list[Crisis]:
    return crises_of_alerts(session, [alert_id]).get(alert_id, [])


def crises_of_alerts(
    session: Session, alert_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[Crisis]]:
    """The crises each alert opened (by alert id, oldest first)."""
    found: dict[uuid.UUID, list[Crisis]] = {}
    for part in chunks(sorted(set(alert_ids))):
        for crisis in session.scalars(
            select(Crisis).where(Crisis.alert_id.in_(part))
            .order_by(Crisis.opened_at, Crisis.id)
        ):  # fmt: skip
            if crisis.alert_id is not None:
                found.setdefault(crisis.alert_id, []).append(crisis)
    return found


def crisis_item(crisis: Crisis) -> LinkedItem:
    return LinkedItem(
        "crisis", crisis.id, _l("Crisis opened %(when)s", when=When(crisis.opened_at)),
        state_label(CrisisState(crisis.state)), "crisis.detail", {"crisis_id": crisis.id},
    )  # fmt: skip


def crisis_links(
    session: Session, principal: Principal, alerts: Sequence[Alert]
) -> dict[uuid.UUID, list[LinkedItem]]:
    """The crisis each alert opened, for people who may manage it."""
    crises = crises_of_alerts(session, [a.id for a in alerts])
    students = rows_by_id(
        session, Student, [c.student_id for found in crises.values() for c in found]
    )
    items: dict[uuid.UUID, list[LinkedItem]] = {}
    for alert_id, found in crises.items():
        for crisis in found:
            student = students.get(crisis.student_id)
            if student is not None and can(principal, Permission.CRISIS_MANAGE, student):
                items.setdefault(alert_id, []).append(crisis_item(crisis))
    return items
