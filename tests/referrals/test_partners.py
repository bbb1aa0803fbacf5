"""The partner register: admins only, contacts encrypted, liaisons scoped to their partner,
calendar days per district or per partner."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden, Permission, Role, can
from wellbeing.referrals import partners
from wellbeing.referrals.calendar import partner_calendar

from .helpers import liaison, make_world


def _input(world, **extra):  # type: ignore[no-untyped-def]
    values = dict(name="市第六人民医院", kind="hospital", district_id=world.school.district_id,
                  services=["outpatient", "assessment"],
                  departments=[{"name": "儿童青少年精神科", "services": ["outpatient"]}],
                  contacts=[{"kind": "phone", "value": "021-6000-0000", "label": "联络员李医生"}])  # fmt: skip
    values.update(extra)
    return partners.PartnerInput(**values)


def test_only_an_admin_keeps_the_register(db_session, env, audit_entries):
    world = make_world(db_session, env.settings)
    for role in ("sender", "centre", "leader", "partner_a", "supervisor"):
        with pytest.raises(Forbidden):
            partners.save_partner(db_session, world.people[role], _input(world))
    partner = partners.save_partner(db_session, world.people["admin"], _input(world))
    assert partner.contacts[0]["value"] == "021-6000-0000"
    raw = db_session.execute(
        text("SELECT contacts_ct FROM health_partner WHERE id = :id"),
        {"id": partner.id if env.backend == "postgresql" else partner.id.hex},
    ).scalar()
    assert raw is not None and b"021-6000-0000" not in bytes(raw)
    [entry] = [
        e for e in audit_entries(AuditAction.PARTNER_CHANGE) if e.object_id == str(partner.id)
    ]
    assert entry.fields == ["contacts"]


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "pharmacy"},
        {"services": ["magic"]},
        {"name": " "},
        {"ack_working_days": 99},
        {"day_start": "18:00", "day_end": "08:00"},
        {"day_start": "nine"},
        {"contacts": [{"kind": "pigeon", "value": "x"}]},
    ],
)
def test_bad_input_is_refused(db_session, env, bad):
    world = make_world(db_session, env.settings)
    with pytest.raises(partners.PartnerError):
        partners.save_partner(db_session, world.people["admin"], _input(world, **bad))


def test_a_liaison_is_scoped_to_their_partner(db_session, env):
    world = make_world(db_session, env.settings)
    partner = partners.save_partner(db_session, world.people["admin"], _input(world))
    user = liaison(db_session, env.settings, partner)
    principal = build_principal(db_session, user)
    assert [s.partner_id for s in principal.scopes] == [partner.id]
    assert principal.roles == {Role.PARTNER}

    class Addressed:
        partner_id = partner.id

    class Elsewhere:
        partner_id = world.partner_a.id

    assert can(principal, Permission.PARTNER_REFERRALS, Addressed())
    assert not can(principal, Permission.PARTNER_REFERRALS, Elsewhere())


def test_calendar_days_per_district_and_per_partner(db_session, env):
    world = make_world(db_session, env.settings)
    district = world.school.district_id
    monday, saturday = dt.date(2026, 10, 5), dt.date(2026, 10, 10)
    partners.set_calendar_day(
        db_session, world.people["admin"], district, monday, False, label="国庆"
    )
    partners.set_calendar_day(
        db_session, world.people["admin"], district, saturday, True, label="调休"
    )
    partners.set_calendar_day(db_session, world.people["admin"], district, monday, True,
                              partner_id=world.partner_a.id, label="门诊照常")  # fmt: skip
    a, b = (
        partner_calendar(db_session, world.partner_a),
        partner_calendar(db_session, world.partner_b),
    )
    assert a.is_working_day(monday) and not b.is_working_day(monday)
    assert a.is_working_day(saturday) and b.is_working_day(saturday)
    # replacing the same date keeps one row
    partners.set_calendar_day(db_session, world.people["admin"], district, saturday, False)
    assert not partner_calendar(db_session, world.partner_b).is_working_day(saturday)
    assert partners.remove_calendar_day(db_session, world.people["admin"], district, saturday)
    assert not partners.remove_calendar_day(db_session, world.people["admin"], district, saturday)
    with pytest.raises(Forbidden):
        partners.set_calendar_day(db_session, world.people["centre"], district, monday, True)
