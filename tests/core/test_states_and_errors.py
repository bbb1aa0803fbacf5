"""The shared state mechanism (core/states.py) and the error base (core/errors.py)."""

from __future__ import annotations

from enum import StrEnum

import pytest
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from hypothesis import given
from hypothesis import strategies as st

from wellbeing.core.errors import DomainError
from wellbeing.core.states import IllegalTransition, Transitions, label_states, state_label


class Door(StrEnum):
    OPEN = "open"
    SHUT = "shut"
    LOCKED = "locked"
    GONE = "gone"


DOORS = Transitions(
    Door,
    {
        Door.OPEN: {Door.SHUT, Door.GONE},
        Door.SHUT: {Door.OPEN, Door.LOCKED, Door.GONE},
        Door.LOCKED: {Door.SHUT},
    },
)


class Thing:
    def __init__(self) -> None:
        self.state = Door.OPEN


@given(st.lists(st.sampled_from(list(Door)), max_size=30))
def test_a_walk_moves_only_along_the_table(targets: list[Door]) -> None:
    thing = Thing()
    for target in targets:
        before = thing.state
        if target in DOORS.table[before]:
            DOORS.move(thing, target)
            assert thing.state == target
        else:
            with pytest.raises(IllegalTransition):
                DOORS.move(thing, target)
            assert thing.state == before  # an illegal move changes nothing


def test_terminal_states_have_no_way_out() -> None:
    assert DOORS.terminal() == {Door.GONE}


def test_a_table_naming_a_foreign_state_is_refused() -> None:
    class Other(StrEnum):
        X = "x"

    with pytest.raises(TypeError):
        Transitions(Door, {Door.OPEN: {Other.X}})  # type: ignore[dict-item]  # the error under test


def test_the_check_constraint_names_every_state() -> None:
    constraint = DOORS.check("state")
    assert constraint.name == "state_valid"
    text = str(constraint.sqltext)
    assert all(f"'{door.value}'" in text for door in Door)


def test_the_illegal_move_message_uses_people_s_names(app) -> None:  # type: ignore[no-untyped-def]  # fixture
    label_states({Door.GONE: _l("Green"), Door.OPEN: _l("Yellow")})
    thing = Thing()
    DOORS.move(thing, Door.GONE)
    with pytest.raises(IllegalTransition) as caught:
        DOORS.move(thing, Door.OPEN)
    assert state_label(Door.LOCKED) == "locked"  # nobody named it: the value
    with app.test_request_context(), force_locale("zh_CN"):
        assert caught.value.message.startswith("无法从“无风险”变为")
    assert caught.value.status == 409
    assert caught.value.code == "illegal_transition"
    assert isinstance(caught.value, DomainError)


@given(st.text(max_size=20), st.integers())
def test_a_domain_error_fills_named_parameters(word: str, number: int) -> None:
    error = DomainError("%(word)s has %(n)s", word=word, n=number)
    assert error.message == f"{word} has {number}"
    assert str(error) == error.message


def test_a_template_that_does_not_use_its_parameters_still_reads() -> None:
    assert DomainError("plain text", unused=1).message == "plain text"
    assert DomainError("broken %(", x=1).message == "broken %("
