"""Property test: marking a concern through the service moves it only as ``CONCERN_STATES``
allows (new → seen → acted, new → acted); an illegal move raises IllegalTransition (which is a
ConcernError too) and changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wellbeing.auth.services import build_principal
from wellbeing.concerns import services
from wellbeing.concerns.models import CONCERN_STATES, ConcernState
from wellbeing.core.states import IllegalTransition
from wellbeing.orgs.models import SchoolClass

from ..factories import make_school, make_student, staff_set

actions = st.lists(st.sampled_from([*ConcernState, "bogus"]), max_size=6)
VALUES = {state.value for state in ConcernState}


@pytest.fixture
def people(db_session, env):  # type: ignore[no-untyped-def]
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    klass = db_session.get(SchoolClass, users["class_teacher"].memberships[0].class_id)
    return school, klass, {r: build_principal(db_session, u) for r, u in users.items()}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(moves=actions)
def test_concern_state_machine(db_session, people, moves):  # type: ignore[no-untyped-def]
    school, klass, p = people
    student = make_student(db_session, school, klass)
    concern = services.create_concern(
        db_session, p["class_teacher"], student, category="mood", urgency="routine", text="x"
    )
    assert concern.state == ConcernState.NEW
    for action in moves:
        before = (concern.state, concern.seen_at, concern.acted_at)
        try:
            services.mark(db_session, p["psych_teacher"], concern, action)
        except IllegalTransition as exc:
            assert isinstance(exc, services.ConcernError)
            assert action not in VALUES or not CONCERN_STATES.allowed(before[0], action)
            assert (concern.state, concern.seen_at, concern.acted_at) == before
        else:
            assert CONCERN_STATES.allowed(before[0], action)
            assert concern.state == action and concern.seen_at is not None
            assert (concern.acted_at is not None) == (concern.state == ConcernState.ACTED)
