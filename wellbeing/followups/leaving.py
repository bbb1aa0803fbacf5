"""The follow-ups of a student who left the school or graduated (``STUDENT_LEFT``).

The record is sealed, so nobody will see the student again: every follow-up not closed yet
(open or overdue, whatever its source: cadence, manual, plan, review) is **cancelled**, the
state machine's terminal state for "will not happen" (``done`` would claim the student was
seen). Each is audited as ``FOLLOWUP_CANCEL`` with ``reason: student_left``, by the system.
No new cadence follow-up follows: ``services.ensure_cadence`` schedules none for a student
who is not enrolled.

Imported by ``followups/services.py`` so the subscription is in place with the services.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..db import utcnow
from ..students.events import STUDENT_LEFT, StudentLeft
from .models import ACTIVE_STATES, CANCELLED, FOLLOWUP_STATES, FollowUp


def cancel_for_leaving(
    session: Session, left: StudentLeft, *, now: dt.datetime | None = None
) -> list[FollowUp]:
    """Cancel the student's open and overdue follow-ups; returns them."""
    followups = list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.student_id == left.student_id, FollowUp.state.in_(ACTIVE_STATES))
            .order_by(FollowUp.due_at, FollowUp.id)
        )
    )
    now = now or utcnow()
    for followup in followups:
        was = followup.state
        FOLLOWUP_STATES.move(followup, CANCELLED)
        followup.cancelled_at = now
        audit.record(
            session, AuditAction.FOLLOWUP_CANCEL, object_type="followup", object_id=followup.id,
            student_id=followup.student_id, school_id=followup.school_id,
            detail={"reason": "student_left", "source": followup.source, "from_state": was},
        )  # fmt: skip
    session.flush()
    return followups


def on_student_left(session: Session, left: StudentLeft) -> None:
    left.closed["followups"] += len(cancel_for_leaving(session, left))


STUDENT_LEFT.subscribe(on_student_left)
