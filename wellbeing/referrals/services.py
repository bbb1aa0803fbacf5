"""Every change to a referral: one service call per move of :data:`.models.MOVES`.

Each move loads the referral (locked ``FOR UPDATE`` on PostgreSQL; the ``version`` column
refuses a stale write everywhere), checks the move (:func:`.transitions.check_move`: 404 / 409 /
403, nothing written), validates its input, then moves the state, stamps the milestone time,
stores the next deadline (:mod:`.sla`), writes a :class:`ReferralEvent`, audits
(``REFERRAL_MOVE``), emits ``REFERRAL_MOVED`` and tells the next actor (:mod:`.notices`).

========================  =====================================  ================================
service                   move                                   who
========================  =====================================  ================================
:func:`create_draft`,     (a new draft; edit it)                 sender
:func:`update_draft`
:func:`submit`            draft / returned → submitted           sender (consent or override)
:func:`accept`            submitted → accepted                   centre
:func:`return_to_school`  submitted / accepted / declined →      centre (reason)
                          returned
:func:`send`              accepted / declined → sent;            centre; sender for a red-tier
                          draft → sent (direct)                  student (centre told at once)
:func:`acknowledge`       sent → acknowledged                    partner
:func:`decline`           sent → declined                        partner (reason)
:func:`schedule`          acknowledged / missed → scheduled      partner
:func:`record_attendance` scheduled → attended | missed          partner
:func:`record_feedback`   attended → feedback                    partner
:func:`close`             feedback / declined / missed → closed  sender or centre (outcome)
:func:`withdraw`          before the partner acknowledges        sender (reason)
:func:`cancel_for_consent`  any open state → cancelled           system (CONSENT_WITHDRAWN)
========================  =====================================  ================================
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Forbidden, Permission, Principal, can, ensure
from ..core.errors import NotFound
from ..crisis.events import CONSENT_WITHDRAWN, ConsentWithdrawn
from ..db import utcnow
from ..risk.policy import district_of_school
from ..screening.models import Response
from ..students.models import Student
from . import consent, notices, queries
from . import followup as followup  # its REFERRAL_MOVED subscription (feedback → plan tasks)
from .models import (
    OPEN_STATES,
    OUTCOMES,
    URGENCIES,
    Actor,
    Appointment,
    Feedback,
    HealthPartner,
    Referral,
    ReferralEvent,
    ReferralState,
)
from .moving import ReferralConflict as ReferralConflict
from .moving import ReferralError as ReferralError
from .moving import clean, flush, guard, load, record_move, student_of
from .partner_moves import FeedbackInput as FeedbackInput
from .partner_moves import acknowledge as acknowledge
from .partner_moves import decline as decline
from .partner_moves import record_attendance as record_attendance
from .partner_moves import record_feedback as record_feedback
from .partner_moves import schedule as schedule
from .transitions import actors_of, may_read

S = ReferralState


@dataclass
class ReferralInput:
    """What the sender writes (shape checked by the form, rules by :func:`check_input`)."""

    reason: str  # for the partner
    internal_reason: str = ""  # for the school and the centre only
    urgency: str = "routine"
    responses: list[uuid.UUID] = field(default_factory=list)  # screening results to share
    answers: bool = False  # share the item answers of those responses too
    guardian: str | None = None  # which guardian's name and phone (a relation code)


# --------------------------------------------------------------------------- drafts


def _check_input(session: Session, student: Student, data: ReferralInput) -> dict[str, object]:
    if data.urgency not in URGENCIES:
        raise ReferralError(_l("Choose how urgent the referral is."))
    responses = sorted({str(r) for r in data.responses})
    if responses:
        found = set(
            session.scalars(
                select(Response.id).where(
                    Response.id.in_([uuid.UUID(r) for r in responses]),
                    Response.student_id == student.id,
                )
            )
        )
        if len(found) != len(responses):
            raise ReferralError(_l("Choose screening results of this student."))
    guardians = student.guardians or []
    if data.guardian and data.guardian not in {g.get("relation") for g in guardians}:
        raise ReferralError(_l("Choose one of the student's guardians."))
    return {"responses": responses, "answers": bool(data.answers and responses),
            "guardian": data.guardian or None}  # fmt: skip


def _fill(session: Session, referral: Referral, student: Student, data: ReferralInput) -> None:
    shared = _check_input(session, student, data)
    reason = clean(data.reason, required=True, what=_l("the reason for the partner"))
    internal = clean(data.internal_reason, required=False, what="")
    referral.shared, referral.urgency = shared, data.urgency
    referral.reason, referral.internal_reason = reason, internal or None


def create_draft(
    session: Session,
    principal: Principal,
    student_id: uuid.UUID,
    data: ReferralInput,
    *,
    now: dt.datetime | None = None,
) -> Referral:
    """A new draft referral of a student of the sender's school."""
    now = now or utcnow()
    student = session.get(Student, student_id)
    if student is None:
        raise NotFound(_l("There is no such student."))
    ensure(principal, Permission.REFERRALS_CREATE, student)
    district_id = district_of_school(session, student.school_id)
    if district_id is None:  # pragma: no cover - a foreign key
        raise NotFound(_l("There is no such student."))
    referral = Referral(
        id=uuid.uuid4(), student_id=student.id, school_id=student.school_id,
        district_id=district_id, created_by=principal.user_id, state=S.DRAFT, created_at=now,
        declined_by=[],
    )  # fmt: skip
    _fill(session, referral, student, data)
    session.add(referral)
    session.flush()
    audit.record(
        session, AuditAction.REFERRAL_CREATE, object_type="referral", object_id=referral.id,
        student_id=student.id, school_id=student.school_id,
        fields=["reason", "internal_reason", "shared"], detail={"urgency": referral.urgency},
    )  # fmt: skip
    return referral


def update_draft(
    session: Session,
    principal: Principal,
    referral_id: uuid.UUID,
    data: ReferralInput,
    *,
    now: dt.datetime | None = None,
) -> Referral:
    """Change a draft or a returned referral (the sender)."""
    now = now or utcnow()
    referral = load(session, principal, referral_id, now)
    if Actor.SENDER not in actors_of(principal, referral, now):
        raise Forbidden(Permission.REFERRALS_CREATE, referral, rule="referral_sender_only",
                        message=_l("Only a psychology teacher of the school may change it."))  # fmt: skip
    if referral.state not in (S.DRAFT, S.RETURNED):
        raise ReferralError(_l("Only a draft or a returned referral can be changed."))
    _fill(session, referral, student_of(session, referral), data)
    flush(session)
    audit.record(
        session, AuditAction.REFERRAL_UPDATE, object_type="referral", object_id=referral.id,
        student_id=referral.student_id, school_id=referral.school_id,
        fields=["reason", "internal_reason", "shared"],
    )  # fmt: skip
    return referral


# --------------------------------------------------------------------------- consent basis


def _basis(
    session: Session,
    principal: Principal,
    referral: Referral,
    student: Student,
    override_reason: str | None,
    now: dt.datetime,
) -> bool:
    """Record the consent basis, or the emergency override; True when it is an override."""
    try:
        basis = consent.require_consent(session, student, referral.shared, now)
    except consent.ConsentMissing:
        if not override_reason or not override_reason.strip():
            raise
        if student.tier != 3:
            raise ReferralError(
                _l("An emergency override is only for a student at the red (crisis) tier.")
            ) from None
        reason = clean(override_reason, required=True, what=_l("why there is no consent"))
        referral.consent_contact_id = referral.sharing_contact_id = None
        referral.override_reason, referral.override_by, referral.override_at = (
            reason,
            principal.user_id,
            now,
        )
        return True
    referral.consent_contact_id = basis.referral_contact_id
    referral.sharing_contact_id = basis.sharing_contact_id
    referral.override_reason = referral.override_by = referral.override_at = None
    return False


def _after_override(session: Session, referral: Referral, event: ReferralEvent) -> None:
    audit.record(
        session, AuditAction.REFERRAL_OVERRIDE, object_type="referral", object_id=referral.id,
        student_id=referral.student_id, school_id=referral.school_id, fields=["override_reason"],
        detail={"event": event.id},
    )  # fmt: skip
    notices.tell(session, referral, (notices.LEADER,), kind=notices.OVERRIDE_KIND,
                 ref=str(event.id))  # fmt: skip


# --------------------------------------------------------------------------- the moves


def submit(
    session: Session,
    principal: Principal,
    referral_id: uuid.UUID,
    *,
    override_reason: str | None = None,
    now: dt.datetime | None = None,
) -> Referral:
    """Send the referral to the district centre (consent, or an override for a red tier)."""
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.SUBMITTED, now)
    student = student_of(session, referral)
    overridden = _basis(session, principal, referral, student, override_reason, now)
    referral.tier_at_submit = student.tier
    student.district_involved = True
    event = record_move(session, referral, S.SUBMITTED, actor, principal.user_id, now)
    if overridden:
        _after_override(session, referral, event)
    return referral


def accept(
    session: Session, principal: Principal, referral_id: uuid.UUID, *,
    now: dt.datetime | None = None,
) -> Referral:  # fmt: skip
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.ACCEPTED, now)
    record_move(session, referral, S.ACCEPTED, actor, principal.user_id, now)
    return referral


def return_to_school(
    session: Session, principal: Principal, referral_id: uuid.UUID, reason: str, *,
    now: dt.datetime | None = None,
) -> Referral:  # fmt: skip
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.RETURNED, now)
    text = clean(reason, required=True, what=_l("why it goes back to the school"))
    record_move(session, referral, S.RETURNED, actor, principal.user_id, now, reason=text)
    return referral


def send(
    session: Session,
    principal: Principal,
    referral_id: uuid.UUID,
    partner_id: uuid.UUID,
    *,
    override_reason: str | None = None,
    now: dt.datetime | None = None,
) -> Referral:
    """Address the referral to a partner: the centre (accepted or declined), or the sender
    straight from a draft for a red-tier student (consent or override as for submitting;
    the centre is told at once)."""
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.SENT, now)
    partner = session.get(HealthPartner, partner_id)
    if partner is None or not partner.active or partner.district_id != referral.district_id:
        raise ReferralError(_l("Choose an active health partner of the district."))
    if str(partner.id) in (referral.declined_by or []):
        raise ReferralError(_l("This partner has declined the referral: choose another."))
    student = student_of(session, referral)
    direct = referral.state == S.DRAFT
    overridden = False
    if direct:
        if student.tier != 3:
            raise ReferralError(
                _l("Only a student at the red (crisis) tier may be referred straight to a "
                   "partner; submit the referral to the centre instead.")
            )  # fmt: skip
        overridden = _basis(session, principal, referral, student, override_reason, now)
        referral.tier_at_submit, referral.direct, referral.submitted_at = student.tier, True, now
        student.district_involved = True
    elif not _basis_holds(session, referral):
        raise consent.ConsentMissing(_l("The guardian's consent no longer holds."))
    referral.partner_id, referral.access_expires_at = partner.id, None
    event = record_move(session, referral, S.SENT, actor, principal.user_id, now,
                    extra=(Actor.CENTRE,) if direct else (), detail={"direct": direct})  # fmt: skip
    if overridden:
        _after_override(session, referral, event)
    return referral


def _basis_holds(session: Session, referral: Referral) -> bool:
    if referral.override_at is not None:
        return True
    return consent.still_valid(
        session, referral.student_id, referral.consent_contact_id, consent.REFERRAL
    ) and consent.still_valid(
        session, referral.student_id, referral.sharing_contact_id, consent.SHARING
    )


def close(
    session: Session, principal: Principal, referral_id: uuid.UUID, outcome: str, *,
    reason: str | None = None, now: dt.datetime | None = None,
) -> Referral:  # fmt: skip
    """Close with an outcome; the partner keeps reading it for its ``access_days``."""
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.CLOSED, now)
    if outcome not in OUTCOMES:
        raise ReferralError(_l("Choose the outcome of the referral."))
    text = clean(reason, required=False, what="")
    referral.outcome = outcome
    partner = session.get(HealthPartner, referral.partner_id) if referral.partner_id else None
    referral.access_expires_at = now + dt.timedelta(days=partner.access_days if partner else 0)
    record_move(session, referral, S.CLOSED, actor, principal.user_id, now, reason=text or None,
            detail={"outcome": outcome})  # fmt: skip
    return referral


def withdraw(
    session: Session, principal: Principal, referral_id: uuid.UUID, reason: str, *,
    now: dt.datetime | None = None,
) -> Referral:  # fmt: skip
    """The sender takes the referral back before the partner acknowledged it."""
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.WITHDRAWN, now)
    text = clean(reason, required=True, what=_l("why the referral is withdrawn"))
    referral.access_expires_at = now
    record_move(session, referral, S.WITHDRAWN, actor, principal.user_id, now, reason=text)
    return referral


def cancel_for_consent(session: Session, payload: ConsentWithdrawn) -> list[Referral]:
    """``CONSENT_WITHDRAWN`` (either purpose): cancel the student's open referrals and end the
    partner's access at once (the subscriber; runs in the transaction of the contact)."""
    if payload.purpose not in consent.PURPOSES:
        return []
    referrals = list(
        session.scalars(
            select(Referral).where(Referral.student_id == payload.student_id,
                                   Referral.state.in_([str(s) for s in OPEN_STATES]))
            .with_for_update()
        )
    )  # fmt: skip
    now = utcnow()
    for referral in referrals:
        referral.access_expires_at = now
        record_move(session, referral, S.CANCELLED, Actor.SYSTEM, payload.recorded_by_id, now,
                detail={"contact": payload.contact_id, "purpose": payload.purpose})  # fmt: skip
        audit.record(
            session, AuditAction.REFERRAL_ACCESS_CUT, object_type="referral",
            object_id=referral.id, student_id=referral.student_id, school_id=referral.school_id,
            detail={"partner": referral.partner_id}, actor=audit.SYSTEM_ACTOR,
        )  # fmt: skip
    return referrals


def on_consent_withdrawn(session: Session, payload: ConsentWithdrawn) -> None:
    cancel_for_consent(session, payload)


CONSENT_WITHDRAWN.subscribe(on_consent_withdrawn)


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class ReferralView:
    """A referral as the school and the centre read it (partners read ``minimum``)."""

    referral: Referral
    student: Student
    actors: frozenset[Actor]  # what the reader may do with it (empty: a leader who only reads)
    events: list[ReferralEvent]
    appointments: list[Appointment]
    feedback: Feedback | None


STAFF_FIELDS = ["reason", "internal_reason", "override_reason", "shared", "events.reason",
                "appointments.note", "feedback"]  # fmt: skip


def read_referral(
    session: Session, principal: Principal, referral_id: uuid.UUID, *,
    now: dt.datetime | None = None,
) -> ReferralView:  # fmt: skip
    """The whole referral for the sender, the centre and the school's leaders, audited
    (``REFERRAL_VIEW`` naming the fields shown). A partner liaison gets ``NotFound`` here: they
    read :func:`.minimum.partner_view`, the minimum dataset only."""
    now = now or utcnow()
    referral = session.get(Referral, referral_id)
    if referral is None or not may_read(principal, referral, now):
        raise NotFound(_l("There is no such referral."))
    actors = actors_of(principal, referral, now)
    if actors <= {Actor.PARTNER} and not can(principal, Permission.REFERRALS_READ, referral):
        raise NotFound(_l("There is no such referral."))
    view = ReferralView(
        referral, student_of(session, referral), actors - {Actor.PARTNER},
        queries.events_of(session, referral.id), queries.appointments_of(session, referral.id),
        queries.feedback_of(session, referral.id),
    )  # fmt: skip
    audit.record(
        session, AuditAction.REFERRAL_VIEW, object_type="referral", object_id=referral.id,
        student_id=referral.student_id, school_id=referral.school_id, fields=STAFF_FIELDS,
        detail={"view": "staff", "students": [referral.student_id]},
    )  # fmt: skip
    return view
