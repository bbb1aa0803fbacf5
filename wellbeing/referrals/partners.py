"""The partner register (admins): health partners, their liaisons and working calendars.

* :func:`save_partner` creates or changes a partner (name, kind, departments and services,
  contact channels (encrypted), SLAs, working hours, access days after closing, active);
* :func:`link_liaison` gives a user the ``partner`` role for one partner (the membership's
  ``partner_id``: the policy scopes the liaison to that organisation);
* :func:`set_calendar_day` / :func:`remove_calendar_day`: a public holiday or 调休 make-up
  working day of the district (every partner) or of one partner.
Every change is audited as ``PARTNER_CHANGE`` (field names, never values).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.admin import grant_membership
from ..auth.models import Membership, User
from ..core import audit
from ..core.audit import AuditAction
from ..core.authz import Permission, Principal, Role, ensure
from ..core.errors import DomainError, NotFound
from .calendar import CalendarError, parse_hhmm
from .models import PARTNER_KINDS, PARTNER_SERVICES, CalendarDay, HealthPartner

CONTACT_KINDS = ("phone", "email", "address", "fax")
CONTACT_KIND_LABELS = {
    "phone": _l("Telephone"),
    "email": _l("E-mail"),
    "address": _l("Address"),
    "fax": _l("Fax"),
}


class PartnerError(DomainError):
    code = "partner_refused"


@dataclass
class PartnerInput:
    name: str
    kind: str
    district_id: uuid.UUID
    services: list[str] = field(default_factory=list)
    departments: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, str]] = field(default_factory=list)
    ack_working_days: int = 2
    red_ack_hours: int = 4
    appointment_working_days: int = 5
    feedback_working_days: int = 10
    access_days: int = 30
    day_start: str = "08:30"
    day_end: str = "17:30"
    active: bool = True


def _check(data: PartnerInput) -> None:
    if not data.name.strip() or len(data.name) > 200:
        raise PartnerError(_l("Give the partner's name (at most 200 characters)."))
    if data.kind not in PARTNER_KINDS:
        raise PartnerError(_l("Choose whether it is a hospital or a clinic."))
    if any(s not in PARTNER_SERVICES for s in data.services):
        raise PartnerError(_l("Unknown service."))
    for department in data.departments:
        if not str(department.get("name", "")).strip():
            raise PartnerError(_l("Give each department a name."))
        if any(s not in PARTNER_SERVICES for s in department.get("services", [])):
            raise PartnerError(_l("Unknown service."))
    if any(c.get("kind") not in CONTACT_KINDS or not c.get("value") for c in data.contacts):
        raise PartnerError(_l("Give each contact channel a kind and a value."))
    for value, low, high in (
        (data.ack_working_days, 0, 30), (data.red_ack_hours, 1, 72),
        (data.appointment_working_days, 1, 60), (data.feedback_working_days, 1, 120),
        (data.access_days, 0, 365),
    ):  # fmt: skip
        if not low <= value <= high:
            raise PartnerError(_l("A time limit is out of range (%(low)s to %(high)s)."),
                               low=low, high=high)  # fmt: skip
    try:
        start, end = parse_hhmm(data.day_start), parse_hhmm(data.day_end)
    except (ValueError, CalendarError) as exc:
        raise PartnerError(_l("Give working hours as HH:MM.")) from exc
    if end <= start:  # outside the try: PartnerError is a ValueError too
        raise PartnerError(_l("Working hours must end after they start."))


def save_partner(
    session: Session,
    principal: Principal | None,
    data: PartnerInput,
    partner_id: uuid.UUID | None = None,
) -> HealthPartner:
    """Create (``partner_id`` None) or change a partner. ``principal`` None: the system (demo)."""
    if principal is not None:
        ensure(principal, Permission.PARTNERS_MANAGE)
    _check(data)
    if partner_id is None:
        partner = HealthPartner(id=uuid.uuid4(), district_id=data.district_id)
        session.add(partner)
    else:
        found = session.get(HealthPartner, partner_id)
        if found is None:
            raise NotFound(_l("There is no such health partner."))
        partner = found
    partner.name, partner.kind = data.name.strip(), data.kind
    partner.services = sorted(set(data.services))
    partner.departments = [
        {"name": str(d["name"]).strip()[:100], "services": sorted(set(d.get("services", [])))}
        for d in data.departments
    ]
    partner.contacts = [
        {"kind": c["kind"], "value": c["value"].strip()[:200], "label": c.get("label", "")[:60]}
        for c in data.contacts
    ]
    partner.ack_working_days, partner.red_ack_hours = data.ack_working_days, data.red_ack_hours
    partner.appointment_working_days = data.appointment_working_days
    partner.feedback_working_days, partner.access_days = (
        data.feedback_working_days,
        data.access_days,
    )
    partner.day_start, partner.day_end, partner.active = data.day_start, data.day_end, data.active
    session.flush()
    audit.record(
        session, AuditAction.PARTNER_CHANGE, object_type="health_partner", object_id=partner.id,
        fields=["contacts"], detail={"change": "created" if partner_id is None else "updated",
                                     "active": partner.active},
    )  # fmt: skip
    return partner


def link_liaison(
    session: Session, principal: Principal | None, user: User, partner: HealthPartner
) -> Membership:
    """Make ``user`` a liaison of ``partner`` (the ``partner`` role scoped to it)."""
    if principal is not None:
        ensure(principal, Permission.PARTNERS_MANAGE)
    membership = grant_membership(session, None, user, Role.PARTNER, partner_id=partner.id)
    audit.record(
        session, AuditAction.PARTNER_CHANGE, object_type="health_partner", object_id=partner.id,
        detail={"change": "liaison", "user": user.id},
    )  # fmt: skip
    return membership


def set_calendar_day(
    session: Session,
    principal: Principal | None,
    district_id: uuid.UUID,
    day: dt.date,
    is_working_day: bool,
    *,
    label: str = "",
    partner_id: uuid.UUID | None = None,
) -> CalendarDay:
    """Record a holiday (``is_working_day`` False) or a 调休 make-up working day (True) for
    the district or one partner; replaces the row for the same date."""
    if principal is not None:
        ensure(principal, Permission.PARTNERS_MANAGE)
    row = _calendar_row(session, district_id, day, partner_id)
    if row is None:
        row = CalendarDay(id=uuid.uuid4(), district_id=district_id, partner_id=partner_id, day=day)
        session.add(row)
    row.is_working_day, row.label = is_working_day, label.strip()[:60]
    session.flush()
    audit.record(
        session, AuditAction.PARTNER_CHANGE, object_type="calendar_day", object_id=row.id,
        detail={"change": "calendar", "day": day, "working": is_working_day,
                "partner": partner_id},
    )  # fmt: skip
    return row


def remove_calendar_day(
    session: Session,
    principal: Principal | None,
    district_id: uuid.UUID,
    day: dt.date,
    *,
    partner_id: uuid.UUID | None = None,
) -> bool:
    if principal is not None:
        ensure(principal, Permission.PARTNERS_MANAGE)
    row = _calendar_row(session, district_id, day, partner_id)
    if row is None:
        return False
    session.delete(row)
    audit.record(
        session, AuditAction.PARTNER_CHANGE, object_type="calendar_day", object_id=row.id,
        detail={"change": "calendar_removed", "day": day, "partner": partner_id},
    )  # fmt: skip
    return True


def _calendar_row(
    session: Session, district_id: uuid.UUID, day: dt.date, partner_id: uuid.UUID | None
) -> CalendarDay | None:
    stmt = select(CalendarDay).where(CalendarDay.district_id == district_id, CalendarDay.day == day)
    stmt = stmt.where(
        CalendarDay.partner_id.is_(None)
        if partner_id is None
        else CalendarDay.partner_id == partner_id
    )
    return session.scalars(stmt).first()


def partners_of(
    session: Session, district_id: uuid.UUID, *, active_only: bool = True
) -> list[HealthPartner]:
    """The district's partners, by name (for the centre's "send to" choice and the admin)."""
    stmt = select(HealthPartner).where(HealthPartner.district_id == district_id)
    if active_only:
        stmt = stmt.where(HealthPartner.active.is_(True))
    return list(session.scalars(stmt.order_by(HealthPartner.name)))
