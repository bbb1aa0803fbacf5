"""The tier decision's state machine: a pending step-down becomes applied, rejected or
withdrawn, once; applied, rejected and withdrawn decisions never change state again."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import CheckConstraint

from wellbeing.core.states import IllegalTransition
from wellbeing.risk.models import (
    APPLIED,
    DECISION_STATES,
    PENDING,
    REJECTED,
    WITHDRAWN,
    DecisionState,
    TierDecision,
)


class _Decision:
    def __init__(self, state: str) -> None:
        self.state = state


@given(st.sampled_from(list(DecisionState)), st.lists(st.sampled_from(list(DecisionState))))
def test_a_walk_through_the_table(start: DecisionState, targets: list[DecisionState]) -> None:
    decision = _Decision(start)
    for target in targets:
        before = decision.state
        if before == PENDING and target in {APPLIED, REJECTED, WITHDRAWN}:
            DECISION_STATES.move(decision, target)
            assert decision.state == target
        else:
            with pytest.raises(IllegalTransition):
                DECISION_STATES.move(decision, target)
            assert decision.state == before


def test_the_check_constraint_names_every_state() -> None:
    [check] = [c for c in TierDecision.__table__.constraints if isinstance(c, CheckConstraint)]
    assert all(f"'{s.value}'" in str(check.sqltext) for s in DecisionState)
    assert DECISION_STATES.terminal() == {APPLIED, REJECTED, WITHDRAWN}
