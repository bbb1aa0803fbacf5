"""The admin's partner register (issue 15 item 1): health partners (name, kind, departments,
services, contact channels, SLAs, working hours), their liaison users (the ``partner`` role
scoped to the organisation; a second factor is required of that role), and the working
calendar (public holidays and 调休 make-up working days) of the district or one partner.

The routes are on the referral pages' blueprint (``views.bp``), added by :func:`register` (this
file does not import ``views``: no circle). Every change is a call of :mod:`.partners`
(audited there as ``PARTNER_CHANGE``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from ..auth.models import Membership, User
from ..auth.services import find_user
from ..core.authz import Permission, Principal, Role
from ..core.errors import DomainError, NotFound
from ..db import get_session
from ..orgs.models import District
from ..web import flash_error, require
from . import partners
from .forms import (
    ButtonForm,
    CalendarDayForm,
    LiaisonForm,
    PartnerForm,
    contacts_text,
    parse_contacts,
    parse_departments,
)
from .models import PARTNER_KIND_LABELS, PARTNER_SERVICE_LABELS, CalendarDay, HealthPartner

CALENDAR_LIMIT = 200


def _district_id(principal: Principal) -> uuid.UUID:
    ids = {s.district_id for s in principal.scopes if s.district_id is not None}
    if ids:
        return sorted(ids)[0]
    found = get_session().scalar(select(District.id).order_by(District.created_at).limit(1))
    if found is None:
        raise NotFound(_l("There is no district yet."))
    return found


def _partner(partner_id: uuid.UUID) -> HealthPartner:
    partner = get_session().get(HealthPartner, partner_id)
    if partner is None or partner.district_id != _district_id(g.principal):
        raise NotFound(_l("There is no such health partner."))
    return partner


def _input(form: PartnerForm, district_id: uuid.UUID) -> partners.PartnerInput:
    return partners.PartnerInput(
        name=form.name.data or "", kind=form.kind.data or "", district_id=district_id,
        services=list(form.services.data or []),
        departments=parse_departments(form.departments.data or ""),
        contacts=parse_contacts(form.contacts.data or ""),
        ack_working_days=form.ack_working_days.data or 0,
        red_ack_hours=form.red_ack_hours.data or 0,
        appointment_working_days=form.appointment_working_days.data or 0,
        feedback_working_days=form.feedback_working_days.data or 0,
        access_days=form.access_days.data or 0, day_start=form.day_start.data or "",
        day_end=form.day_end.data or "", active=bool(form.active.data),
    )  # fmt: skip


def _form_data(partner: HealthPartner) -> dict[str, Any]:
    return {
        "name": partner.name, "kind": partner.kind, "services": list(partner.services or []),
        "departments": "\n".join(d.get("name", "") for d in partner.departments or []),
        "contacts": contacts_text(partner.contacts or []),
        "ack_working_days": partner.ack_working_days, "red_ack_hours": partner.red_ack_hours,
        "appointment_working_days": partner.appointment_working_days,
        "feedback_working_days": partner.feedback_working_days,
        "access_days": partner.access_days, "day_start": partner.day_start,
        "day_end": partner.day_end, "active": partner.active,
    }  # fmt: skip


def partner_list() -> ResponseReturnValue:
    session = get_session()
    rows = partners.partners_of(session, _district_id(g.principal), active_only=False)
    counts: dict[uuid.UUID, int] = dict(
        session.execute(  # type: ignore[arg-type] # rows of (partner id, count)
            select(Membership.partner_id, func.count())
            .where(Membership.role == Role.PARTNER, Membership.partner_id.is_not(None))
            .group_by(Membership.partner_id)
        ).all()
    )
    return render_template("referrals/admin/partners.html", rows=rows, liaisons=counts,
                           kinds=PARTNER_KIND_LABELS)  # fmt: skip


def partner_edit(partner_id: uuid.UUID | None = None) -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    partner = _partner(partner_id) if partner_id is not None else None
    if request.method == "GET":
        form = PartnerForm(data=_form_data(partner)) if partner else PartnerForm(
            data={"ack_working_days": 2, "red_ack_hours": 4, "appointment_working_days": 5,
                  "feedback_working_days": 10, "access_days": 30, "day_start": "08:30",
                  "day_end": "17:30", "active": True, "kind": "hospital"})  # fmt: skip
    else:
        form = PartnerForm()
    if form.validate_on_submit():
        try:
            saved = partners.save_partner(session, principal, _input(form, _district_id(principal)),
                                          partner.id if partner else None)  # fmt: skip
        except DomainError as exc:
            flash_error(exc)
        else:
            flash(_("Health partner saved."), "success")
            return redirect(url_for("referrals.admin_partner", partner_id=saved.id))
    liaisons = _liaisons(partner) if partner else []
    return render_template(
        "referrals/admin/partner.html", form=form, partner=partner, liaisons=liaisons,
        liaison_form=LiaisonForm(), calendar_form=CalendarDayForm(), button=ButtonForm(),
        days=_days(partner.district_id, partner.id) if partner else [],
        services=PARTNER_SERVICE_LABELS,
    )  # fmt: skip


def _liaisons(partner: HealthPartner) -> list[User]:
    return list(
        get_session().scalars(
            select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.role == Role.PARTNER, Membership.partner_id == partner.id)
            .order_by(User.username)
        )
    )  # fmt: skip


def liaison_add(partner_id: uuid.UUID) -> ResponseReturnValue:
    session, principal = get_session(), g.principal
    partner = _partner(partner_id)
    form = LiaisonForm()
    if form.validate_on_submit():
        user = find_user(session, form.username.data or "")
        if user is None:
            flash(_("There is no account with that user name: create it under Users first."),
                  "error")  # fmt: skip
        else:
            try:
                partners.link_liaison(session, principal, user, partner)
            except DomainError as exc:
                flash_error(exc)
            else:
                flash(_("%(name)s is now a liaison of %(partner)s. A second factor is required "
                        "at the next sign-in.", name=user.display_name or user.username,
                        partner=partner.name), "success")  # fmt: skip
    return redirect(url_for("referrals.admin_partner", partner_id=partner.id))


def _days(district_id: uuid.UUID, partner_id: uuid.UUID | None) -> list[CalendarDay]:
    stmt = select(CalendarDay).where(CalendarDay.district_id == district_id)
    stmt = stmt.where(CalendarDay.partner_id.is_(None) if partner_id is None
                      else CalendarDay.partner_id == partner_id)  # fmt: skip
    return list(get_session().scalars(stmt.order_by(CalendarDay.day.desc()).limit(CALENDAR_LIMIT)))


def calendar() -> ResponseReturnValue:
    """The district's working calendar (every partner's, unless a partner has its own day)."""
    district_id = _district_id(g.principal)
    form = CalendarDayForm()
    if form.validate_on_submit() and _save_day(form, district_id, None):
        return redirect(url_for("referrals.admin_calendar"))
    return render_template("referrals/admin/calendar.html", form=form, button=ButtonForm(),
                           days=_days(district_id, None), today=dt.date.today())  # fmt: skip


def _save_day(form: CalendarDayForm, district_id: uuid.UUID, partner_id: uuid.UUID | None) -> bool:
    if form.day.data is None:
        return False
    try:
        partners.set_calendar_day(get_session(), g.principal, district_id, form.day.data,
                                  form.is_working_day.data == "1", label=form.label.data or "",
                                  partner_id=partner_id)  # fmt: skip
    except DomainError as exc:
        flash_error(exc)
        return False
    flash(_("Calendar day saved."), "success")
    return True


def partner_calendar(partner_id: uuid.UUID) -> ResponseReturnValue:
    partner = _partner(partner_id)
    form = CalendarDayForm()
    if form.validate_on_submit():
        _save_day(form, partner.district_id, partner.id)
    else:
        flash(_("Some fields need attention: nothing was changed."), "error")
    return redirect(url_for("referrals.admin_partner", partner_id=partner.id))


def calendar_remove(day: str) -> ResponseReturnValue:
    partner_id = request.args.get("partner")
    partner = _partner(uuid.UUID(partner_id)) if partner_id else None
    try:
        when = dt.date.fromisoformat(day)
    except ValueError as exc:
        raise NotFound(_l("There is no such day.")) from exc
    if ButtonForm().validate_on_submit():
        partners.remove_calendar_day(get_session(), g.principal, _district_id(g.principal), when,
                                     partner_id=partner.id if partner else None)  # fmt: skip
        flash(_("Calendar day removed."), "success")
    if partner is not None:
        return redirect(url_for("referrals.admin_partner", partner_id=partner.id))
    return redirect(url_for("referrals.admin_calendar"))


def register(bp: Blueprint) -> None:
    """Add the admin pages to the referral pages' blueprint."""
    manage = Permission.PARTNERS_MANAGE
    rules = (
        ("/admin/partners", "admin_partners", partner_list, ["GET"]),
        ("/admin/partners/new", "admin_partner_new", partner_edit, ["GET", "POST"]),
        ("/admin/partners/<uuid:partner_id>", "admin_partner", partner_edit, ["GET", "POST"]),
        ("/admin/partners/<uuid:partner_id>/liaisons", "admin_liaison_add", liaison_add,
         ["POST"]),
        ("/admin/partners/<uuid:partner_id>/calendar", "admin_partner_calendar",
         partner_calendar, ["POST"]),
        ("/admin/partners/calendar", "admin_calendar", calendar, ["GET", "POST"]),
        ("/admin/partners/calendar/<day>/remove", "admin_calendar_remove", calendar_remove,
         ["POST"]),
    )  # fmt: skip
    for rule, endpoint, view, methods in rules:
        bp.add_url_rule(rule, endpoint, require(manage)(view), methods=methods)
