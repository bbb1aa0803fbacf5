"""The review of provisional screening decisions: the queue a psychology teacher works through
(students whose tier a screening rule set provisionally, and answers held from a kiosk) and the
person's decision on one student.

What a decision did, in words, is written by a module above this one (the crisis module knows
who a rise to red alerted and who approves a step-down). So that the screening module does not
import upwards, that module *registers* its describer here (:func:`describe_decisions_with`)
when it is imported; the review page asks :func:`decision_message`. Without a registered
describer (the crisis module absent) a plain confirmation is shown.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..alerts.links import LinkedItem
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, can, ensure
from ..core.errors import NotFound
from ..db import utcnow
from ..risk.services import apply_tier
from ..students.chip import chip_fields
from ..students.models import Student
from . import queries
from .errors import ScreeningError
from .kiosk.held import HeldRow, pending
from .links import event_items_by_student
from .models import Response


class DecisionDescriber(Protocol):
    """(session, student, the decision or None, since) -> the confirmation shown to the person."""

    def __call__(
        self, session: Session, student: Student, decision: Any, *, since: dt.datetime
    ) -> str: ...


_describers: list[DecisionDescriber] = []


def describe_decisions_with(describer: DecisionDescriber) -> DecisionDescriber:
    """Register the function that words a tier decision's confirmation (the last one wins)."""
    _describers.append(describer)
    return describer


def decision_message(
    session: Session, student: Student, decision: Any, *, since: dt.datetime
) -> str:
    """What the decision did, in words (see the module's docstring)."""
    if _describers:
        return _describers[-1](session, student, decision, since=since)
    return _("Nothing was changed.") if decision is None else _("Saved.")


@dataclass
class ReviewPage:
    rows: list[queries.QueueRow]
    held: list[HeldRow]
    # The unresolved alert (and crisis) each student's screening raised, what the viewer may open.
    events: dict[uuid.UUID, list[LinkedItem]] = field(default_factory=dict)


def review_page(session: Session, actor: Principal) -> ReviewPage:
    """The students ``actor`` may decide tiers for with a provisional screening decision, and
    the held answers waiting for them; audited as one list of children."""
    school_ids = list(actor.school_ids(Role.PSYCH_TEACHER))
    rows = [
        r
        for r in queries.review_queue(session, school_ids)
        if can(actor, Permission.TIER_DECIDE, r.student)
    ]
    held = pending(session, actor)
    # What the page shows: the chip of each row (its tier in a column) and of each held answer.
    fields = {
        "tier",
        *chip_fields(actor, [r.student for r in rows], tier=False, prefix="student."),
        *chip_fields(actor, [h.student for h in held], prefix="student."),
        *(["screening.held_answers"] if held else []),
    }
    audit.record(session, AuditAction.SCREENING_LIST, object_type="review_queue", fields=fields,
                 detail={"students": [r.student.id for r in rows],
                         "held": [h.held.id for h in held]})  # fmt: skip
    events = event_items_by_student(session, actor, [r.student.id for r in rows])
    return ReviewPage(rows, held, events)


def student_to_decide(session: Session, actor: Principal, student_id: Any) -> Student:
    """The student whose decision ``actor`` reviews (NotFound, or Forbidden without the right)."""
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("This student does not exist."))
    ensure(actor, Permission.TIER_DECIDE, student)
    return student


def review_decision(
    session: Session,
    actor: Principal,
    student: Student,
    tier: int,
    reason: str,
    now: dt.datetime | None = None,
) -> Any:
    """Confirm or change a provisional screening decision (a person, with a written reason)."""
    ensure(actor, Permission.TIER_DECIDE, student)
    if not student.tier_provisional:
        raise ScreeningError(_l("This student has no provisional decision to review."))
    if not reason.strip():
        raise ScreeningError(_l("A written reason is required."))
    latest = session.scalar(
        select(Response.id)
        .where(Response.student_id == student.id)
        .order_by(Response.created_at.desc())
        .limit(1)
    )
    decision = apply_tier(session, actor, student, tier, source="screening", reason=reason,
                          provisional=False, source_id=latest, now=now)  # fmt: skip
    audit.record(session, AuditAction.TIER_CONFIRM, object_type="student", object_id=student.id,
                 student_id=student.id, school_id=student.school_id, fields=["tier"],
                 detail={"tier": tier, "via": "screening_review"})  # fmt: skip
    return decision


def review_and_describe(
    session: Session, actor: Principal, student: Student, tier: int, reason: str
) -> str:
    """:func:`review_decision`, then what it did in words (read back from what was written)."""
    started = utcnow()
    decision = review_decision(session, actor, student, tier, reason)
    return decision_message(session, student, decision, since=started)
