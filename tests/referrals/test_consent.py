"""Consent: what a referral rests on, the emergency override, and withdrawal cutting access."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from wellbeing.core.audit import AuditAction
from wellbeing.core.errors import NotFound
from wellbeing.core.states import IllegalTransition
from wellbeing.db import utcnow
from wellbeing.notify.models import Notice, OutboxMessage
from wellbeing.referrals import minimum, queries, services
from wellbeing.referrals.consent import ConsentMissing
from wellbeing.referrals.models import Referral, ReferralState
from wellbeing.referrals.notices import OVERRIDE_KIND

from .helpers import do, draft, give_consent, make_world, walk_to

S = ReferralState


def test_submitting_needs_the_guardians_consent(db_session, env):
    world = make_world(db_session, env.settings, consent=False)
    referral = draft(db_session, world)
    with pytest.raises(ConsentMissing) as refused:
        services.submit(db_session, world.people["sender"], referral.id)
    assert refused.value.status == 409
    assert referral.state == S.DRAFT and not referral.has_basis
    give_consent(db_session, world)
    services.submit(db_session, world.people["sender"], referral.id)
    assert referral.state == S.SUBMITTED and referral.consent_contact_id is not None
    assert referral.override_at is None


@pytest.mark.parametrize("later", ["refused", "withdrawn"])
def test_a_later_refusal_or_withdrawal_is_not_consent(db_session, env, later):
    world = make_world(db_session, env.settings, consent=False)
    give_consent(db_session, world, at=utcnow() - dt.timedelta(days=2))
    give_consent(db_session, world, decision=later, at=utcnow() - dt.timedelta(days=1))
    referral = draft(db_session, world)
    with pytest.raises(ConsentMissing):
        services.submit(db_session, world.people["sender"], referral.id)


def test_consent_older_than_the_policy_does_not_count(db_session, env):
    world = make_world(db_session, env.settings, consent=False)
    give_consent(db_session, world, at=utcnow() - dt.timedelta(days=366))
    referral = draft(db_session, world)
    with pytest.raises(ConsentMissing):
        services.submit(db_session, world.people["sender"], referral.id)


def test_sharing_screening_results_needs_consent_to_sharing(db_session, env):
    from .test_minimum import make_response

    world = make_world(db_session, env.settings)
    response = make_response(db_session, world)
    referral = draft(db_session, world, responses=[response.id])
    with pytest.raises(ConsentMissing):
        services.submit(db_session, world.people["sender"], referral.id)
    give_consent(db_session, world, "partner_sharing")
    services.submit(db_session, world.people["sender"], referral.id)
    assert referral.sharing_contact_id is not None


def test_an_override_is_for_red_tier_only(db_session, env):
    world = make_world(db_session, env.settings, tier=2, consent=False)
    referral = draft(db_session, world)
    with pytest.raises(services.ReferralError):
        services.submit(db_session, world.people["sender"], referral.id,
                        override_reason="监护人联系不上，学生有明确自杀计划")  # fmt: skip
    assert referral.state == S.DRAFT and referral.override_at is None


def test_an_override_is_recorded_as_an_override_and_alerts_the_leader(
    db_session, env, audit_entries
):
    world = make_world(db_session, env.settings, consent=False)
    referral = draft(db_session, world)
    services.submit(db_session, world.people["sender"], referral.id,
                    override_reason="监护人联系不上，学生有明确自杀计划")  # fmt: skip
    assert referral.state == S.SUBMITTED
    assert referral.consent_contact_id is None and referral.override_at is not None
    assert referral.override_by == world.users["sender"].id
    assert referral.override_reason == "监护人联系不上，学生有明确自杀计划"
    [entry] = audit_entries(AuditAction.REFERRAL_OVERRIDE)
    assert entry.fields == ["override_reason"]
    leader = world.users["leader"]
    notices = db_session.scalars(
        select(Notice).where(Notice.user_id == leader.id, Notice.kind == OVERRIDE_KIND)
    ).all()
    assert len(notices) == 1
    mails = db_session.scalars(
        select(OutboxMessage).where(OutboxMessage.user_id == leader.id,
                                    OutboxMessage.kind == OVERRIDE_KIND)
    ).all()  # fmt: skip
    assert len(mails) == 1
    assert world.student.name not in mails[0].body and world.student.name not in mails[0].subject
    assert "/referrals/" in mails[0].body


def test_an_override_lets_the_partner_see_it(db_session, env):
    world = make_world(db_session, env.settings, consent=False)
    referral = draft(db_session, world)
    services.send(db_session, world.people["sender"], referral.id, world.partner_a.id,
                  override_reason="凌晨送医，监护人在外地")  # fmt: skip
    assert referral.state == S.SENT and referral.direct
    partner = world.people["partner_a"]
    assert queries.partner_referrals(db_session, partner, utcnow()) == [referral]


def test_withdrawal_cancels_open_referrals_and_cuts_the_partners_access(
    db_session, env, audit_entries
):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SCHEDULED)
    partner = world.people["partner_a"]
    assert queries.partner_may_see(db_session, partner, referral, utcnow())
    give_consent(db_session, world, "referral", "withdrawn")
    db_session.refresh(referral)
    assert referral.state == S.CANCELLED
    assert referral.access_expires_at is not None and referral.access_expires_at <= utcnow()
    assert not queries.partner_may_see(db_session, partner, referral, utcnow())
    assert queries.partner_referrals(db_session, partner, utcnow()) == []
    assert queries.partner_withdrawn(db_session, partner) == [(referral.id, "cancelled")]
    with pytest.raises(NotFound):
        minimum.partner_view(db_session, partner, referral.id)
    assert audit_entries(AuditAction.REFERRAL_ACCESS_CUT)
    with pytest.raises(IllegalTransition):
        do(db_session, world, referral, "submit", "sender")


def test_withdrawing_sharing_consent_cancels_too(db_session, env):
    world = make_world(db_session, env.settings)
    give_consent(db_session, world, "partner_sharing")
    referral = walk_to(db_session, world, S.SENT)
    give_consent(db_session, world, "partner_sharing", "withdrawn")
    db_session.refresh(referral)
    assert referral.state == S.CANCELLED


def test_a_closed_referral_is_not_cancelled_but_consent_still_cuts_access(db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.CLOSED)
    partner = world.people["partner_a"]
    assert queries.partner_may_see(db_session, partner, referral, utcnow())
    give_consent(db_session, world, "referral", "withdrawn")
    db_session.refresh(referral)
    assert referral.state == S.CLOSED
    assert not queries.partner_may_see(db_session, partner, referral, utcnow())


def test_a_closed_referral_is_readable_until_its_access_expires(db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.CLOSED)
    partner = world.people["partner_a"]
    days = world.partner_a.access_days
    assert queries.partner_may_see(
        db_session, partner, referral, utcnow() + dt.timedelta(days=days - 1)
    )
    assert not queries.partner_may_see(
        db_session, partner, referral, utcnow() + dt.timedelta(days=days + 1)
    )


def test_other_referrals_are_untouched_by_another_students_withdrawal(db_session, env):
    world = make_world(db_session, env.settings)
    mine = walk_to(db_session, world, S.SUBMITTED)
    other = make_world(db_session, env.settings)
    give_consent(db_session, other, "referral", "withdrawn")
    db_session.refresh(mine)
    assert mine.state == S.SUBMITTED
    assert db_session.get(Referral, mine.id).state == S.SUBMITTED
