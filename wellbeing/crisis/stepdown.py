"""Approving a step-down from red settles the student's open crisis: the approver closes it
(with a closing summary; the approved tier is its confirmed tier) or keeps it open."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, ensure
from ..risk.models import TierDecision
from ..risk.services import TierError
from ..risk.services import approve_stepdown as approve
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from .models import Crisis
from .services import (
    CrisisError,
    clean_text,
    close_crisis,
    crisis_for_student,
    missing_steps,
    steps_of,
)

CRISIS_ACTIONS = ("close", "keep_open")


@dataclass(frozen=True)
class StepdownApproval:
    """What approving a step-down did: the decision, and the open crisis it closed or kept."""

    decision: object
    crisis: Crisis | None
    closed: bool


def approve_stepdown(
    session: Session,
    actor: Principal,
    decision_id: uuid.UUID,
    *,
    crisis_action: str | None,
    summary: str | None = None,
    now: dt.datetime | None = None,
) -> StepdownApproval:
    """Approve a pending step-down from red (``risk.services.approve_stepdown``) and settle
    the student's open crisis as the approver chose: ``close`` it with a closing summary (the
    approved tier is the confirmed tier) or ``keep_open``. Every check runs before anything is
    written, so a refused close leaves the step-down pending."""
    decision = session.get(TierDecision, decision_id)
    if decision is None:
        raise TierError(_l("no such step-down request"))
    student = session.get(Student, decision.student_id)
    ensure(actor, Permission.TIER_APPROVE_STEPDOWN, student)
    ensure_not_sealed(student)
    crisis = crisis_for_student(session, decision.student_id)
    if crisis is not None:
        if crisis_action not in CRISIS_ACTIONS:
            raise CrisisError(_l("Say what happens to the open crisis: close it or keep it open"))
        if crisis_action == "close":
            ensure(actor, Permission.CRISIS_MANAGE, student)
            if missing_steps(steps_of(session, crisis)):
                raise CrisisError(
                    _l("The crisis cannot be closed yet: its checklist is not complete. Keep it "
                       "open, or complete the checklist first")
                )  # fmt: skip
            if not clean_text(summary, "summary"):
                raise CrisisError(_l("Write the closing summary"))
    approve(session, actor, decision, now=now)
    closed = crisis is not None and crisis_action == "close"
    if crisis is not None and closed:
        close_crisis(
            session, actor, crisis, summary=summary, tier=decision.to_tier, confirmed=True,
            now=now,
        )  # fmt: skip
    return StepdownApproval(decision, crisis, closed)
