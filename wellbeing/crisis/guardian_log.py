"""The guardian-contact log: every contact with a guardian (in a crisis or not), with an
optional consent entry. Append-only: this module only adds rows; the consent state is derived
from them (:mod:`.consent`). Withdrawing consent emits ``CONSENT_WITHDRAWN`` (:mod:`.events`).
"""

from __future__ import annotations

import datetime as dt

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, ensure
from ..db import utcnow
from ..students.enrolment import ensure_not_sealed
from ..students.models import Student
from .errors import CrisisError, clean_text
from .events import CONSENT_WITHDRAWN, ConsentWithdrawn
from .models import (
    CHANNELS,
    CONSENT_PURPOSES,
    RELATIONS,
    ConsentDecision,
    Crisis,
    GuardianContact,
)


def _check_consent(purpose: str | None, decision: str | None) -> None:
    if not purpose and not decision:
        return
    if purpose not in CONSENT_PURPOSES:
        raise CrisisError(_l("Choose what the consent is for"))
    if decision not in tuple(ConsentDecision):
        raise CrisisError(_l("Choose whether consent was given, refused or withdrawn"))


def record_guardian_contact(
    session: Session,
    actor: Principal,
    student: Student,
    *,
    relation: str,
    channel: str,
    contacted_at: dt.datetime | None,
    summary: str | None,
    crisis: Crisis | None = None,
    consent_purpose: str | None = None,
    consent: str | None = None,
) -> GuardianContact:
    """Add one contact to the log (and its consent entry, if any), audited; a withdrawal emits
    ``CONSENT_WITHDRAWN`` in the same transaction."""
    ensure(actor, Permission.CRISIS_MANAGE, student)
    ensure_not_sealed(student)
    if relation not in RELATIONS:
        raise CrisisError(_l("Choose which guardian"))
    if channel not in CHANNELS:
        raise CrisisError(_l("Choose how the guardian was contacted"))
    if contacted_at is None or contacted_at.tzinfo is None:
        raise CrisisError(_l("Give the time of the contact"))
    if contacted_at > utcnow() + dt.timedelta(minutes=5):
        raise CrisisError(_l("The contact cannot be in the future"))
    consent_purpose, consent = consent_purpose or None, consent or None
    _check_consent(consent_purpose, consent)
    summary_text = clean_text(summary, "summary")
    if not summary_text:
        raise CrisisError(_l("Write what was said"))
    contact = GuardianContact(
        student_id=student.id, school_id=student.school_id, crisis_id=crisis.id if crisis else None,
        staff_id=actor.user_id, relation=relation, channel=channel, contacted_at=contacted_at,
        summary=summary_text, consent_purpose=consent_purpose, consent=consent,
    )  # fmt: skip
    session.add(contact)
    session.flush()
    detail: dict[str, object] = {
        "relation": relation, "channel": channel, "in_crisis": crisis is not None,
    }  # fmt: skip
    if consent:
        detail |= {"consent": consent, "purpose": consent_purpose}
    audit.record(
        session, AuditAction.GUARDIAN_CONTACT, object_type="guardian_contact", object_id=contact.id,
        student_id=student.id, school_id=student.school_id, fields=["summary"], detail=detail,
    )  # fmt: skip
    if consent == ConsentDecision.WITHDRAWN and consent_purpose:
        CONSENT_WITHDRAWN.emit(
            session,
            ConsentWithdrawn(
                student_id=student.id, school_id=student.school_id, relation=relation,
                purpose=consent_purpose, contact_id=contact.id, withdrawn_at=contacted_at,
                recorded_by_id=actor.user_id,
            ),
        )  # fmt: skip
    return contact


def guardian_contacts(
    session: Session, actor: Principal, student: Student, *, audited: bool = True
) -> list[GuardianContact]:
    """The student's log, latest first (audited as a read of the summaries unless the caller
    audits the page itself)."""
    ensure(actor, Permission.CRISIS_MANAGE, student)
    rows = list(
        session.scalars(
            select(GuardianContact).where(GuardianContact.student_id == student.id)
            .order_by(GuardianContact.contacted_at.desc(), GuardianContact.created_at.desc())
        )
    )  # fmt: skip
    if audited:
        audit.record(
            session, AuditAction.GUARDIAN_CONTACT_VIEW, object_type="student", object_id=student.id,
            student_id=student.id, school_id=student.school_id, fields=["summary", "consent"],
        )  # fmt: skip
    return rows
