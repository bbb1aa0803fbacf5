"""The partner's moves: acknowledge, decline, schedule an appointment, record attendance, write
feedback (see the table in :mod:`.services`)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.authz import Principal
from ..db import utcnow
from .models import FEEDBACK_FIELDS, Appointment, Feedback, Referral, ReferralState
from .moving import ReferralError, clean, guard, record_move

S = ReferralState


@dataclass
class FeedbackInput:
    summary: str
    assessment: str = ""
    for_school: str = ""
    for_family: str = ""
    next_appointment: str = ""
    return_advice: str = ""
    advises_return: bool = False


def acknowledge(
    session: Session, principal: Principal, referral_id: uuid.UUID, *,
    now: dt.datetime | None = None,
) -> Referral:  # fmt: skip
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.ACKNOWLEDGED, now)
    record_move(session, referral, S.ACKNOWLEDGED, actor, principal.user_id, now)
    return referral


def decline(
    session: Session, principal: Principal, referral_id: uuid.UUID, reason: str, *,
    now: dt.datetime | None = None,
) -> Referral:  # fmt: skip
    """The partner cannot take it: back to the centre, which may send it elsewhere."""
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.DECLINED, now)
    text = clean(reason, required=True, what=_l("why the referral is declined"))
    referral.declined_by = [*(referral.declined_by or []), str(referral.partner_id)]
    record_move(session, referral, S.DECLINED, actor, principal.user_id, now, reason=text)
    return referral


def schedule(
    session: Session,
    principal: Principal,
    referral_id: uuid.UUID,
    at: dt.datetime,
    *,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> Appointment:
    """The partner's appointment (a first one, or a new one after a missed one)."""
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.SCHEDULED, now)
    if at.tzinfo is None or at < now - dt.timedelta(days=1):
        raise ReferralError(_l("Give the date and time of an appointment to come."))
    text = clean(note, required=False, what="")
    appointment = Appointment(id=uuid.uuid4(), referral_id=referral.id, scheduled_for=at,
                              created_by=principal.user_id, created_at=now)  # fmt: skip
    if text:
        appointment.note = text
    session.add(appointment)
    referral.appointment_at = at
    record_move(session, referral, S.SCHEDULED, actor, principal.user_id, now,
            detail={"appointment": appointment.id})  # fmt: skip
    return appointment


def record_attendance(
    session: Session, principal: Principal, referral_id: uuid.UUID, attended: bool, *,
    now: dt.datetime | None = None,
) -> Referral:  # fmt: skip
    now = now or utcnow()
    target = S.ATTENDED if attended else S.MISSED
    referral, actor = guard(session, principal, referral_id, target, now)
    appointment = session.scalars(
        select(Appointment).where(Appointment.referral_id == referral.id)
        .order_by(Appointment.created_at.desc()).limit(1)
    ).first()  # fmt: skip
    if appointment is not None:
        appointment.attendance, appointment.recorded_at = str(target), now
    record_move(session, referral, target, actor, principal.user_id, now)
    return referral


def record_feedback(
    session: Session,
    principal: Principal,
    referral_id: uuid.UUID,
    data: FeedbackInput,
    *,
    now: dt.datetime | None = None,
) -> Feedback:
    """The partner's feedback to the school (all encrypted)."""
    now = now or utcnow()
    referral, actor = guard(session, principal, referral_id, S.FEEDBACK, now)
    texts = {name: clean(getattr(data, name), required=name == "summary",
                         what=_l("a summary")) for name in FEEDBACK_FIELDS}  # fmt: skip
    feedback = Feedback(id=uuid.uuid4(), referral_id=referral.id, author_id=principal.user_id,
                        created_at=now, advises_return=data.advises_return)  # fmt: skip
    for name, value in texts.items():
        setattr(feedback, name, value or None)
    session.add(feedback)
    record_move(session, referral, S.FEEDBACK, actor, principal.user_id, now,
            detail={"advises_return": data.advises_return})  # fmt: skip
    return feedback
