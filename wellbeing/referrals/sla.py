"""The deadline of each milestone a referral waits for, in working time, and the overdue scan.

========================  ===============  =====================================================
waiting in state          milestone        deadline (from entering the state)
========================  ===============  =====================================================
submitted                 ``triage``       centre: :data:`TRIAGE_RED_HOURS` working hours (red
                                           tier or urgent), else :data:`TRIAGE_WORKING_DAYS`
                                           working days, by the district's calendar
accepted, declined        ``send``         centre: :data:`SEND_WORKING_DAYS` (district calendar)
sent                      ``acknowledge``  partner: ``red_ack_hours`` working hours (red tier or
                                           urgent) else ``ack_working_days``, partner's calendar
acknowledged, missed      ``appointment``  partner: ``appointment_working_days``
scheduled                 ``attendance``   partner: one working day after the appointment
attended                  ``feedback``     partner: ``feedback_working_days``
========================  ===============  =====================================================

The deadline is stored on the referral (``due_at``, ``due_milestone``, ``due_since``) at every
move, so the centre's queue sorts by it in SQL. :func:`scan_overdue` (the job) raises one
``referral_sla`` alert per overdue milestone through the alert ladder (the school's psychology
teachers first, then its leader, then the centre) and tells the centre at once.
"""

from __future__ import annotations

import datetime as dt
import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..alerts.services import raise_alert
from ..core import audit
from ..core.audit import AuditAction
from .calendar import WorkingCalendar, district_calendar, partner_calendar
from .models import HealthPartner, Referral, ReferralState
from .notices import SLA_KIND, tell

TRIAGE_WORKING_DAYS = 1
TRIAGE_RED_HOURS = 2
SEND_WORKING_DAYS = 1
MILESTONES = ("triage", "send", "acknowledge", "appointment", "attendance", "feedback")
MILESTONE_LABELS = {
    "triage": _l("Triage by the centre"),
    "send": _l("Sending to a partner"),
    "acknowledge": _l("Acknowledgement by the partner"),
    "appointment": _l("Appointment"),
    "attendance": _l("Recording attendance"),
    "feedback": _l("Feedback from the partner"),
}
S = ReferralState
WAITING_FOR = {
    S.SUBMITTED: "triage",
    S.ACCEPTED: "send",
    S.DECLINED: "send",
    S.SENT: "acknowledge",
    S.ACKNOWLEDGED: "appointment",
    S.MISSED: "appointment",
    S.SCHEDULED: "attendance",
    S.ATTENDED: "feedback",
}
SCAN_LIMIT = 500


def is_red(referral: Referral) -> bool:
    return referral.direct or referral.tier_at_submit == 3 or referral.urgency == "urgent"


def _partner(session: Session, referral: Referral) -> HealthPartner | None:
    return session.get(HealthPartner, referral.partner_id) if referral.partner_id else None


def deadline(
    session: Session, referral: Referral, since: dt.datetime
) -> tuple[str, dt.datetime] | None:
    """The milestone the referral now waits for and its deadline (None: nothing is due)."""
    milestone = WAITING_FOR.get(ReferralState(referral.state))
    if milestone is None:
        return None
    red = is_red(referral)
    if milestone in {"triage", "send"}:
        centre = district_calendar(session, referral.district_id)
        if milestone == "triage" and red:
            return milestone, centre.add_working_hours(since, TRIAGE_RED_HOURS)
        days = TRIAGE_WORKING_DAYS if milestone == "triage" else SEND_WORKING_DAYS
        return milestone, centre.add_working_days(since, days)
    partner = _partner(session, referral)
    if partner is None:
        return None
    calendar: WorkingCalendar = partner_calendar(session, partner)
    if milestone == "acknowledge":
        if red:
            return milestone, calendar.add_working_hours(since, partner.red_ack_hours)
        return milestone, calendar.add_working_days(since, partner.ack_working_days)
    if milestone == "appointment":
        return milestone, calendar.add_working_days(since, partner.appointment_working_days)
    if milestone == "attendance":
        return milestone, calendar.add_working_days(referral.appointment_at or since, 1)
    return milestone, calendar.add_working_days(since, partner.feedback_working_days)


def set_deadline(session: Session, referral: Referral, since: dt.datetime) -> None:
    """Store the deadline of what the referral waits for after a move at ``since``."""
    due = deadline(session, referral, since)
    referral.due_milestone, referral.due_at = due if due else (None, None)
    referral.due_since = since if due else None


def overdue_source(referral: Referral) -> uuid.UUID:
    """The alert's source: one per (referral, milestone start), so each overdue milestone
    raises its own alert (and a resolved one is not raised again)."""
    key = f"{referral.id}:{referral.due_milestone}:{referral.due_since}"
    return uuid.uuid5(uuid.NAMESPACE_URL, key)


def scan_overdue(session: Session, now: dt.datetime, limit: int = SCAN_LIMIT) -> int:
    """Raise a ``referral_sla`` alert for every open referral past its deadline that has not
    had one for this milestone; returns how many were raised."""
    rows = session.scalars(
        select(Referral)
        .where(
            Referral.state.in_([str(s) for s in WAITING_FOR]),
            Referral.due_at.is_not(None),
            Referral.due_at < now,
            or_(
                Referral.sla_alerted_since.is_(None),
                Referral.sla_alerted_since != Referral.due_since,
            ),
        )
        .order_by(Referral.due_at)
        .limit(limit)
    ).all()
    for referral in rows:
        alert = raise_alert(
            session, kind="referral_sla", school_id=referral.school_id,
            student_id=referral.student_id, source_id=overdue_source(referral),
            tier=3 if is_red(referral) else 2, now=now,
        )  # fmt: skip
        referral.sla_alerted_since = referral.due_since
        tell(session, referral, ("centre",), kind=SLA_KIND, ref=str(alert.id))
        audit.record(
            session, AuditAction.ALERT_CREATE, object_type="referral", object_id=referral.id,
            student_id=referral.student_id, school_id=referral.school_id,
            detail={"kind": "referral_sla", "milestone": referral.due_milestone,
                    "alert": alert.id},
            actor=audit.SYSTEM_ACTOR,
        )  # fmt: skip
    session.flush()
    return len(rows)


def overdue_by(referral: Referral, now: dt.datetime) -> dt.timedelta | None:
    """How long past its deadline the referral is (None when not overdue)."""
    if referral.due_at is None or referral.due_at >= now:
        return None
    return now - referral.due_at
