"""The proposal: a student reaching orange or red with no open plan gets a proposed plan and a
``write_plan`` task for the school's psychology teachers, due in seven days (the school's
date); a plan in effect written for a lower tier gets a ``review_plan`` task. The bulk form
leaves the same rows as one event per student."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from functools import partial

import time_machine
from sqlalchemy import select

from wellbeing.core.audit import AuditAction
from wellbeing.plans import queries, services
from wellbeing.plans.bulk import on_tier_changed_many
from wellbeing.plans.models import PROPOSAL_DAYS, PlanState, PlanTask, TaskState
from wellbeing.risk.bulk import with_loaded_students
from wellbeing.risk.events import TIER_CHANGED, TierChanged
from wellbeing.risk.services import apply_tier
from wellbeing.students.models import Student

from ..core.bulk_world import rolled_back
from .conftest import NOW, TODAY, complete_body, plans_snapshot
from .test_services import write

DUE = TODAY + dt.timedelta(days=PROPOSAL_DAYS)


def _tasks(db, student, kind):  # type: ignore[no-untyped-def]
    return db.scalars(
        select(PlanTask).where(PlanTask.student_id == student.id, PlanTask.kind == kind)
    ).all()


def test_reaching_orange_proposes_a_plan_and_a_task(db_session, plans_world, audit_entries):
    w = plans_world
    with time_machine.travel(NOW, tick=False):
        apply_tier(db_session, w.psych, w.yellow, 2, source="manual", reason="assessed")
    plan = queries.open_plan(db_session, w.yellow.id)
    assert (plan.state, plan.proposed_tier, plan.proposal_due, plan.created_by) == (
        PlanState.PROPOSED,
        2,
        DUE,
        None,
    )
    [task] = _tasks(db_session, w.yellow, "write_plan")
    assert (task.due_date, task.assignee_id, task.plan_id, task.state) == (
        DUE,
        None,
        plan.id,
        TaskState.OPEN,
    )
    assert [r.plan.id for r in queries.proposals_due(db_session, w.psych, TODAY)] == [plan.id]
    assert queries.proposals_due(db_session, w.p["other_school_psych"], TODAY) == []
    assert any(e.detail.get("step") == "proposed" for e in audit_entries(AuditAction.PLAN_WRITE))
    with time_machine.travel(NOW, tick=False):
        apply_tier(db_session, w.psych, w.yellow, 3, source="manual", reason="worse")
    assert plan.proposed_tier == 3 and len(_tasks(db_session, w.yellow, "write_plan")) == 1
    # Writing it does the task.
    started = services.start_plan(db_session, w.psych, w.yellow.id, now=NOW)
    assert started.id == plan.id and plan.state == PlanState.DRAFT
    assert queries.proposals_due(db_session, w.psych, TODAY)[0].plan.id == plan.id  # no version yet


def test_green_and_yellow_and_left_students_get_nothing(db_session, plans_world):
    w = plans_world
    assert services.propose_for(db_session, w.yellow, 1) is None
    w.orange.status = "left"
    assert services.propose_for(db_session, w.orange, 3) is None
    assert queries.open_plan(db_session, w.orange.id) is None


def test_a_rising_tier_asks_for_a_review_of_the_plan_in_effect(db_session, plans_world):
    w = plans_world
    plan, _ = write(db_session, w, w.orange, complete_body())
    services.sign(db_session, w.leader, plan.id, 1)
    assert _tasks(db_session, w.orange, "write_plan") == []  # started by hand: no proposal
    assert services.propose_for(db_session, w.orange, 2, now=NOW) is None
    assert _tasks(db_session, w.orange, "review_plan") == []
    services.propose_for(db_session, w.orange, 3, now=NOW)
    services.propose_for(db_session, w.orange, 3, now=NOW)
    [task] = _tasks(db_session, w.orange, "review_plan")
    assert task.due_date == DUE and task.state == TaskState.OPEN
    services.start_review(db_session, w.psych, plan.id, now=NOW)
    services.save_version(db_session, w.psych, plan.id, now=NOW)
    assert task.state == TaskState.DONE


def _changes(db, w, items):  # type: ignore[no-untyped-def]
    out = []
    for student, old, new in items:
        student.tier = new
        out.append(TierChanged(student_id=student.id, school_id=student.school_id, from_tier=old,
                               to_tier=new, decision_id=uuid.uuid4(), decided_at=NOW))  # fmt: skip
    db.flush()
    return out


def test_the_bulk_form_leaves_the_same_rows(db_session, plans_world):
    w = plans_world
    active, _ = write(db_session, w, w.orange, complete_body())
    services.sign(db_session, w.leader, active.id, 1)
    services.propose_for(db_session, w.yellow, 2, now=NOW)  # a proposal already there
    fresh = [Student(school_id=w.school.id, class_id=w.school_class.id, grade=w.school_class.grade,
                     student_number=f"B{i}", name="学生", sex="M", birth_date=dt.date(2012, 1, 1),
                     tier=0) for i in range(3)]  # fmt: skip
    db_session.add_all(fresh)
    fresh[2].status = "graduated"
    db_session.flush()
    changes = _changes(db_session, w, [
        (fresh[0], 0, 2), (fresh[0], 2, 3), (fresh[1], 1, 3), (fresh[2], 0, 3),
        (w.orange, 2, 3), (w.orange, 3, 3), (w.yellow, 2, 3), (w.red, 3, 1),
    ])  # fmt: skip
    with time_machine.travel(NOW, tick=False):
        with rolled_back(db_session):
            for change in changes:
                services.on_tier_changed(db_session, dataclasses.replace(
                    change, student=db_session.get(Student, change.student_id)))  # fmt: skip
            one_by_one = plans_snapshot(db_session)
        with rolled_back(db_session):
            on_tier_changed_many(db_session, changes)
            in_bulk = plans_snapshot(db_session)
        TIER_CHANGED.emit_many(db_session, changes, partial(with_loaded_students, db_session))
        through_the_event = plans_snapshot(db_session)
    assert in_bulk == one_by_one
    assert {row[0]: row[2:4] for row in in_bulk} == {
        str(fresh[0].id): ("proposed", 3), str(fresh[1].id): ("proposed", 3),
        str(w.orange.id): ("active", None), str(w.yellow.id): ("proposed", 3),
    }  # fmt: skip
    assert [t[0] for row in in_bulk if row[0] == str(w.orange.id) for t in row[7]].count(
        "review_plan"
    ) == 1
    # Through the event the other subscribers ran too (crises and alerts): same plans.
    assert [r[:7] for r in through_the_event] == [r[:7] for r in in_bulk]


def test_the_due_date_is_the_schools_date(db_session, plans_world):
    w = plans_world
    evening_utc = dt.datetime(2026, 3, 2, 20, 0, tzinfo=dt.UTC)  # 04:00 on 3 March in Shanghai
    plan = services.propose_for(db_session, w.orange, 2, now=evening_utc)
    assert plan is not None and plan.proposal_due == dt.date(2026, 3, 3) + dt.timedelta(days=7)
