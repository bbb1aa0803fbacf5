"""Property tests of the tier state machine (Hypothesis).

Random sequences of rule decisions, persons' decisions, approvals and rejections by random
staff must keep three invariants:

* a rule never lowers a tier;
* a student leaves red only through an approved step-down whose approver is a second,
  distinct person;
* the applied history always replays to the student's current tier and provisional flag.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wellbeing.auth.services import build_principal
from wellbeing.core.authz import Forbidden
from wellbeing.risk.models import APPLIED, PENDING
from wellbeing.risk.services import (
    TierError,
    apply_rule_tiers,
    apply_tier,
    approve_stepdown,
    reject_stepdown,
    replay,
    tier_history,
)

from ..factories import make_school, make_student, staff_set

PEOPLE = ("psych_teacher", "counsellor", "school_leader", "class_teacher")
SOURCES = ("screening", "concern", "session", "referral", "manual")

rule_op = st.tuples(
    st.just("rule"), st.integers(0, 3), st.booleans(), st.sampled_from(SOURCES), st.booleans()
)
person_op = st.tuples(
    st.just("person"), st.sampled_from(PEOPLE), st.integers(0, 3), st.sampled_from(SOURCES)
)
approve_op = st.tuples(
    st.just("approve"), st.sampled_from(("school_leader", "counsellor", "psych_teacher"))
)
reject_op = st.tuples(st.just("reject"), st.sampled_from(PEOPLE))
# Approvals are drawn twice as often, and half the runs start red, so step-downs are exercised.
operations = st.builds(
    lambda start_red, ops: ([("rule", 3, True, "screening", False)] if start_red else []) + ops,
    st.booleans(),
    st.lists(st.one_of(rule_op, person_op, approve_op, approve_op, reject_op), max_size=16),
)


@pytest.fixture
def cast(db_session, env):
    school = make_school(db_session)
    users = staff_set(db_session, env.settings, school)
    return school, {role: build_principal(db_session, users[role]) for role in PEOPLE}


def _pending(session, student):
    return next((d for d in tier_history(session, student.id) if d.state == PENDING), None)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_tier_state_machine(db_session, cast, ops):
    school, people = cast
    student = make_student(db_session, school)
    for op in ops:
        before = (student.tier, student.tier_provisional)
        kind = op[0]
        try:
            if kind == "rule":
                _, tier, provisional, source, bulk = op
                if bulk:
                    apply_rule_tiers(
                        db_session, [(student.id, tier, None, "rule.x")], source=source
                    )
                    db_session.refresh(student)
                else:
                    apply_tier(
                        db_session, None, student, tier, source=source, provisional=provisional
                    )
                # a rule never lowers a tier
                assert student.tier >= before[0]
                assert student.tier == max(before[0], tier)
            elif kind == "person":
                _, role, tier, source = op
                result = apply_tier(
                    db_session, people[role], student, tier, source=source, reason="seen"
                )
                if before[0] == 3 and tier < 3:
                    # a person's step-down from red never applies by itself
                    assert result.state == PENDING and student.tier == 3
                    event("step-down requested")
            else:
                pending = _pending(db_session, student)
                if pending is None:
                    continue
                _, role = op
                if kind == "approve":
                    approved = approve_stepdown(db_session, people[role], pending)
                    assert approved.approved_by != approved.decided_by
                    assert approved.approved_by is not None and approved.decided_by is not None
                    event("step-down approved")
                else:
                    reject_stepdown(db_session, people[role], pending)
                    assert student.tier == before[0]
        except (TierError, Forbidden):
            # a refused act changes nothing
            assert (student.tier, student.tier_provisional) == before
        if before[0] == 3 and student.tier < 3:
            assert kind == "approve"
        history = tier_history(db_session, student.id)
        assert replay(history) == (student.tier, student.tier_provisional)
    # every applied step-down from red carries two distinct people
    for d in tier_history(db_session, student.id):
        if d.state == APPLIED and d.from_tier == 3 and d.to_tier < 3:
            assert d.decided_by is not None and d.approved_by not in (None, d.decided_by)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    requester=st.sampled_from(("psych_teacher", "counsellor")),
    target=st.integers(0, 2),
    approvers=st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=5),
)
def test_stepdown_needs_a_second_distinct_approver(db_session, cast, requester, target, approvers):
    school, people = cast
    student = make_student(db_session, school)
    apply_tier(db_session, None, student, 3, source="screening", provisional=True)
    pending = apply_tier(
        db_session, people[requester], student, target, source="manual", reason="r"
    )
    assert pending.state == PENDING and student.tier == 3
    left_red_by = None
    for role in approvers:
        try:
            approve_stepdown(db_session, people[role], pending)
        except (TierError, Forbidden):
            assert student.tier == (3 if left_red_by is None else target)
            continue
        assert left_red_by is None  # approving twice is refused
        left_red_by = role
    eligible = [r for r in approvers if r in ("school_leader", "counsellor") and r != requester]
    if eligible:
        assert left_red_by == eligible[0] and student.tier == target
        assert pending.approved_by == people[left_red_by].user_id != pending.decided_by
    else:
        assert left_red_by is None and student.tier == 3
    assert replay(tier_history(db_session, student.id)) == (student.tier, student.tier_provisional)
