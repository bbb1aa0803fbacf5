"""Break-glass events, declared in ``audit`` (which owns the grant's table) because the
emitter, ``breakglass``, sits above its subscriber ``alerts``: both import from here."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import NamedTuple

from ..core.audit_models import BreakGlass
from ..core.events import Event


class BreakGlassStarted(NamedTuple):
    """Somebody opened a student's record by break-glass (emergency access).

    Emitted by ``breakglass``: ``services.start_break_glass`` after the grant is stored and
    the start audited, in the same transaction. ``alerts`` raises a ``break_glass`` alert for
    the other supervisors.

    - ``grant_id``: the ``break_glass`` grant (the alert's source).
    - ``user_id``: who broke the glass.
    - ``student_id``: whose record was opened.
    - ``expires_at``: when the grant ends.
    """

    grant_id: uuid.UUID
    user_id: uuid.UUID
    student_id: uuid.UUID
    expires_at: dt.datetime

    @classmethod
    def of(cls, grant: BreakGlass) -> BreakGlassStarted:
        return cls(grant.id, grant.user_id, grant.student_id, grant.expires_at)


BREAK_GLASS_STARTED: Event[BreakGlassStarted] = Event("break_glass_started", BreakGlassStarted)
