"""The alerts module's events (declared here: nothing below ``alerts`` subscribes)."""

from __future__ import annotations

from typing import NamedTuple

from ..core.events import Event
from .models import Alert


class AlertRaised(NamedTuple):
    """A new alert was raised (not when a duplicate was absorbed by an unresolved one).

    Emitted by ``alerts``: ``services.raise_alert`` after the alert is stored and its first
    rung notified, and ``bulk.raise_many`` (per alert, loading them only when somebody
    subscribes; with ``emit_many``), in the raising transaction. ``crisis`` stores the alert on
    the student's open crisis that has none yet (``crisis.links.link_alerts``).

    - ``alert``: the stored alert (state ``open``, rung 0).
    """

    alert: Alert


ALERT_RAISED: Event[AlertRaised] = Event("alert_raised", AlertRaised)
