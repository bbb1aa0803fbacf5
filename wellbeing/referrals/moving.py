"""The mechanics every move shares: loading a referral for a move (locked, or 404), checking
the move against the table (:mod:`.transitions`), and recording it (state, milestone time,
deadline, history row, audit entry, event, notices). The moves themselves are in
:mod:`.services` (school and centre) and :mod:`.partner_moves` (the partner's)."""

from __future__ import annotations

import datetime as dt
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Principal
from ..core.errors import DomainError, NotFound
from ..students.models import Student
from . import notices, sla
from .events import REFERRAL_MOVED, ReferralMoved
from .models import MAX_TEXT, REFERRAL_STATES, Actor, Referral, ReferralEvent, ReferralState
from .transitions import actors_of, check_move, may_read

S = ReferralState


class ReferralError(DomainError):
    code = "referral_refused"


class ReferralConflict(DomainError):
    """Someone else changed the referral between reading and writing it."""

    code = "referral_conflict"
    status = 409


def clean(text: str | None, *, required: bool, what: object) -> str:
    value = (text or "").strip()
    if required and not value:
        raise ReferralError(_l("Write %(what)s."), what=what)
    if len(value) > MAX_TEXT:
        raise ReferralError(_l("The text is longer than %(n)s characters."), n=MAX_TEXT)
    return value


# --------------------------------------------------------------------------- loading


def load(
    session: Session, principal: Principal, referral_id: uuid.UUID, now: dt.datetime
) -> Referral:
    """The referral, locked for the move; ``NotFound`` when the person may not see it."""
    referral = session.scalars(
        select(Referral).where(Referral.id == referral_id).with_for_update()
        .execution_options(populate_existing=True)
    ).first()  # fmt: skip
    if referral is None or not may_read(principal, referral, now):
        raise NotFound(_l("There is no such referral."))
    return referral


def student_of(session: Session, referral: Referral) -> Student:
    student = session.get(Student, referral.student_id)
    if student is None:  # pragma: no cover - a foreign key
        raise NotFound(_l("There is no such student."))
    return student


def guard(
    session: Session, principal: Principal, referral_id: uuid.UUID, target: S, now: dt.datetime
) -> tuple[Referral, Actor]:
    referral = load(session, principal, referral_id, now)
    actor = check_move(referral, target, actors_of(principal, referral, now))
    return referral, actor


# --------------------------------------------------------------------------- moving

STAMPS = {
    S.SUBMITTED: "submitted_at", S.ACCEPTED: "accepted_at", S.SENT: "sent_at",
    S.ACKNOWLEDGED: "acknowledged_at", S.ATTENDED: "attended_at", S.MISSED: "missed_at",
    S.FEEDBACK: "feedback_at", S.CLOSED: "closed_at",
}  # fmt: skip


def flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError as exc:
        raise ReferralConflict(
            _l("Someone else changed this referral a moment ago: open it again.")
        ) from exc


def record_move(
    session: Session,
    referral: Referral,
    target: S,
    actor: Actor,
    by_id: uuid.UUID | None,
    now: dt.datetime,
    *,
    reason: str | None = None,
    extra: tuple[str, ...] = (),
    detail: dict[str, object] | None = None,
) -> ReferralEvent:
    before = str(referral.state)
    REFERRAL_STATES.move(referral, target)
    if target in STAMPS:
        setattr(referral, STAMPS[target], now)
    sla.set_deadline(session, referral, now)
    flush(session)
    event = ReferralEvent(
        id=uuid.uuid4(), referral_id=referral.id, from_state=before, to_state=str(target),
        by_id=by_id, actor=str(actor), at=now, partner_id=referral.partner_id,
    )  # fmt: skip
    if reason:
        event.reason = reason
    session.add(event)
    session.flush()
    audit.record(
        session, AuditAction.REFERRAL_MOVE, object_type="referral", object_id=referral.id,
        student_id=referral.student_id, school_id=referral.school_id,
        fields=["reason"] if reason else [],
        detail={"from": before, "to": str(target), "actor": str(actor),
                "partner": referral.partner_id, "event": event.id, **(detail or {})},
        actor=audit.SYSTEM_ACTOR if actor == Actor.SYSTEM else None,
    )  # fmt: skip
    REFERRAL_MOVED.emit(
        session,
        ReferralMoved(referral.id, referral.student_id, referral.school_id, before, str(target),
                      str(actor), by_id, event.id, now),
    )  # fmt: skip
    notices.tell_next(session, referral, event, extra=extra)
    return event
