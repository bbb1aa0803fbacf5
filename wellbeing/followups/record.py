"""The follow-ups section of the growth record: a student's follow-ups, newest first, each
linking to what was recorded (the note itself only on the follow-up's own page, audited)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.models import User
from ..core.authz import Permission, Principal, can
from ..students.record import section
from .forms import OUTCOME_LABELS, SOURCE_LABELS
from .models import CANCELLED, STATE_LABELS, FollowUp

RECORD_LIMIT = 20
FIELDS = ["followup.due_at", "followup.state", "followup.outcome"]


@section("followups", order=60)
def followups_section(session: Session, principal: Principal, student: Any) -> Any:
    if not can(principal, Permission.RECORD_READ, student):
        return None
    rows = list(
        session.scalars(
            select(FollowUp)
            .where(FollowUp.student_id == student.id, FollowUp.state != CANCELLED)
            .order_by(FollowUp.due_at.desc())
            .limit(RECORD_LIMIT)
        )
    )
    if not rows:
        return None
    ids = {f.completed_by or f.owner_id for f in rows} - {None}
    names = dict(
        session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all()
    )
    context = {
        "rows": rows, "names": names, "outcomes": OUTCOME_LABELS, "states": STATE_LABELS,
        "sources": SOURCE_LABELS, "limit": RECORD_LIMIT,
    }  # fmt: skip
    return "followups/_record_section.html", context, FIELDS
