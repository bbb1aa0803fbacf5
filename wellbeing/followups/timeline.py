"""The follow-ups part of the growth-record timeline: each follow-up with its state, who owns
or completed it and the outcome (the note itself only on the follow-up's page, audited)."""

from __future__ import annotations

import datetime as dt

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.authz import Principal
from ..students.models import Student
from ..students.timeline import TimelineItem, names_of, newest
from .forms import OUTCOME_LABELS, SOURCE_LABELS
from .models import STATE_LABELS, FollowUp, FollowUpState

KINDS = {"followup": _l("Follow-ups")}


def items(
    session: Session, principal: Principal, student: Student,
    since: dt.datetime | None, until: dt.datetime | None,
) -> list[TimelineItem]:  # fmt: skip
    rows = newest(session, FollowUp, FollowUp.due_at, student, since, until)
    names = names_of(session, {r.completed_by or r.owner_id for r in rows})
    found = []
    for row in rows:
        lines = [
            str(_l("State: %(state)s", state=STATE_LABELS[FollowUpState(row.state)])),
            str(_l("Source: %(source)s", source=SOURCE_LABELS.get(row.source, _l("Other")))),
        ]
        if row.outcome:
            outcome = OUTCOME_LABELS.get(row.outcome, _l("Other"))
            lines.append(str(_l("Outcome: %(outcome)s", outcome=outcome)))
        found.append(
            TimelineItem(
                at=row.due_at, kind="followup", title=str(_l("Follow-up")), lines=tuple(lines),
                actor=names.get(row.completed_by or row.owner_id),
                url=url_for("followups.detail", followup_id=row.id),
            )
        )  # fmt: skip
    return found
