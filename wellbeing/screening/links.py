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
from collections.abc import Collection, Mapping, Sequence
from typing import TypeVar

from flask_babel import format_date, get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from ..alerts import links as alert_links
from ..alerts.links import LinkedItem, rows_by_id
from ..alerts.models import UNRESOLVED, Alert
from ..alerts.services import may_handle_many
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
    response = responses_of_alerts(session, [alert]).get(alert.id)
    return [response] if response is not None else []


def responses_of_alerts(session: Session, alerts: Sequence[Alert]) -> dict[uuid.UUID, Response]:
    """:func:`responses_of_alert` of many alerts (by alert id), in two queries at most."""
    decisions = rows_by_id(
        session, TierDecision,
        [a.source_id for a in alerts if a.kind == "red_tier" and a.source_id is not None],
    )  # fmt: skip
    response_ids: dict[uuid.UUID, uuid.UUID] = {}
    for alert in alerts:
        if alert.source_id is None:
            continue
        if alert.kind == "critical_item":
            response_ids[alert.id] = alert.source_id
        elif alert.kind == "red_tier":
            decision = decisions.get(alert.source_id)
            if decision is not None and decision.source == SOURCE and decision.source_id:
                response_ids[alert.id] = decision.source_id
    responses = rows_by_id(session, Response, response_ids.values())
    return {a: responses[r] for a, r in response_ids.items() if r in responses}


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


def screening_links(
    session: Session, principal: Principal, alerts: Sequence[Alert]
) -> dict[uuid.UUID, list[LinkedItem]]:
    """The response that raised each alert, for people who may read the student's screening."""
    responses = responses_of_alerts(session, alerts)
    students = rows_by_id(session, Student, [r.student_id for r in responses.values()])
    items: dict[uuid.UUID, list[LinkedItem]] = {}
    for alert_id, response in responses.items():
        student = students.get(response.student_id)
        if student is not None and can(principal, Permission.SCREENING_READ, student):
            items[alert_id] = [response_item(response)]
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
    return _event_items_of(session, principal, {None: alerts}).get(None, [])


Key = TypeVar("Key")


def _event_items_of(
    session: Session, principal: Principal, groups: Mapping[Key, list[Alert]]
) -> dict[Key, list[LinkedItem]]:
    """Per group of alerts: each alert (for people who may handle it), then what is linked to
    it (not the screening side: the page is the screening's), without repeats; the same
    queries whatever the number of alerts."""
    every = [alert for alerts in groups.values() for alert in alerts]
    handled = may_handle_many(session, principal, every)
    linked = alert_links.linked_items_of(session, principal, every)
    found: dict[Key, list[LinkedItem]] = {}
    for key, alerts in groups.items():
        items: list[LinkedItem] = []
        for alert in alerts:
            if alert.id in handled:
                items.append(alert_links.alert_item(alert))
            for item in linked[alert.id]:
                if item.kind != "screening" and item.id not in {i.id for i in items}:
                    items.append(item)
        found[key] = items
    return found


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
    found = _event_items_of(session, principal, by_student)
    return {sid: items for sid, items in found.items() if items}


alert_links.register(links=screening_links, on_acknowledge=in_review)
