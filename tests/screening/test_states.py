"""The screening state machines (campaign: open → closed; kiosk session: open → done |
timed_out): random walks through the tables, and through the services that move them."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import CheckConstraint

from wellbeing.core.authz import Role
from wellbeing.core.states import IllegalTransition, Transitions, state_label
from wellbeing.db import utcnow
from wellbeing.screening import services
from wellbeing.screening.kiosk.service import close_expired, kiosk_submit, load_kiosk, open_kiosk
from wellbeing.screening.models import (
    CAMPAIGN_STATES,
    KIOSK_STATES,
    Campaign,
    CampaignState,
    KioskSession,
    KioskState,
)

from ..factories import make_user
from .helpers import open_campaign, phq, school_with_students

MACHINES: list[tuple[Transitions, type]] = [  # type: ignore[type-arg]  # two enums, one list
    (CAMPAIGN_STATES, CampaignState),
    (KIOSK_STATES, KioskState),
]


class _Thing:
    def __init__(self, state: str) -> None:
        self.state = state


@pytest.mark.parametrize(("table", "states"), MACHINES)
@given(data=st.data())
def test_a_walk_through_the_table(table, states, data) -> None:  # type: ignore[no-untyped-def]
    thing = _Thing(states.OPEN)
    for target in data.draw(st.lists(st.sampled_from(list(states)), max_size=12)):
        before = thing.state
        if table.allowed(before, target):
            table.move(thing, target)
            assert thing.state == target
        else:
            with pytest.raises(IllegalTransition):
                table.move(thing, target)
            assert thing.state == before  # an illegal move changes nothing


def test_the_tables_and_their_checks() -> None:
    assert CAMPAIGN_STATES.terminal() == {CampaignState.CLOSED}
    assert KIOSK_STATES.terminal() == {KioskState.DONE, KioskState.TIMED_OUT}
    for model, values in (
        (Campaign, "'open', 'closed'"),
        (KioskSession, "'open', 'done', 'timed_out'"),
    ):
        [check] = [c for c in model.__table__.constraints if isinstance(c, CheckConstraint)]
        assert str(check.sqltext) == f"state IN ({values})"
    assert state_label(KioskState.TIMED_OUT) == "Kiosk timed out"


def test_closing_a_campaign_twice_is_an_illegal_move(db_session) -> None:  # type: ignore[no-untyped-def]
    school, _k, _students = school_with_students(db_session, 1)
    campaign = open_campaign(db_session, [school])
    assert campaign.state == CampaignState.OPEN
    services.close_campaign(db_session, None, campaign)
    assert campaign.state == CampaignState.CLOSED
    with pytest.raises(IllegalTransition):
        services.close_campaign(db_session, None, campaign)
    assert campaign.state == CampaignState.CLOSED


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(st.sampled_from(["answer", "time_passes", "job"]), max_size=6))
def test_a_kiosk_walk_through_the_service(db_session, env, steps) -> None:  # type: ignore[no-untyped-def]
    """A kiosk of two students, then any order of answering, its deadline passing and the
    scheduler's job: it ends done or timed out, never both, and nothing moves it afterwards."""
    from wellbeing.auth.services import build_principal

    school, _k, students = school_with_students(db_session, 2)
    campaign = open_campaign(db_session, [school])
    teacher = build_principal(
        db_session, make_user(db_session, env.settings, Role.PSYCH_TEACHER, school=school)
    )
    now = utcnow()
    kiosk, token = open_kiosk(db_session, teacher, campaign, students, now=now)
    answers = {"phq9": {f"phq9_{n + 1}": v for n, v in enumerate(phq(3))}}
    for step in steps:
        before = kiosk.state
        if step == "answer":
            row = load_kiosk(db_session, token, now=now)
            if row is None:  # closed before, or closed now: used after its deadline
                assert kiosk.state != KioskState.OPEN
                assert before != KioskState.OPEN or kiosk.state == KioskState.TIMED_OUT
                continue
            finished, _held = kiosk_submit(db_session, row, answers, now=now)
            assert kiosk.state == (KioskState.DONE if finished else KioskState.OPEN)
        elif step == "time_passes":
            now += dt.timedelta(minutes=91)
        else:
            close_expired(db_session, now)  # (other examples' kiosks expire too)
            if before == KioskState.OPEN:
                expired = kiosk.expires_at <= now
                assert kiosk.state == (KioskState.TIMED_OUT if expired else KioskState.OPEN)
        if before != KioskState.OPEN:
            assert kiosk.state == before  # a closed kiosk stays as it closed
        assert (kiosk.state == KioskState.OPEN) == (kiosk.closed_at is None)
