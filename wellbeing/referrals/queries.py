"""Read-only lookups for the referral pages, the partner portal, dashboards and the API.

Like every query module they neither audit nor write: the page or service that shows a
child's data records the read (``REFERRAL_VIEW`` with the names of the fields shown).

* :func:`partner_may_see` / :func:`partner_referrals`: the partner's scope: only referrals
  addressed to their organisation, in a state a partner sees, resting on consent that still
  holds or on an override, never after a cancellation or withdrawal, and only until the access
  expires (closed + the partner's ``access_days``). :func:`partner_withdrawn` lists the
  addressed referrals that were cancelled or withdrawn, by id and state only (the portal shows
  "withdrawn" and nothing else).
* :func:`centre_queue`: what the district centre must act on, most overdue first.
* :func:`open_by_state`, :func:`turnaround`: the district dashboard's figures.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..core.authz import Permission, Principal, Role, can
from ..db import utcnow
from . import consent
from .models import (
    OPEN_STATES,
    PARTNER_STATES,
    Appointment,
    Feedback,
    HealthPartner,
    Referral,
    ReferralEvent,
    ReferralState,
)
from .transitions import partner_access_open

S = ReferralState
# What the centre acts on (the rest waits for the school or the partner).
CENTRE_STATES = (S.SUBMITTED, S.ACCEPTED, S.DECLINED, S.MISSED, S.FEEDBACK)


def partner_ids(principal: Principal) -> frozenset[uuid.UUID]:
    """The organisations the principal is a liaison of."""
    return frozenset(
        s.partner_id for s in principal.scopes if s.role == Role.PARTNER and s.partner_id
    )


def partner_may_see(
    session: Session, principal: Principal, referral: Referral, now: dt.datetime | None = None
) -> bool:
    """May this liaison see this referral now (organisation, state, consent, expiry)?"""
    now = now or utcnow()
    if referral.partner_id is None or referral.partner_id not in partner_ids(principal):
        return False
    if not can(principal, Permission.PARTNER_REFERRALS, referral):
        return False
    if not partner_access_open(referral, now):
        return False
    if referral.override_at is not None:
        return True
    return consent.still_valid(
        session, referral.student_id, referral.consent_contact_id, consent.REFERRAL
    ) and consent.still_valid(
        session, referral.student_id, referral.sharing_contact_id, consent.SHARING
    )


def partner_referrals(
    session: Session, principal: Principal, now: dt.datetime | None = None, *, limit: int = 200
) -> list[Referral]:
    """The liaison's queue: what :func:`partner_may_see` allows, oldest deadline first."""
    now = now or utcnow()
    ids = partner_ids(principal)
    if not ids:
        return []
    rows = session.scalars(
        select(Referral)
        .where(
            Referral.partner_id.in_(ids),
            Referral.state.in_([str(s) for s in PARTNER_STATES]),
            or_(Referral.consent_contact_id.is_not(None), Referral.override_at.is_not(None)),
            or_(Referral.access_expires_at.is_(None), Referral.access_expires_at > now),
        )
        .order_by(Referral.due_at.is_(None), Referral.due_at, Referral.sent_at)
        .limit(limit)
    ).all()
    return [r for r in rows if partner_may_see(session, principal, r, now)]


def partner_withdrawn(
    session: Session, principal: Principal, *, limit: int = 50
) -> list[tuple[uuid.UUID, str]]:
    """(id, state) of referrals once addressed to the liaison's organisation and since
    cancelled or withdrawn: the portal shows that they were, and nothing of their content."""
    ids = partner_ids(principal)
    if not ids:
        return []
    rows = session.execute(
        select(Referral.id, Referral.state)
        .where(Referral.partner_id.in_(ids),
               Referral.state.in_([str(S.CANCELLED), str(S.WITHDRAWN)]),
               Referral.sent_at.is_not(None))
        .order_by(Referral.access_expires_at.desc()).limit(limit)
    ).all()  # fmt: skip
    return [(row[0], str(row[1])) for row in rows]


# --------------------------------------------------------------------------- one referral


def events_of(session: Session, referral_id: uuid.UUID) -> list[ReferralEvent]:
    return list(
        session.scalars(
            select(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.at, ReferralEvent.id)
        )
    )  # fmt: skip


def appointments_of(session: Session, referral_id: uuid.UUID) -> list[Appointment]:
    return list(
        session.scalars(
            select(Appointment).where(Appointment.referral_id == referral_id)
            .order_by(Appointment.created_at)
        )
    )  # fmt: skip


def feedback_of(session: Session, referral_id: uuid.UUID) -> Feedback | None:
    return session.scalars(select(Feedback).where(Feedback.referral_id == referral_id)).first()


def student_referrals(session: Session, student_id: uuid.UUID) -> list[Referral]:
    """A student's referrals, newest first (the record's section checks who may see them)."""
    return list(
        session.scalars(
            select(Referral).where(Referral.student_id == student_id)
            .order_by(Referral.created_at.desc())
        )
    )  # fmt: skip


def open_referral(session: Session, student_id: uuid.UUID) -> Referral | None:
    return session.scalars(
        select(Referral).where(Referral.student_id == student_id,
                               Referral.state.in_([str(s) for s in OPEN_STATES]))
        .order_by(Referral.created_at.desc()).limit(1)
    ).first()  # fmt: skip


# --------------------------------------------------------------------------- the centre


@dataclass(frozen=True)
class QueueRow:
    referral: Referral
    overdue: dt.timedelta | None  # how long past its deadline (None: not overdue)


def centre_queue(
    session: Session, district_id: uuid.UUID, now: dt.datetime, *, limit: int = 100
) -> list[QueueRow]:
    """What the centre acts on, most overdue first (earliest deadline), then without one."""
    rows = session.scalars(
        select(Referral)
        .where(Referral.district_id == district_id,
               Referral.state.in_([str(s) for s in CENTRE_STATES]))
        .order_by(Referral.due_at.is_(None), Referral.due_at, Referral.created_at)
        .limit(limit)
    ).all()  # fmt: skip
    return [
        QueueRow(r, now - r.due_at if r.due_at is not None and r.due_at < now else None)
        for r in rows
    ]


def school_referrals(
    session: Session, school_id: uuid.UUID, *, open_only: bool = True, limit: int = 200
) -> list[Referral]:
    stmt = select(Referral).where(Referral.school_id == school_id)
    if open_only:
        stmt = stmt.where(Referral.state.in_([str(s) for s in OPEN_STATES]))
    return list(session.scalars(stmt.order_by(Referral.created_at.desc()).limit(limit)))


def open_by_state(session: Session, district_id: uuid.UUID) -> dict[str, int]:
    """Open referrals of the district by state (every open state, zeros included)."""
    counts: dict[str, int] = dict(
        session.execute(  # type: ignore[arg-type] # rows of (state, count)
            select(Referral.state, func.count())
            .where(Referral.district_id == district_id,
                   Referral.state.in_([str(s) for s in OPEN_STATES]))
            .group_by(Referral.state)
        ).all()
    )  # fmt: skip
    return {str(s): int(counts.get(str(s), 0)) for s in OPEN_STATES}


@dataclass(frozen=True)
class Turnaround:
    """One partner's times, in hours: from sent to acknowledged, and to feedback."""

    partner_id: uuid.UUID
    name: str
    acknowledged: int
    ack_median: float | None
    ack_p90: float | None
    with_feedback: int
    feedback_median: float | None
    feedback_p90: float | None


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def turnaround(
    session: Session, district_id: uuid.UUID, *, since: dt.datetime | None = None
) -> list[Turnaround]:
    """Median and 90th percentile per partner (sent → acknowledged, sent → feedback)."""
    stmt = (
        select(HealthPartner.id, HealthPartner.name, Referral.sent_at, Referral.acknowledged_at,
               Referral.feedback_at)
        .join(Referral, Referral.partner_id == HealthPartner.id)
        .where(HealthPartner.district_id == district_id, Referral.sent_at.is_not(None))
    )  # fmt: skip
    if since is not None:
        stmt = stmt.where(Referral.sent_at >= since)
    acks: dict[uuid.UUID, list[float]] = {}
    feedback: dict[uuid.UUID, list[float]] = {}
    names: dict[uuid.UUID, str] = {}
    for partner_id, name, sent, acked, fed in session.execute(stmt):
        names[partner_id] = name
        acks.setdefault(partner_id, [])
        feedback.setdefault(partner_id, [])
        if acked is not None:
            acks[partner_id].append((acked - sent).total_seconds() / 3600)
        if fed is not None:
            feedback[partner_id].append((fed - sent).total_seconds() / 3600)
    return [
        Turnaround(
            pid,
            names[pid],
            len(acks[pid]),
            statistics.median(acks[pid]) if acks[pid] else None,
            percentile(acks[pid], 0.9),
            len(feedback[pid]),
            statistics.median(feedback[pid]) if feedback[pid] else None,
            percentile(feedback[pid], 0.9),
        )
        for pid in sorted(names, key=lambda p: names[p])
    ]
