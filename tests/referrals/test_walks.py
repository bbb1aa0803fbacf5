"""Hypothesis random walks through the services: any sequence of (move, role) attempts, consent
withdrawals and time passing never leaves a referral in an invalid state, never moves it on a
refusal, and never lets a partner see a referral without consent or an override."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from wellbeing.core.authz import Forbidden
from wellbeing.core.errors import DomainError, NotFound
from wellbeing.db import utcnow
from wellbeing.referrals import minimum, queries
from wellbeing.referrals.models import (
    MOVES,
    PARTNER_STATES,
    REFERRAL_STATES,
    Referral,
    ReferralEvent,
    ReferralState,
)

from .helpers import MOVES as MOVE_NAMES
from .helpers import ROLES, do, draft, give_consent, make_world


class _Thing:
    state: str = ReferralState.DRAFT


@given(st.lists(st.sampled_from(list(ReferralState)), max_size=12))
def test_a_walk_through_the_table(targets):
    thing = _Thing()
    for target in targets:
        before = thing.state
        if (ReferralState(before), target) in MOVES:
            REFERRAL_STATES.move(thing, target)
            assert thing.state == target
        else:
            with pytest.raises(DomainError):
                REFERRAL_STATES.move(thing, target)
            assert thing.state == before


STEPS = st.one_of(
    st.tuples(st.sampled_from(MOVE_NAMES), st.sampled_from(("sender", "centre", "partner_a",
                                                            "partner_b", "leader"))),
    st.tuples(st.just("consent_withdrawn"), st.just("sender")),
    st.tuples(st.just("consent_given"), st.just("sender")),
)  # fmt: skip


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(consent=st.booleans(), override=st.booleans(), steps=st.lists(STEPS, max_size=12))
def test_random_walks_keep_the_invariants(db_session, env, consent, override, steps):
    world = make_world(db_session, env.settings, consent=consent)
    referral = draft(db_session, world)
    if override and not consent:
        from wellbeing.referrals import services

        services.submit(db_session, world.people["sender"], referral.id,
                        override_reason="监护人无法联系")  # fmt: skip
    for move, role in steps:
        before = (referral.state, referral.version)
        events = db_session.scalar(
            select(func.count()).where(ReferralEvent.referral_id == referral.id)
        )
        try:
            with db_session.begin_nested():
                if move == "consent_given":
                    give_consent(db_session, world)
                else:
                    do(db_session, world, referral, move, role)
        except (DomainError, Forbidden):
            db_session.refresh(referral)
            assert (referral.state, referral.version) == before
            assert (
                db_session.scalar(
                    select(func.count()).where(ReferralEvent.referral_id == referral.id)
                )
                == events
            )
        db_session.refresh(referral)
        check(db_session, world, referral)


def check(session, world, referral: Referral) -> None:  # type: ignore[no-untyped-def]
    assert referral.state in tuple(ReferralState)
    assert not (referral.consent_contact_id and referral.override_at)
    history = session.scalars(
        select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
        .order_by(ReferralEvent.at, ReferralEvent.id)
    ).all()  # fmt: skip
    state = ReferralState.DRAFT
    for event in history:  # the history is a path through the table
        assert (state, ReferralState(event.to_state)) in MOVES
        assert event.from_state == state
        state = ReferralState(event.to_state)
    assert state == referral.state
    now = utcnow()
    for role in ("partner_a", "partner_b"):
        partner = world.people[role]
        visible = queries.partner_may_see(session, partner, referral, now)
        listed = referral in queries.partner_referrals(session, partner, now)
        assert visible == listed
        if visible:
            assert role == "partner_a" and referral.partner_id == world.partner_a.id
            assert referral.state in PARTNER_STATES
            assert referral.consent_contact_id is not None or referral.override_at is not None
            minimum.partner_view(session, partner, referral.id)
        else:
            with pytest.raises(NotFound):
                minimum.partner_view(session, partner, referral.id)
    if referral.state in (ReferralState.CANCELLED, ReferralState.WITHDRAWN):
        assert referral.access_expires_at is not None and referral.access_expires_at <= now
    assert set(ROLES) >= {"partner_a", "partner_b"}
    assert dt.timedelta(0) <= now - referral.created_at
