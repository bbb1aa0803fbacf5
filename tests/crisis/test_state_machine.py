"""Property test: any sequence of checklist steps and closing attempts moves a crisis only as
``CRISIS_STATES`` allows (open → closed); an illegal move raises IllegalTransition and changes
nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wellbeing.auth.services import build_principal
from wellbeing.core.states import IllegalTransition
from wellbeing.crisis import services
from wellbeing.crisis.models import CRISIS_STATES, STEPS, CrisisState
from wellbeing.orgs.models import SchoolClass

from ..factories import make_school, make_student, staff_set

SIMPLE = [s for s in STEPS if s not in {"guardian_notified", "referral", "followup_scheduled"}]
operations = st.lists(
    st.one_of(st.sampled_from(SIMPLE), st.just("close"), st.just("tier")), max_size=10
)


@pytest.fixture
def people(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    klass = db_session.get(SchoolClass, users["class_teacher"].memberships[0].class_id)
    return school, klass, build_principal(db_session, users["psych_teacher"])


def _complete_rest(db_session, psych, crisis) -> None:  # type: ignore[no-untyped-def]
    """The steps that need facts, so that a closing attempt can succeed."""
    import datetime as dt

    from wellbeing.db import utcnow

    done = services.steps_of(db_session, crisis)
    if "acknowledge" not in done:
        return
    if "referral" not in done:
        services.complete_step(db_session, psych, crisis, "referral", outcome="considered")
    if "guardian_notified" not in done:
        guardian = {"relation": "mother", "channel": "phone", "contacted_at": utcnow(),
                    "summary": "told"}  # fmt: skip
        services.complete_step(db_session, psych, crisis, "guardian_notified", guardian=guardian)
    if "followup_scheduled" not in done:
        due = utcnow() + dt.timedelta(days=1)
        services.complete_step(db_session, psych, crisis, "followup_scheduled", followup_due=due)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations)
def test_crisis_state_machine(db_session, people, ops):  # type: ignore[no-untyped-def]
    school, klass, psych = people
    student = make_student(db_session, school, klass, tier=3)
    crisis = services.open_crisis(db_session, student)
    assert crisis is not None and crisis.state == CrisisState.OPEN
    for op in ops:
        before = (crisis.state, crisis.closed_at, crisis.closed_tier)
        if op == "tier":
            _complete_rest(db_session, psych, crisis)
            student.tier_provisional = False
            continue
        try:
            if op == "close":
                services.close_crisis(db_session, psych, crisis, summary="ok", tier=student.tier,
                                      confirmed=True)  # fmt: skip
                assert before[0] == CrisisState.OPEN
                assert crisis.state == CrisisState.CLOSED and crisis.closed_at is not None
            else:
                services.complete_step(db_session, psych, crisis, op)
                assert crisis.state == CrisisState.OPEN
        except IllegalTransition:
            assert before[0] == CrisisState.CLOSED and op == "close"
            assert (crisis.state, crisis.closed_at, crisis.closed_tier) == before
        except services.CrisisError:
            assert (crisis.state, crisis.closed_at, crisis.closed_tier) == before
        assert CRISIS_STATES.allowed(before[0], crisis.state) or crisis.state == before[0]


def test_closed_is_terminal() -> None:
    assert CRISIS_STATES.terminal() == {CrisisState.CLOSED}
    with pytest.raises(IllegalTransition):
        CRISIS_STATES.check_move(CrisisState.CLOSED, CrisisState.OPEN)
