"""Hypothesis over random sequences of edits, saves, sign-offs, returns, reviews and tier
changes, through the services, checking after every step that:

* the author, and anyone who wrote the draft, can never sign (nor return) a version;
* a version takes effect only when signed, or when it needed no sign-off;
* for an orange or red student a material change always needs a fresh sign-off, and a change
  that is not material never does (yellow and green: never);
* versions are append-only and numbered 1..n; every state is a state of the table.
"""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from wellbeing.core.authz import Forbidden
from wellbeing.core.errors import DomainError
from wellbeing.plans import queries, services
from wellbeing.plans.body import material, validate
from wellbeing.plans.models import (
    GOAL_ACHIEVEMENT,
    PLAN_STATES,
    PlanSignoff,
    PlanState,
    PlanVersion,
)

from .conftest import NOW, TODAY, build_plans_world, complete_body, safety_crisis

WRITERS = ("psych_teacher", "other_psych", "counsellor")
SIGNERS = ("school_leader", "counsellor", "psych_teacher")
EDITS = ("summary", "achievement", "goal", "intervention", "task")
MATERIAL_EDITS = {"goal", "intervention", "task"}

ACTIONS = st.one_of(
    st.tuples(st.just("edit"), st.sampled_from(WRITERS), st.sampled_from(EDITS)),
    st.tuples(st.just("save"), st.sampled_from(WRITERS), st.just("")),
    st.tuples(st.just("sign"), st.sampled_from(SIGNERS), st.just("")),
    st.tuples(st.just("return"), st.sampled_from(SIGNERS), st.just("")),
    st.tuples(st.just("review"), st.sampled_from(WRITERS), st.just("")),
    st.tuples(st.just("tier"), st.just(""), st.sampled_from(["1", "2", "3"])),
)


def _edit(body: dict, kind: str, step: int) -> dict:  # type: ignore[type-arg]
    body = copy.deepcopy(body)
    if kind == "summary":
        body["summary"] = f"概述{step}"
    elif kind == "achievement":
        body["goals"][0]["achievement"] = GOAL_ACHIEVEMENT[step % len(GOAL_ACHIEVEMENT)]
    elif kind == "goal":
        body["goals"][0]["measure"] = f"测量{step}"
    elif kind == "intervention":
        body["interventions"][0]["frequency"] = f"每{step}周"
    else:
        body["adults"][0]["tasks"][0]["due"] = (TODAY + dt.timedelta(days=step)).isoformat()
    return body


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(tier=st.sampled_from([1, 2, 3]), actions=st.lists(ACTIONS, min_size=1, max_size=10))
def test_sequences_keep_the_sign_off_rules(db_session, env, tier, actions) -> None:
    w = build_plans_world(db_session, env.settings)
    student = {1: w.yellow, 2: w.orange, 3: w.red}[tier]
    crisis = safety_crisis(db_session, w, student)
    people, ids = w.p, {k: u.id.hex for k, u in w.users.items()}
    plan = services.start_plan(db_session, people["psych_teacher"], student.id, now=NOW)
    services.save_draft(db_session, people["psych_teacher"], plan.id,
                        complete_body(safety_crisis_id=crisis.id))  # fmt: skip
    writers = {ids["psych_teacher"]}
    signed_body: dict | None = None  # type: ignore[type-arg]
    n_versions = 0
    for step, (action, who, arg) in enumerate(actions, start=1):
        state = plan.state
        if action == "tier":
            student.tier = int(arg)
        elif action == "edit":
            if state in (PlanState.DRAFT, PlanState.REVIEW):
                services.save_draft(db_session, people[who], plan.id, _edit(plan.draft, arg, step))
                writers.add(ids[who])
            else:
                with pytest.raises(services.PlanError):
                    services.save_draft(db_session, people[who], plan.id, complete_body())
        elif action == "save":
            if state in (PlanState.DRAFT, PlanState.REVIEW):
                body = validate(plan.draft)
                ver = services.save_version(db_session, people[who], plan.id, now=NOW)
                writers.add(ids[who])
                n_versions += 1
                changed = material(signed_body, body)
                assert ver.material == changed
                assert ver.signoff_required == (changed and student.tier >= 2)
                assert set(ver.writers) == writers and ver.author_id.hex == ids[who]
                if not ver.signoff_required:
                    assert plan.state == PlanState.ACTIVE and plan.effective_version == ver.number
                    writers = set()
                else:
                    assert plan.state == PlanState.SUBMITTED
            else:
                with pytest.raises(services.PlanError):
                    services.save_version(db_session, people[who], plan.id, now=NOW)
        elif action in ("sign", "return"):
            latest = queries.version(db_session, plan.id, plan.latest_version)
            may = (
                state == PlanState.SUBMITTED and who != "psych_teacher"
                and ids[who] not in writers and latest is not None
            )  # fmt: skip

            def attempt(action=action, who=who):  # type: ignore[no-untyped-def]
                if action == "sign":
                    return services.sign(db_session, people[who], plan.id, plan.latest_version)
                return services.return_version(db_session, people[who], plan.id,
                                               plan.latest_version, "请修改")  # fmt: skip

            if may:
                attempt()
                if action == "sign":
                    signed_body = latest.body
                    assert plan.state == PlanState.ACTIVE
                    writers = set()
                else:
                    assert plan.state in (PlanState.DRAFT, PlanState.REVIEW)
            else:
                with pytest.raises((Forbidden, DomainError)):
                    attempt()
                if state == PlanState.SUBMITTED and who != "psych_teacher":
                    with pytest.raises(Forbidden):  # a writer of the draft
                        attempt()
        elif action == "review":
            if state == PlanState.ACTIVE:
                services.start_review(db_session, people[who], plan.id, now=NOW)
                writers = {ids[who]}
            else:
                with pytest.raises(DomainError):
                    services.start_review(db_session, people[who], plan.id, now=NOW)
        db_session.flush()
        # ---- invariants after every step
        assert plan.state in set(PlanState)
        assert plan.state == state or PLAN_STATES.allowed(state, plan.state)
        if plan.state in (PlanState.DRAFT, PlanState.REVIEW):
            assert set(plan.draft_writers or []) == writers
        versions = db_session.scalars(
            select(PlanVersion).where(PlanVersion.plan_id == plan.id).order_by(PlanVersion.number)
        ).all()
        assert [v.number for v in versions] == list(range(1, n_versions + 1))
        assert plan.latest_version == n_versions
        decisions = db_session.scalars(
            select(PlanSignoff).where(PlanSignoff.plan_id == plan.id)
        ).all()
        by_version = {v.id: v for v in versions}
        signed_ids = set()
        for row in decisions:
            ver = by_version[row.version_id]
            assert row.by_id != ver.author_id and row.by_id.hex not in ver.writers
            if row.decision == "signed":
                signed_ids.add(ver.id)
        if plan.effective_version is not None:
            effective = versions[plan.effective_version - 1]
            assert effective.id in signed_ids or not effective.signoff_required
        for ver in versions:  # a version needing sign-off is in effect only once signed
            if ver.signoff_required and ver.id not in signed_ids:
                assert plan.effective_version != ver.number


class _Thing:
    state: str = PlanState.PROPOSED


@given(st.lists(st.sampled_from(list(PlanState)), max_size=10))
def test_a_walk_through_the_table(targets: list[PlanState]) -> None:
    from wellbeing.core.states import IllegalTransition

    thing = _Thing()
    for target in targets:
        before = thing.state
        if PLAN_STATES.allowed(before, target):
            PLAN_STATES.move(thing, target)
            assert thing.state == target
        else:
            with pytest.raises(IllegalTransition):
                PLAN_STATES.move(thing, target)
            assert thing.state == before


def test_the_table_and_the_check_constraint() -> None:
    from sqlalchemy import CheckConstraint

    from wellbeing.plans.models import Plan

    assert PLAN_STATES.terminal() == {PlanState.CLOSED, PlanState.CANCELLED}
    checks = [c for c in Plan.__table__.constraints if isinstance(c, CheckConstraint)]
    assert any(all(f"'{s.value}'" in str(c.sqltext) for s in PlanState) for c in checks)
