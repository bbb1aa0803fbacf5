"""The follow-up state machine (open → done | overdue | cancelled; overdue → done | cancelled):
random walks through the table and through the services that move a follow-up."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import CheckConstraint

from wellbeing.core.states import IllegalTransition
from wellbeing.followups import services
from wellbeing.followups.models import (
    ACTIVE_STATES,
    CANCELLED,
    DONE,
    FOLLOWUP_STATES,
    OPEN,
    OVERDUE,
    FollowUp,
    FollowUpState,
)

from .helpers import NOW, principal, school_world


class _Thing:
    state: str = OPEN


@given(st.lists(st.sampled_from(list(FollowUpState)), max_size=12))
def test_a_walk_through_the_table(targets: list[FollowUpState]) -> None:
    thing = _Thing()
    for target in targets:
        before = thing.state
        if FOLLOWUP_STATES.allowed(before, target):
            FOLLOWUP_STATES.move(thing, target)
            assert thing.state == target
        else:
            with pytest.raises(IllegalTransition):
                FOLLOWUP_STATES.move(thing, target)
            assert thing.state == before


def test_the_table_and_the_check_constraint() -> None:
    assert FOLLOWUP_STATES.terminal() == {DONE, CANCELLED}
    assert ACTIVE_STATES == (OPEN, OVERDUE)
    [check] = [c for c in FollowUp.__table__.constraints if isinstance(c, CheckConstraint)]
    assert all(f"'{s.value}'" in str(check.sqltext) for s in FollowUpState)


# What each service operation does to one cadence follow-up: the target it moves to.
MOVES = {"complete": DONE, "scan": OVERDUE, "cancel": CANCELLED}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(st.sampled_from(sorted(MOVES)), min_size=1, max_size=5))
def test_a_walk_through_the_services(db_session, env, ops: list[str]) -> None:
    _school, staff, student = school_world(db_session, env.settings)
    teacher = principal(db_session, staff["psych_teacher"])
    followup = services.schedule_followup(
        db_session, None, student, due_at=NOW + dt.timedelta(days=1),
        owner_id=staff["psych_teacher"].id, source="cadence",
    )  # fmt: skip
    for op in ops:
        before = followup.state
        legal = FOLLOWUP_STATES.allowed(before, MOVES[op])
        if op == "complete":
            if legal:
                services.complete_followup(
                    db_session, teacher, followup, outcome="seen", note="Talked.", now=NOW
                )
            else:
                with pytest.raises(services.FollowUpError):
                    services.complete_followup(
                        db_session, teacher, followup, outcome="seen", note="Talked.", now=NOW
                    )
        elif op == "scan":
            services.overdue_scan(db_session, NOW + dt.timedelta(days=2))
        else:
            services.cancel_cadence(db_session, student, NOW, "test")
        db_session.flush()
        assert followup.state == (MOVES[op] if legal else before)
