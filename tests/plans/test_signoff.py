"""Sign-off rules: who may sign (a leader of the school or a district counsellor, never the
author nor anyone who wrote the draft), and the append-only history (no UPDATE or DELETE of a
version or a sign-off reaches the database)."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event, select

from wellbeing.core.authz import Forbidden, Role
from wellbeing.core.states import IllegalTransition
from wellbeing.plans import queries, services
from wellbeing.plans.models import PlanHistoryChanged, PlanSignoff, PlanState, PlanVersion

from ..factories import make_user
from .conftest import NOW, complete_body
from .test_services import write


def test_the_author_and_draft_writers_never_sign(db_session, plans_world, env):
    w = plans_world
    # A counsellor may both write and sign: writing the draft bars them from signing it.
    plan = services.start_plan(db_session, w.psych, w.orange.id, now=NOW)
    services.save_draft(db_session, w.counsellor, plan.id, complete_body())
    services.save_version(db_session, w.psych, plan.id, now=NOW)
    for who in (w.counsellor, w.psych):
        with pytest.raises(Forbidden):
            services.sign(db_session, who, plan.id, 1)
        with pytest.raises(Forbidden):
            services.return_version(db_session, who, plan.id, 1, "不行")
    with pytest.raises(Forbidden):
        services.sign(db_session, w.class_teacher, plan.id, 1)
    other_leader = make_user(db_session, env.settings, Role.SCHOOL_LEADER, school=w.other_school)
    from wellbeing.auth.services import build_principal

    with pytest.raises(Forbidden):
        services.sign(db_session, build_principal(db_session, other_leader), plan.id, 1)
    w.orange.district_involved = False
    with pytest.raises(Forbidden):
        services.sign(db_session, build_principal(db_session, make_user(
            db_session, env.settings, Role.COUNSELLOR)), plan.id, 1)  # fmt: skip
    w.orange.district_involved = True
    with pytest.raises(services.NotFound):
        services.sign(db_session, w.leader, plan.id, 2)
    row = services.sign(db_session, w.leader, plan.id, 1)
    assert row.by_id == w.users["school_leader"].id and plan.state == PlanState.ACTIVE
    with pytest.raises(services.PlanError):
        services.sign(db_session, w.leader, plan.id, 1)  # signed once


def test_the_counsellor_who_did_not_write_signs(db_session, plans_world):
    w = plans_world
    plan, _ = write(db_session, w, w.orange, complete_body())
    row = services.sign(db_session, w.counsellor, plan.id, 1)
    assert row.role == "counsellor" and plan.effective_version == 1


def test_the_queue_lists_what_each_may_sign(db_session, plans_world):
    w = plans_world
    plan = services.start_plan(db_session, w.psych, w.orange.id, now=NOW)
    services.save_draft(db_session, w.counsellor, plan.id, complete_body())
    services.save_version(db_session, w.psych, plan.id, now=NOW)
    today = NOW.date()
    assert [r.plan.id for r in queries.signoff_queue(db_session, w.leader, today)] == [plan.id]
    assert queries.signoff_queue(db_session, w.counsellor, today) == []  # wrote the draft
    assert queries.signoff_queue(db_session, w.psych, today) == []  # no sign-off permission


def test_no_update_or_delete_of_history_reaches_the_database(db_session, plans_world):
    w = plans_world
    statements: list[str] = []

    def capture(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        text = " ".join(statement.split()).upper()
        if text.startswith(("UPDATE PLAN_VERSION", "DELETE FROM PLAN_VERSION",
                            "UPDATE PLAN_SIGNOFF", "DELETE FROM PLAN_SIGNOFF")):  # fmt: skip
            statements.append(statement)

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        plan, _ = write(db_session, w, w.orange, complete_body())
        services.return_version(db_session, w.leader, plan.id, 1, "补充措施")
        services.save_version(db_session, w.psych, plan.id, now=NOW)
        services.sign(db_session, w.leader, plan.id, 2)
        services.start_review(db_session, w.psych, plan.id, now=NOW)
        body = services.read_draft(db_session, w.psych, plan.id)
        body["summary"] = "更正"
        services.save_draft(db_session, w.psych, plan.id, body)
        services.save_version(db_session, w.psych, plan.id, now=NOW)
        with contextlib.suppress(services.PlanError, IllegalTransition, Forbidden):
            services.sign(db_session, w.leader, plan.id, 3)
        services.close_plan(db_session, w.psych, plan.id, "结束", now=NOW)
        db_session.flush()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert statements == []
    assert (
        len(db_session.scalars(select(PlanVersion).where(PlanVersion.plan_id == plan.id)).all())
        == 3
    )
    assert (
        len(db_session.scalars(select(PlanSignoff).where(PlanSignoff.plan_id == plan.id)).all())
        == 2
    )


def test_the_orm_guard_refuses_changing_or_deleting_history(db_session, plans_world):
    w = plans_world
    plan, v1 = write(db_session, w, w.orange, complete_body())
    row = services.sign(db_session, w.leader, plan.id, 1)
    db_session.flush()
    v1.body = {**v1.body, "summary": "偷偷改"}
    with pytest.raises(PlanHistoryChanged):
        db_session.flush()
    db_session.expire(v1)
    row.decision = "returned"
    with pytest.raises(PlanHistoryChanged):
        db_session.flush()
    db_session.expire(row)
    db_session.delete(row)
    with pytest.raises(PlanHistoryChanged):
        db_session.flush()
    db_session.expunge_all()
