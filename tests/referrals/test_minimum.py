"""The minimum dataset: exactly the chosen fields, nothing else, to the addressee only."""

from __future__ import annotations

import datetime as dt

import pytest

from wellbeing.core.audit import AuditAction
from wellbeing.core.errors import NotFound
from wellbeing.db import utcnow
from wellbeing.referrals import minimum
from wellbeing.referrals.models import ReferralState
from wellbeing.screening.models import Response
from wellbeing.screening.services import create_campaign

from .helpers import draft, give_consent, make_world, walk_to

S = ReferralState


def make_response(session, world, instrument="phq9"):  # type: ignore[no-untyped-def]
    today = utcnow().date()
    campaign = create_campaign(
        session, None, name="春季筛查", instruments=[instrument], schools=[world.school],
        grades=[world.student.grade], opens_on=today - dt.timedelta(days=5), closes_on=today,
    )  # fmt: skip
    response = Response(
        campaign_id=campaign.id, student_id=world.student.id, school_id=world.school.id,
        class_id=world.student.class_id, grade=world.student.grade, instrument=instrument,
        total_band="moderately_severe", bands={"total": "moderately_severe"}, tier=2,
        source="form",
        data={"answers": {"q1": 2, "q9": 1},
              "scores": {"scales": {"total": {"value": 17, "band": "moderately_severe",
                                              "incomplete": False, "prorated": False}}}},
    )  # fmt: skip
    session.add(response)
    session.flush()
    return response


def test_the_dataset_has_exactly_the_minimum_fields(db_session, env):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.SENT)
    data = minimum.dataset(referral)
    assert set(data) == set(minimum.DATASET_KEYS)
    assert data["name"] == world.student.name
    assert data["school"] == world.school.name
    assert data["guardian"] == {"name": "王母", "phone": "13800000000"}  # the consenting one
    assert data["reason"] == referral.reason
    assert data["screening"] == []
    assert data["tier"] == 3 and data["urgency"] == "urgent"
    assert isinstance(data["age"], int)
    flat = repr(data)
    assert referral.internal_reason not in flat  # never the internal reason


@pytest.mark.parametrize("answers", [False, True])
def test_screening_results_only_as_chosen(db_session, env, answers):
    world = make_world(db_session, env.settings)
    give_consent(db_session, world, "partner_sharing")
    chosen = make_response(db_session, world, "phq9")
    make_response(db_session, world, "gad7")  # not chosen: never shared
    referral = draft(db_session, world, responses=[chosen.id], answers=answers, guardian="father")
    data = minimum.dataset(referral)
    [result] = data["screening"]
    assert result["instrument"] == "phq9"
    assert result["scores"] == {"total": {"value": 17, "band": "moderately_severe"}}
    assert ("answers" in result) is answers
    assert data["guardian"] == {"name": "王父", "phone": "13900000000"}


def test_only_the_addressee_reads_it_and_the_read_is_audited(db_session, env, audit_entries):
    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.ACKNOWLEDGED)
    got, data = minimum.partner_view(db_session, world.people["partner_a"], referral.id)
    assert got is referral and set(data) == set(minimum.DATASET_KEYS)
    [entry] = audit_entries(AuditAction.REFERRAL_VIEW)
    assert sorted(entry.fields) == sorted(minimum.DATASET_KEYS)
    for role in ("partner_b", "sender", "centre", "leader", "admin", "supervisor"):
        with pytest.raises(NotFound):
            minimum.partner_view(db_session, world.people[role], referral.id)


def test_the_sender_previews_exactly_what_the_partner_will_see(db_session, env):
    world = make_world(db_session, env.settings)
    referral = draft(db_session, world)
    assert minimum.preview(db_session, world.people["sender"], referral.id) == minimum.dataset(
        referral
    )
    for role in ("partner_a", "leader", "other_psych", "class_teacher"):
        with pytest.raises(NotFound):
            minimum.preview(db_session, world.people[role], referral.id)


def test_the_school_and_the_centre_read_the_whole_referral(db_session, env, audit_entries):
    from wellbeing.referrals import services

    world = make_world(db_session, env.settings)
    referral = walk_to(db_session, world, S.FEEDBACK)
    for role in ("sender", "centre", "leader"):
        view = services.read_referral(db_session, world.people[role], referral.id)
        assert view.referral is referral and view.feedback is not None
        assert [e.to_state for e in view.events][-1] == S.FEEDBACK
    assert services.read_referral(db_session, world.people["leader"], referral.id).actors == set()
    assert len(audit_entries(AuditAction.REFERRAL_VIEW)) == 4  # one per read
    for role in ("partner_a", "partner_b", "class_teacher", "other_psych", "admin", "supervisor"):
        with pytest.raises(NotFound):
            services.read_referral(db_session, world.people[role], referral.id)
