"""In-process domain events, so modules react to each other without import cycles.

``tier_changed`` is emitted by the risk module after a student's tier changes (in the same
transaction); the follow-ups module subscribes to reset the cadence. Handlers run synchronously
in the emitter's transaction: an exception rolls the whole change back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

Handler = Callable[..., None]
_handlers: dict[str, list[Handler]] = defaultdict(list)

TIER_CHANGED = "tier_changed"  # (session, student, old_tier: int, new_tier: int, decision)
ALERT_RAISED = "alert_raised"  # (session, alert)
STUDENT_TRANSFERRED = "student_transferred"  # (session, student, old_school_id)
CRITICAL_RESPONSE = "critical_response"  # (session, student, response_id: uuid, instrument: str)
BREAK_GLASS_STARTED = "break_glass_started"  # (session, grant: BreakGlass)


def subscribe(event: str, handler: Handler) -> Handler:
    if handler not in _handlers[event]:
        _handlers[event].append(handler)
    return handler


def emit(event: str, *args: Any, **kwargs: Any) -> None:
    for handler in list(_handlers[event]):
        handler(*args, **kwargs)
