"""A sealed record (the student left or graduated) takes no change to its plan: no edit, no
sign-off, no task marked done, no new proposal when a tier moves."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from wellbeing.core.authz import Forbidden
from wellbeing.plans import review, services, tasks
from wellbeing.plans.models import Plan, PlanTask
from wellbeing.students.enrolment import RecordSealed, record_leaving
from wellbeing.students.models import StudentStatus

from .conftest import NOW, complete_body
from .test_services import write


def test_a_sealed_plan_and_its_tasks_are_read_only(db_session, plans_world):  # type: ignore[no-untyped-def]
    w = plans_world
    plan, _ = write(db_session, w, w.yellow, complete_body(teacher_id=w.users["class_teacher"].id))
    task = db_session.scalars(
        select(PlanTask).where(PlanTask.plan_id == plan.id, PlanTask.key == "t-seat")
    ).one()
    record_leaving(db_session, None, w.yellow, StudentStatus.LEFT, now=NOW)
    db_session.flush()

    with pytest.raises(Forbidden):  # the seal refuses the permission itself (core.authz)
        services.start_review(db_session, w.psych, plan.id, now=NOW)
    with pytest.raises(RecordSealed):  # the seal speaks first (the task was cancelled too)
        tasks.complete_task(db_session, w.class_teacher, task.id, "done", now=NOW)
    assert task.state == "cancelled"  # leaving cancelled it (plans.leaving); done never


def test_no_plan_is_proposed_for_a_student_who_left(db_session, plans_world):  # type: ignore[no-untyped-def]
    w = plans_world
    record_leaving(db_session, None, w.red, StudentStatus.GRADUATED, now=NOW)
    db_session.flush()
    assert review.propose_for(db_session, w.red, 3, now=NOW) is None
    count = db_session.scalar(
        select(func.count()).select_from(Plan).where(Plan.student_id == w.red.id)
    )
    assert count == 0
