"""One event, one acknowledgement: what an alert is linked to, and what acknowledging it does.

A single urgent report produces a concern, an alert and a crisis; a screening result with a
critical answer, an alert and a crisis. The alert is the hub: the modules above ``alerts``
(``crisis``, ``concerns``) store the alert's id on their row (``crisis.alert_id``,
``concern.alert_id``; ``screening`` needs no column: the alert's ``source_id`` is the response,
or the tier decision whose ``source_id`` is) and register here, at import time,

- ``links(session, principal, alerts)``: their items linked to each of the alerts (by alert
  id), only those the viewer may open (the alert page, the crisis page and the concern page
  show them together; the review queue and the screening history list many alerts at once,
  hence one batch: a few queries per module whatever the number of alerts);
- ``on_acknowledge(session, principal, alert, now)``: what acknowledging the alert does to
  their items (the crisis's first checklist step, the concern marked seen), each audited by
  the module's own service in the acknowledging transaction; it returns what was done, in
  words (lazy texts), for the confirmation message (``screening`` moves nothing: the
  provisional tier waits for the person's decision; it says so).

``alerts`` cannot import those modules (they are above it in ``modules.MODULES``), hence the
registry rather than direct calls.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from sqlalchemy import inspect, select
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.util import identity_key

from ..core.authz import Principal
from ..core.rawsql import chunks
from ..core.states import state_label
from .models import Alert, AlertState


@dataclass(frozen=True)
class LinkedItem:
    """One thing linked to an alert, as a page lists it."""

    kind: str  # "alert", "crisis", "concern": the page's test id and icon
    id: uuid.UUID
    label: object  # what it is, in the reader's language (no name, no content)
    state: object  # its state as people read it
    endpoint: str  # the page that shows it (``url_for(endpoint, **args)``)
    args: Mapping[str, object] = field(default_factory=dict)


LinkProvider = Callable[[Session, Principal, Sequence[Alert]], Mapping[uuid.UUID, list[LinkedItem]]]
AckHook = Callable[[Session, Principal, Alert, dt.datetime], list[object]]

_LINKS: list[LinkProvider] = []
_ACK_HOOKS: list[AckHook] = []


def register(*, links: LinkProvider | None = None, on_acknowledge: AckHook | None = None) -> None:
    """Called once by a module above ``alerts`` when it is imported."""
    if links is not None and links not in _LINKS:
        _LINKS.append(links)
    if on_acknowledge is not None and on_acknowledge not in _ACK_HOOKS:
        _ACK_HOOKS.append(on_acknowledge)


def alert_item(alert: Alert) -> LinkedItem:
    return LinkedItem(
        "alert", alert.id, _l("Alert raised %(when)s", when=When(alert.raised_at)),
        state_label(AlertState(alert.state)), "alerts.detail", {"alert_id": alert.id},
    )  # fmt: skip


def linked_items(
    session: Session, principal: Principal, alert: Alert, *, exclude: uuid.UUID | None = None
) -> list[LinkedItem]:
    """Everything the modules linked to ``alert`` that the viewer may open (not ``exclude``,
    the page's own item)."""
    items = linked_items_of(session, principal, [alert])[alert.id]
    return [item for item in items if item.id != exclude]


def linked_items_of(
    session: Session, principal: Principal, alerts: Sequence[Alert]
) -> dict[uuid.UUID, list[LinkedItem]]:
    """:func:`linked_items` of many alerts at once (by alert id, in the modules' order): each
    module answers for all of them in one batch."""
    found: dict[uuid.UUID, list[LinkedItem]] = {alert.id: [] for alert in alerts}
    if not alerts:
        return found
    for provider in _LINKS:
        for alert_id, items in provider(session, principal, alerts).items():
            found[alert_id].extend(items)
    return found


M = TypeVar("M")


def rows_by_id(
    session: Session, model: type[M], ids: Collection[uuid.UUID | None]
) -> dict[uuid.UUID, M]:
    """The rows of ``model`` with these ids (what ``session.get`` gives for each, absent rows
    left out): those already in the session without a query, the others in one query per
    :data:`~wellbeing.core.rawsql.IN_CHUNK` ids."""
    found: dict[uuid.UUID, M] = {}
    missing: list[uuid.UUID] = []
    for row_id in {i for i in ids if i is not None}:
        loaded: Any = session.identity_map.get(identity_key(model, row_id))
        if loaded is not None:
            found[row_id] = loaded
        else:
            missing.append(row_id)
    mapper: Mapper[M] = inspect(model, raiseerr=True)
    for part in chunks(sorted(missing)):
        for row in session.scalars(select(model).where(mapper.primary_key[0].in_(part))):
            found[mapper.identity_key_from_instance(row)[1][0]] = row
    return found


def acknowledged(
    session: Session, principal: Principal, alert: Alert, now: dt.datetime
) -> list[object]:
    """Run every module's acknowledgement of its linked items; what each did, in words (lazy
    texts: they are rendered in the reader's language when shown)."""
    done: list[object] = []
    for hook in _ACK_HOOKS:
        done.extend(hook(session, principal, alert, now))
    return done


class When:
    """A time shown in the reader's time zone and language when the label is rendered."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __str__(self) -> str:
        return str(format_datetime(self.at, "short"))
