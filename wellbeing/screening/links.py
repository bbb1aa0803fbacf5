"""The screening side of "one event, one acknowledgement" (:mod:`wellbeing.alerts.links`).

A screening response raises an alert in two ways: its critical item was answered (a
``critical_item`` alert whose source is the response) or its rule made the student red (a
``red_tier`` alert whose source is the tier decision, whose source is the response). The alert
page lists the response (instrument and date, never scores, linking to the student's screening
history) for people who may read the student's screening; the history page lists the alerts
its responses raised and what those are linked to (the crisis), only what the viewer may open.

Acknowledging the alert changes nothing on the screening side: acknowledging says "I am on
it", while the provisional tier the rule set waits in the review queue for the psychology
teacher's own decision (confirm or change, with a reason), which an acknowledgement must not
take for them. The confirmation says so when the student is still in that queue.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection

from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from ..alerts import links as alert_links
from ..alerts.links import LinkedItem
from ..alerts.models import UNRESOLVED, Alert
from ..alerts.services import may_handle
from ..core.authz import Permission, Principal, can
from ..risk.models import TierDecision
from ..students.models import Student
from .engine.instruments import builtin_instruments
from .models import Response

SOURCE = "screening"


class InstrumentName:
    """An instrument's name in the reader's language when the label is rendered."""

    def __init__(self, code: str) -> None:
        self.code = code

    def __str__(self) -> str:
        inst = builtin_instruments().get(self.code)
        return inst.name.get(str(get_locale() or "en")) if inst is not None else self.code


class Day:
    """A date in the reader's language when the label is rendered."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __str__(self) -> str:
        return str(format_date(self.at, "medium"))


def responses_of_alert(session: Session, alert: Alert) -> list[Response]:
    """The screening response that raised ``alert`` (none for other alerts)."""
    if alert.source_id is None:
        return []
    response_id: uuid.UUID | None = None
    if alert.kind == "critical_item":
        response_id = alert.source_id
    elif alert.kind == "red_tier":
        decision = session.get(TierDecision, alert.source_id)
        if decision is not None and decision.source == SOURCE:
            response_id = decision.source_id
    response = session.get(Response, response_id) if response_id is not None else None
    return [response] if response is not None else []


def response_item(response: Response) -> LinkedItem:
    label = _l(
        "%(instrument)s screening result of %(date)s",
        instrument=InstrumentName(response.instrument), date=Day(response.created_at),
    )  # fmt: skip
    state = _l("critical item") if response.critical else _l("screening rule")
    return LinkedItem(
        "screening", response.id, label, state, "screening.history",
        {"student_id": response.student_id},
    )  # fmt: skip


def screening_links(session: Session, principal: Principal, alert: Alert) -> list[LinkedItem]:
    """The response that raised the alert, for people who may read the student's screening."""
    items = []
    for response in responses_of_alert(session, alert):
        student = session.get(Student, response.student_id)
        if student is not None and can(principal, Permission.SCREENING_READ, student):
            items.append(response_item(response))
    return items


def in_review(
    session: Session, principal: Principal, alert: Alert, now: dt.datetime
) -> list[object]:
    """Nothing to mark: the provisional tier keeps waiting for the person's decision (see the
    module's docstring); the confirmation says so."""
    for response in responses_of_alert(session, alert):
        student = session.get(Student, response.student_id)
        if (
            student is not None
            and student.tier_provisional
            and can(principal, Permission.TIER_DECIDE, student)
        ):
            return [_l("The screening result waits in the review queue for your tier decision.")]
    return []


ResponseIds = Collection[uuid.UUID] | Select[tuple[uuid.UUID]]


def alerts_of_responses(session: Session, response_ids: ResponseIds) -> list[Alert]:
    """The alerts the responses raised (critical items, and red tiers their rules set)."""
    if not isinstance(response_ids, Select):
        if not response_ids:
            return []
        response_ids = list(response_ids)
    decisions = select(TierDecision.id).where(
        TierDecision.source == SOURCE, TierDecision.source_id.in_(response_ids)
    )
    stmt = (
        select(Alert)
        .where(or_(
            and_(Alert.kind == "critical_item", Alert.source_id.in_(response_ids)),
            and_(Alert.kind == "red_tier", Alert.source_id.in_(decisions)),
        ))
        .order_by(Alert.raised_at)
    )  # fmt: skip
    return list(session.scalars(stmt))


def _event_items(session: Session, principal: Principal, alerts: list[Alert]) -> list[LinkedItem]:
    items: list[LinkedItem] = []
    for alert in alerts:
        if may_handle(session, principal, alert):
            items.append(alert_links.alert_item(alert))
        for item in alert_links.linked_items(session, principal, alert):
            if item.kind != "screening" and item.id not in {i.id for i in items}:
                items.append(item)
    return items


def event_items_of_responses(
    session: Session, principal: Principal, response_ids: Collection[uuid.UUID]
) -> list[LinkedItem]:
    """What the history page shows of the events its responses raised: each alert (for people
    who may handle it) and what is linked to it (the crisis), only what the viewer may open."""
    return _event_items(session, principal, alerts_of_responses(session, response_ids))


def event_items_by_student(
    session: Session, principal: Principal, student_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[LinkedItem]]:
    """The same for the review queue: per student, the unresolved events their screening
    responses raised."""
    if not student_ids:
        return {}
    responses = select(Response.id).where(Response.student_id.in_(list(student_ids)))
    by_student: dict[uuid.UUID, list[Alert]] = {}
    for alert in alerts_of_responses(session, responses):
        if alert.student_id is not None and alert.state in UNRESOLVED:
            by_student.setdefault(alert.student_id, []).append(alert)
    found = {sid: _event_items(session, principal, alerts) for sid, alerts in by_student.items()}
    return {sid: items for sid, items in found.items() if items}


alert_links.register(links=screening_links, on_acknowledge=in_review)
