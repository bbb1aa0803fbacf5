"""The note state machine (draft → signed | locked; locked → signed): random walks through the
table, and Hypothesis over sequences of actions through the services (draft, edit, sign,
addendum, time passing) checking the invariants after every step."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import CheckConstraint

from wellbeing.core.authz import Forbidden
from wellbeing.core.states import IllegalTransition
from wellbeing.notes import services
from wellbeing.notes.models import NOTE_STATES, CounsellingNote, NoteState
from wellbeing.notes.queries import Access, is_editable, note_access

from .helpers import NOW, note_input, notes_world, principal


class _Thing:
    state: str = NoteState.DRAFT


@given(st.lists(st.sampled_from(list(NoteState)), max_size=8))
def test_a_walk_through_the_table(targets: list[NoteState]) -> None:
    thing = _Thing()
    for target in targets:
        before = thing.state
        if NOTE_STATES.allowed(before, target):
            NOTE_STATES.move(thing, target)
            assert thing.state == target
        else:
            with pytest.raises(IllegalTransition):
                NOTE_STATES.move(thing, target)
            assert thing.state == before


def test_the_table_and_the_check_constraint() -> None:
    assert NOTE_STATES.terminal() == {NoteState.SIGNED}
    [check] = [c for c in CounsellingNote.__table__.constraints if isinstance(c, CheckConstraint)]
    assert all(f"'{s.value}'" in str(check.sqltext) for s in NoteState)


ACTIONS = st.one_of(
    st.tuples(st.just("edit"), st.text(alphabet="学生说谈话", min_size=1, max_size=8)),
    st.tuples(st.just("sign"), st.sampled_from(["psych_teacher", "other_psych"])),
    st.tuples(st.just("addendum"), st.sampled_from(["psych_teacher", "other_psych", "counsellor"])),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=30)),
    st.tuples(st.just("lock_job"), st.just(0)),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sign_at_once=st.booleans(), actions=st.lists(ACTIONS, min_size=1, max_size=8))
def test_sequences_of_actions_keep_the_invariants(db_session, env, sign_at_once, actions) -> None:
    _school, staff, student = notes_world(db_session, env.settings)
    people = {role: principal(db_session, user) for role, user in staff.items()}
    author = people["psych_teacher"]
    now = NOW
    note = services.write_note(db_session, author, student, note_input(content="初稿"),
                               sign=sign_at_once, now=now)  # fmt: skip
    content, addenda = "初稿", 0
    for action, arg in actions:
        before = (note.state, note.content)
        if action == "wait":
            now += dt.timedelta(hours=arg)
        elif action == "lock_job":
            services.lock_overdue_drafts(db_session, now)
        elif action == "edit":
            if is_editable(note, now):
                services.edit_draft(db_session, author, note, note_input(content=arg), now=now)
                content = arg
            else:
                with pytest.raises(services.NoteError):
                    services.edit_draft(db_session, author, note, note_input(content=arg), now=now)
        elif action == "sign":
            actor = people[arg]
            if arg != "psych_teacher":
                with pytest.raises(Forbidden):
                    services.sign_note(db_session, actor, note, now=now)
            elif note.state == NoteState.SIGNED:
                with pytest.raises(IllegalTransition):
                    services.sign_note(db_session, actor, note, now=now)
            else:
                services.sign_note(db_session, actor, note, now=now)
                assert note.signed_late == (now > note.deadline)
        elif action == "addendum":
            if is_editable(note, now):  # a draft: its author edits it, nobody else sees it
                refusal = services.NoteError if arg == "psych_teacher" else Forbidden
                with pytest.raises(refusal):
                    services.add_addendum(db_session, people[arg], note, "补充", now=now)
            else:
                services.add_addendum(db_session, people[arg], note, "补充", now=now)
                addenda += 1
        db_session.flush()
        # invariants after every step
        assert note.content == content  # only a draft's author, in time, ever changed it
        if before[0] != NoteState.DRAFT:
            assert note.content == before[1]
        assert note.state in set(NoteState)
        assert (
            NOTE_STATES.allowed(before[0], note.state)
            or note.state == before[0]
            or (before[0] == NoteState.DRAFT and note.state == NoteState.SIGNED)
        )
        assert len(services.addenda_of(db_session, note.id)) == addenda
        visible = note_access(people["other_psych"], note, student, now)
        assert visible == (Access.HIDDEN if is_editable(note, now) else Access.FULL)
        if note.state == NoteState.SIGNED:
            assert note.signed_at is not None
