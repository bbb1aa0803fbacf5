"""The break-glass grant's state machine: active → ended (by hand, before expiry) | expired
(recorded by the expiry job); random walks through the table and through the services."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import CheckConstraint

from wellbeing.audit import services
from wellbeing.audit.models import BREAK_GLASS_STATES, BreakGlass, BreakGlassState
from wellbeing.auth.services import build_principal
from wellbeing.core.states import IllegalTransition

from ..authz import build_world

ACTIVE, ENDED, EXPIRED = BreakGlassState.ACTIVE, BreakGlassState.ENDED, BreakGlassState.EXPIRED
T0 = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)


class _Grant:
    state: str = ACTIVE


@given(st.lists(st.sampled_from(list(BreakGlassState)), max_size=8))
def test_a_walk_through_the_table(targets: list[BreakGlassState]) -> None:
    grant = _Grant()
    for target in targets:
        before = grant.state
        if before == ACTIVE and target != ACTIVE:
            BREAK_GLASS_STATES.move(grant, target)
            assert grant.state == target
        else:
            with pytest.raises(IllegalTransition):
                BREAK_GLASS_STATES.move(grant, target)
            assert grant.state == before


def test_the_check_constraint_names_every_state() -> None:
    [check] = [c for c in BreakGlass.__table__.constraints if isinstance(c, CheckConstraint)]
    assert all(f"'{s.value}'" in str(check.sqltext) for s in BreakGlassState)


# Each operation and the minute it happens at (the grant runs T0 .. T0 + 60 min).
OPS = {"end_early": 10, "end_late": 70, "expire": 61, "expire_early": 30}


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=st.lists(st.sampled_from(sorted(OPS)), min_size=1, max_size=4))
def test_a_walk_through_the_services(db_session, env, ops: list[str]) -> None:
    world = build_world(db_session, env.settings)
    holder = world.users["counsellor"]
    grant = BreakGlass(
        user_id=holder.id, student_id=world.own_student.id, started_at=T0,
        expires_at=T0 + dt.timedelta(minutes=60), reason="State walk: emergency access",
    )  # fmt: skip
    db_session.add(grant)
    db_session.flush()
    assert grant.state == ACTIVE
    principal = build_principal(db_session, holder)
    for op in ops:
        before, at = grant.state, T0 + dt.timedelta(minutes=OPS[op])
        if op.startswith("end"):
            ended = services.end_break_glass(db_session, principal, grant, now=at)
            expected = ENDED if before == ACTIVE and op == "end_early" else before
            assert ended is (expected != before)
        else:
            services.close_expired_grants(db_session, at)
            expected = EXPIRED if before == ACTIVE and op == "expire" else before
        db_session.flush()
        assert grant.state == expected
        assert services.grant_status(grant, at) == (
            EXPIRED if grant.state == ACTIVE and at >= grant.expires_at else grant.state
        )


def test_refusals_say_what_is_wrong(db_session, env) -> None:
    """Each refusal carries its own message (a short review comment once read "Write the reason
    in at least 15 characters.", the view mapping every plain refusal to that one sentence)."""
    world = build_world(db_session, env.settings)
    grant = BreakGlass(
        user_id=world.users["counsellor"].id, student_id=world.own_student.id, started_at=T0,
        expires_at=T0 + dt.timedelta(minutes=60), reason="Refusal test: emergency access",
    )  # fmt: skip
    db_session.add(grant)
    db_session.flush()
    supervisor = build_principal(db_session, world.users["supervisor"])
    with pytest.raises(services.BreakGlassError) as refused:
        services.review_break_glass(db_session, supervisor, grant, "  ")
    assert refused.value.message == "Write a review comment."
    assert grant.reviewed_at is None
