"""The admin's partner register: register and change a health partner (contacts encrypted,
SLAs), make an existing account its liaison (partner role scoped to it, second factor
required), and the working calendar (holidays and 调休 make-up days, district and partner)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from wellbeing.auth.mfa import mfa_required
from wellbeing.auth.models import Membership
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Role
from wellbeing.referrals.calendar import partner_calendar
from wellbeing.referrals.models import CalendarDay, HealthPartner

from ..conftest import login
from ..factories import make_school, make_user, staff_set


def _partner_form(**extra):  # type: ignore[no-untyped-def]
    return {
        "name": "市精神卫生中心", "kind": "hospital", "services": ["outpatient", "assessment"],
        "departments": "儿童青少年心理科\n心理评估室", "contacts": "电话：021-6000-0000\nemail: a@h.example",
        "ack_working_days": "2", "red_ack_hours": "4", "appointment_working_days": "5",
        "feedback_working_days": "10", "access_days": "30", "day_start": "08:00",
        "day_end": "17:00", "active": "y", **extra,
    }  # fmt: skip


def test_register_a_partner_and_its_liaison(client, db_session, env, audit_entries):
    staff = staff_set(db_session, env.settings, make_school(db_session))
    login(client, staff["admin"])
    assert client.get("/admin/partners/new").status_code == 200
    response = client.post("/admin/partners/new", data=_partner_form())
    assert response.status_code == 302
    partner = db_session.scalars(
        select(HealthPartner).where(HealthPartner.name == "市精神卫生中心")
    ).one()
    assert partner.services == ["assessment", "outpatient"]
    assert [d["name"] for d in partner.departments] == ["儿童青少年心理科", "心理评估室"]
    assert partner.contacts[0] == {"kind": "phone", "value": "021-6000-0000", "label": ""}
    assert partner.contacts[1]["kind"] == "email" and partner.day_start == "08:00"
    assert b"021-6000-0000" not in (partner.contacts_ct or b"")  # encrypted at rest
    assert audit_entries(AuditAction.PARTNER_CHANGE)
    # change it
    client.post(f"/admin/partners/{partner.id}", data=_partner_form(ack_working_days="3"))
    db_session.refresh(partner)
    assert partner.ack_working_days == 3
    html = client.get("/admin/partners").get_data(as_text=True)
    assert "市精神卫生中心" in html
    # a liaison: an existing account, scoped to this partner, second factor required
    user = make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=make_school(db_session))
    client.post(f"/admin/partners/{partner.id}/liaisons", data={"username": user.username})
    membership = db_session.scalars(
        select(Membership).where(Membership.user_id == user.id, Membership.role == Role.PARTNER)
    ).one()
    assert membership.partner_id == partner.id
    db_session.refresh(user)
    assert mfa_required(user)
    html = client.get(f"/admin/partners/{partner.id}").get_data(as_text=True)
    assert user.username in html
    # an unknown user name is refused with a message
    response = client.post(f"/admin/partners/{partner.id}/liaisons",
                           data={"username": "nobody-here"}, follow_redirects=True)  # fmt: skip
    assert "no account" in response.get_data(as_text=True)


def test_bad_partner_input_is_refused(client, db_session, env):
    staff = staff_set(db_session, env.settings, make_school(db_session))
    login(client, staff["admin"])
    response = client.post("/admin/partners/new", data=_partner_form(day_start="18:00"))
    assert response.status_code == 200  # shown again with the message
    html = response.get_data(as_text=True)
    # the real reason, not "Give working hours as HH:MM" (PartnerError is a ValueError too)
    assert "after they start" in html and "HH:MM" not in html
    assert (
        db_session.scalars(
            select(HealthPartner).where(
                HealthPartner.name == "市精神卫生中心", HealthPartner.day_start == "18:00"
            )
        ).first()
        is None
    )


def test_calendar_days_move_deadlines(client, db_session, env):
    staff = staff_set(db_session, env.settings, make_school(db_session))
    login(client, staff["admin"])
    client.post("/admin/partners/new", data=_partner_form(name="日历测试医院"))
    partner = db_session.scalars(
        select(HealthPartner).where(HealthPartner.name == "日历测试医院")
    ).one()
    holiday, makeup = dt.date(2027, 2, 8), dt.date(2027, 2, 20)  # a Monday, a Saturday
    client.post("/admin/partners/calendar",
                data={"day": holiday.isoformat(), "is_working_day": "0", "label": "春节"})  # fmt: skip
    client.post(f"/admin/partners/{partner.id}/calendar",
                data={"day": makeup.isoformat(), "is_working_day": "1", "label": "调休"})  # fmt: skip
    days = {(d.day, d.partner_id, d.is_working_day) for d in db_session.scalars(
        select(CalendarDay).where(CalendarDay.district_id == partner.district_id))}  # fmt: skip
    assert (holiday, None, False) in days and (makeup, partner.id, True) in days
    calendar = partner_calendar(db_session, partner)
    assert not calendar.is_working_day(holiday) and calendar.is_working_day(makeup)
    html = client.get("/admin/partners/calendar").get_data(as_text=True)
    assert "春节" in html
    client.post(f"/admin/partners/calendar/{holiday.isoformat()}/remove")
    calendar = partner_calendar(db_session, partner)
    assert calendar.is_working_day(holiday)
