"""The crisis part of the growth record: the open crisis, past crises and the guardian
contacts (for those who manage crises)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..auth.names import user_names
from ..core.authz import Permission, Principal, can
from ..students.models import Student
from ..students.record import SectionResult, section
from .forms import (
    CHANNEL_LABELS,
    CONSENT_LABELS,
    CONSENT_PURPOSE_LABELS,
    OUTCOME_LABELS,
    RELATION_LABELS,
    STEP_LABELS,
)
from .guardian_log import guardian_contacts
from .models import STEPS, CrisisState
from .services import crises_of

FIELDS = ["guardian_contacts", "consent", "crisis", "closing_summary"]


@section("crisis", order=60)
def crisis_section(session: Session, principal: Principal, student: Student) -> SectionResult:
    if not can(principal, Permission.CRISIS_MANAGE, student):
        return None

    contacts = guardian_contacts(session, principal, student, audited=False)
    crises = crises_of(session, student.id)
    people = {c.closed_by_id for c, _ in crises} | {
        s.done_by_id for _, steps in crises for s in steps.values()
    }
    labels = {
        "relation": dict(RELATION_LABELS), "channel": dict(CHANNEL_LABELS), "step": STEP_LABELS,
        "outcome": dict(OUTCOME_LABELS), "consent": dict(CONSENT_LABELS),
        "purpose": dict(CONSENT_PURPOSE_LABELS),
    }  # fmt: skip
    context = {
        "contacts": contacts,
        # The open crisis (one at most) is among them: no second query.
        "crisis": next((c for c, _ in crises if c.state == CrisisState.OPEN), None),
        "crises": crises,
        "steps": STEPS,
        "names": user_names(session, people),
        "labels": labels,
    }
    return "crisis/section.html", context, FIELDS
