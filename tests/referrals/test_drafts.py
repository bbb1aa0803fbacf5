"""Drafts: who may start and change one, and what a draft may choose to share."""

from __future__ import annotations

import uuid

import pytest

from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden
from wellbeing.core.errors import NotFound
from wellbeing.referrals import services
from wellbeing.referrals.models import ReferralState

from .helpers import draft, make_world, walk_to

S = ReferralState


def _input(**extra):  # type: ignore[no-untyped-def]
    return services.ReferralInput(**{"reason": "需要专科评估", **extra})


def test_only_a_psychology_teacher_of_the_school_starts_one(db_session, env, audit_entries):
    world = make_world(db_session, env.settings)
    for role in ("leader", "centre", "class_teacher", "other_psych", "partner_a", "admin"):
        with pytest.raises(Forbidden):
            services.create_draft(db_session, world.people[role], world.student.id, _input())
    referral = services.create_draft(db_session, world.people["sender"], world.student.id, _input())
    assert referral.state == S.DRAFT and referral.version == 1
    [entry] = audit_entries(AuditAction.REFERRAL_CREATE)
    assert entry.object_id == str(referral.id) and "reason" in entry.fields
    with pytest.raises(NotFound):
        services.create_draft(db_session, world.people["sender"], uuid.uuid4(), _input())


@pytest.mark.parametrize(
    "bad", [{"reason": "  "}, {"urgency": "yesterday"}, {"responses": [uuid.uuid4()]},
            {"guardian": "aunt"}, {"reason": "长" * 4001}],
)  # fmt: skip
def test_bad_drafts_are_refused(db_session, env, bad):
    world = make_world(db_session, env.settings)
    with pytest.raises(services.ReferralError):
        services.create_draft(db_session, world.people["sender"], world.student.id, _input(**bad))


def test_a_draft_or_returned_referral_is_changed_by_the_sender_only(db_session, env):
    world = make_world(db_session, env.settings)
    referral = draft(db_session, world)
    services.update_draft(db_session, world.people["sender"], referral.id, _input(reason="新原因"))
    assert referral.reason == "新原因"
    with pytest.raises(Forbidden):
        services.update_draft(db_session, world.people["leader"], referral.id, _input())
    with pytest.raises(NotFound):  # the centre never saw a draft
        services.update_draft(db_session, world.people["centre"], referral.id, _input())
    returned = walk_to(db_session, world, S.RETURNED)
    services.update_draft(db_session, world.people["sender"], returned.id, _input(reason="补充"))
    submitted = walk_to(db_session, world, S.SUBMITTED)
    with pytest.raises(services.ReferralError):
        services.update_draft(db_session, world.people["sender"], submitted.id, _input())


def test_a_direct_send_is_for_the_red_tier_only(db_session, env):
    world = make_world(db_session, env.settings, tier=2)
    referral = draft(db_session, world)
    with pytest.raises(services.ReferralError):
        services.send(db_session, world.people["sender"], referral.id, world.partner_a.id)
    assert referral.state == S.DRAFT and referral.partner_id is None


def test_a_declining_partner_is_not_sent_it_again(db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.DECLINED)
    with pytest.raises(services.ReferralError):
        services.send(db_session, world.people["centre"], referral.id, world.partner_a.id)
    services.send(db_session, world.people["centre"], referral.id, world.partner_b.id)
    assert referral.state == S.SENT and referral.partner_id == world.partner_b.id
    assert referral.declined_by == [str(world.partner_a.id)]
