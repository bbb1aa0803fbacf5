"""Tasks from a plan: made when a version takes effect, kept in step by the next version,
completed by their assignee only (external and pool tasks by the school's psychology
teachers), with an encrypted note; cancelled with the plan."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.authz import Forbidden, Role
from wellbeing.core.states import IllegalTransition
from wellbeing.plans import services, tasks
from wellbeing.plans.models import PlanTask, TaskState

from ..factories import make_user
from .conftest import NOW, TODAY, complete_body
from .test_services import write


def _tasks(db, plan):  # type: ignore[no-untyped-def]
    return {t.key: t for t in db.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id,
                                                                PlanTask.kind == "plan_action"))}  # fmt: skip


def test_a_new_version_updates_adds_and_cancels_tasks(db_session, plans_world, audit_entries):
    w = plans_world
    teacher = w.users["class_teacher"]
    plan, _ = write(db_session, w, w.yellow, complete_body(teacher_id=teacher.id))
    first = _tasks(db_session, plan)
    assert set(first) == {"t-call", "t-seat"}
    assert first["t-seat"].created_by == w.users["psych_teacher"].id
    services.start_review(db_session, w.psych, plan.id, now=NOW)
    body = services.read_draft(db_session, w.psych, plan.id)
    body["adults"][1]["tasks"][0].update(
        title="座位调到第一排", due=(TODAY + dt.timedelta(days=9)).isoformat()
    )
    body["adults"][0]["tasks"] = [{"id": "t-meet", "title": "参加家长会", "due": TODAY.isoformat()}]
    services.save_draft(db_session, w.psych, plan.id, body)
    services.save_version(db_session, w.psych, plan.id, now=NOW)
    after = _tasks(db_session, plan)
    assert after["t-seat"].id == first["t-seat"].id and after["t-seat"].title == "座位调到第一排"
    assert (
        after["t-seat"].due_date == TODAY + dt.timedelta(days=9)
        and after["t-seat"].version_number == 2
    )
    assert after["t-call"].state == TaskState.CANCELLED
    assert after["t-meet"].state == TaskState.OPEN and after["t-meet"].external == "妈妈"
    assert any(e.fields == ["due_date", "title"] for e in audit_entries(AuditAction.PLAN_WRITE))
    assert audit_entries(AuditAction.TASK_CANCEL)


def test_only_the_assignee_completes_and_sees_no_more(db_session, plans_world, env, audit_entries):
    w = plans_world
    teacher = w.users["class_teacher"]
    plan, _ = write(db_session, w, w.yellow, complete_body(teacher_id=teacher.id))
    seat, call = _tasks(db_session, plan)["t-seat"], _tasks(db_session, plan)["t-call"]
    someone = build_principal(
        db_session, make_user(db_session, env.settings, Role.CLASS_TEACHER, school=w.school)
    )
    for who in (someone, w.psych, w.leader):
        with pytest.raises(Forbidden):
            tasks.complete_task(db_session, who, seat.id, "done")
    done = tasks.complete_task(db_session, w.class_teacher, seat.id, " 已调整座位 ", now=NOW)
    assert (done.state, done.done_by, done.done_at, done.done_note) == (
        TaskState.DONE,
        teacher.id,
        NOW,
        "已调整座位",
    )
    with pytest.raises(IllegalTransition):
        tasks.complete_task(db_session, w.class_teacher, seat.id, "")
    # An external task is the psychology teachers' to track: any of the school's may close it.
    for who in (w.class_teacher, w.p["other_school_psych"], w.leader):
        with pytest.raises(Forbidden):
            tasks.complete_task(db_session, who, call.id, "")
    tasks.complete_task(db_session, w.p["other_psych"], call.id, "")
    assert call.done_note is None and call.state == TaskState.DONE
    entries = audit_entries(AuditAction.TASK_DONE)
    assert [e.fields for e in entries] == [["done_note"], []]
    assert all("座位" not in str(e.detail) for e in entries)
    raw = db_session.execute(
        select(PlanTask.__table__.c.done_note_ct).where(PlanTask.__table__.c.id == seat.id)
    ).scalar()
    assert "座位".encode() not in bytes(raw)
    pool = tasks.add_task(db_session, None, student=w.yellow, kind="review_plan", title="",
                          due_date=TODAY, plan=plan)  # fmt: skip
    with pytest.raises(services.PlanError):
        tasks.complete_task(db_session, w.p["other_psych"], pool.id, "x" * 600)


def test_adding_a_task_needs_plan_writing(db_session, plans_world):
    w = plans_world
    task = tasks.add_task(db_session, w.psych, student=w.orange, kind="update_plan", title="",
                          due_date=TODAY)  # fmt: skip
    assert (
        tasks.display_title(task) == "Update the student's plan"
        and task.created_by == w.users["psych_teacher"].id
    )
    with pytest.raises(Forbidden):
        tasks.add_task(db_session, w.class_teacher, student=w.orange, kind="write_plan", title="",
                       due_date=TODAY)  # fmt: skip
    with pytest.raises(services.PlanError):
        tasks.add_task(db_session, w.psych, student=w.orange, kind="nap", title="", due_date=TODAY)
