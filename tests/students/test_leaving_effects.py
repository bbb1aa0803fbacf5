"""What leaving closes (``STUDENT_LEFT``) and what a transfer hands over (``STUDENT_TRANSFERRED``):

* leaving or graduating: the student's unresolved alerts are resolved by the system with a note
  (break-glass alerts stay open), open and overdue follow-ups cancelled, the open plan closed
  (or cancelled when nothing was in effect) with the reason, its open tasks cancelled; each
  audited, in the leaving's transaction; nothing about another student changes;
* a transfer: open tasks of the sending school's staff go to the new school's psychology
  teachers' pool; the sending school's unresolved alerts move to the new school's ladder.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from wellbeing.alerts import services as alert_services
from wellbeing.alerts.leaving import leaving_note
from wellbeing.alerts.models import Alert, AlertInbox, AlertState
from wellbeing.auth.services import build_principal
from wellbeing.core.audit import AuditAction
from wellbeing.core.events import is_documented
from wellbeing.followups.models import FOLLOWUP_STATES, FollowUp, FollowUpState
from wellbeing.followups.services import schedule_followup
from wellbeing.plans import services as plan_services
from wellbeing.plans import tasks as plan_tasks
from wellbeing.plans.models import Plan, PlanState, PlanTask, TaskState
from wellbeing.students.enrolment import record_leaving
from wellbeing.students.events import STUDENT_LEFT
from wellbeing.students.models import Student, StudentStatus
from wellbeing.students.transfer import move

from ..plans.conftest import NOW, PlansWorld, build_plans_world, complete_body
from ..plans.test_services import write

ON = dt.date(2026, 3, 20)


@pytest.fixture
def w(db_session: Session, env: Any) -> PlansWorld:
    return build_plans_world(db_session, env.settings)


def _case(db: Session, w: PlansWorld, student: Student) -> dict[str, Any]:
    """A plan in effect (a class teacher's task and a guardian's), an open and an acknowledged
    alert, a break-glass alert, an open and an overdue follow-up."""
    plan, _ = write(db, w, student, complete_body(teacher_id=w.users["class_teacher"].id))
    if plan.state == PlanState.SUBMITTED:  # orange: signed off; yellow: in effect at once
        plan_services.sign(db, w.leader, plan.id, 1, now=NOW)
    raised = [
        alert_services.raise_alert(db, kind=kind, school_id=student.school_id,
                                   student_id=student.id, source_id=uuid.uuid4(), tier=3)
        for kind in ("red_tier", "followup_overdue", "break_glass")
    ]  # fmt: skip
    alert_services.acknowledge(db, w.psych, raised[0].id)
    followups = [
        schedule_followup(db, None, student, due_at=NOW + dt.timedelta(days=d),
                          owner_id=w.users["psych_teacher"].id, source="manual")
        for d in (3, -3)
    ]  # fmt: skip
    db.flush()
    FOLLOWUP_STATES.move(followups[1], FollowUpState.OVERDUE)
    db.flush()
    return {"plan": plan, "alerts": raised, "followups": followups}


def _states(db: Session, student_id: uuid.UUID) -> dict[str, Any]:
    db.expire_all()
    return {
        "alerts": sorted(
            (a.kind, a.state, a.resolution_note_ct is None)
            for a in db.scalars(select(Alert).where(Alert.student_id == student_id))
        ),
        "followups": sorted(f.state for f in db.scalars(
            select(FollowUp).where(FollowUp.student_id == student_id))),
        "plans": sorted(p.state for p in db.scalars(
            select(Plan).where(Plan.student_id == student_id))),
        "tasks": sorted(t.state for t in db.scalars(
            select(PlanTask).where(PlanTask.student_id == student_id))),
    }  # fmt: skip


def test_the_event_is_documented() -> None:
    assert is_documented(STUDENT_LEFT)


def test_graduating_closes_what_was_open_and_nothing_else(db_session, w, audit_entries):
    db = db_session
    mine, other = _case(db, w, w.orange), _case(db, w, w.yellow)
    other_before = _states(db, w.yellow.id)
    closed: Counter[str] = Counter()

    record_leaving(db, w.p["admin"], w.orange, StudentStatus.GRADUATED, on=ON, closed=closed)
    db.flush()

    assert closed == {"alerts": 2, "followups": 2, "plans": 1, "tasks": 2}
    red_tier, critical, glass = mine["alerts"]
    note = leaving_note(StudentStatus.GRADUATED, ON)
    assert ON.isoformat() in note
    for alert in (red_tier, critical):
        assert alert.state == AlertState.RESOLVED and alert.resolved_by_id is None
        assert alert.resolution_note == note and alert.next_step_at is None
        assert alert.dedupe_key is None
    assert critical.acknowledged_at is None  # nobody acknowledged it: the SLA must not count it
    assert red_tier.acknowledged_by_id == w.users["psych_teacher"].id
    assert glass.state == AlertState.OPEN  # supervisors' oversight of an access stays
    inbox = db.scalars(
        select(AlertInbox.is_open).where(AlertInbox.alert_id.in_([red_tier.id, critical.id]))
    ).all()
    assert inbox and not any(inbox)
    for followup in mine["followups"]:
        assert followup.state == FollowUpState.CANCELLED and followup.cancelled_at is not None
    plan = mine["plan"]
    assert plan.state == PlanState.CLOSED and plan.close_reason == note
    assert plan.closed_at is not None and plan.draft is None
    states = {t.state for t in db.scalars(select(PlanTask).where(PlanTask.plan_id == plan.id))}
    assert states == {TaskState.CANCELLED}

    assert _states(db, w.yellow.id) == other_before  # nothing about another student changed
    assert {a.state for a in other["alerts"]} == {AlertState.OPEN, AlertState.ACKNOWLEDGED}

    resolved = audit_entries(AuditAction.ALERT_RESOLVE)
    assert {e.object_id for e in resolved} == {str(red_tier.id), str(critical.id)}
    assert all(e.detail["reason"] == "student_left" for e in resolved)
    cancelled = audit_entries(AuditAction.FOLLOWUP_CANCEL)
    assert {e.object_id for e in cancelled} == {str(f.id) for f in mine["followups"]}
    assert all(e.detail["reason"] == "student_left" for e in cancelled)
    [ended] = [e for e in audit_entries(AuditAction.PLAN_WRITE)
               if e.detail.get("reason") == "student_left"]  # fmt: skip
    assert (ended.object_id, ended.detail["step"], ended.fields) == (
        str(plan.id), "closed", ["close_reason"])  # fmt: skip
    [tasks] = [e for e in audit_entries(AuditAction.TASK_CANCEL) if e.object_id == str(plan.id)]
    assert tasks.detail["cancelled"] == 2


def test_leaving_is_one_transaction_with_its_effects(db_session, w):
    """A subscriber that fails rolls the leaving back with everything the others did."""
    db = db_session
    case = _case(db, w, w.orange)
    before = _states(db, w.orange.id)

    def boom(_session: Session, _left: object) -> None:
        raise RuntimeError("refused")

    STUDENT_LEFT.subscribe(boom)
    try:
        with pytest.raises(RuntimeError), db.begin_nested():
            record_leaving(db, None, w.orange, StudentStatus.LEFT, on=ON)
    finally:
        STUDENT_LEFT.unsubscribe(boom)
    assert _states(db, w.orange.id) == before
    assert db.get(Student, w.orange.id).status == StudentStatus.ACTIVE
    assert case["plan"].state == PlanState.ACTIVE


@pytest.mark.parametrize(
    "signed_first, expected",
    [(False, PlanState.CANCELLED), (True, PlanState.CLOSED)],
    ids=["first-version-waiting", "review-waiting"],
)
def test_a_plan_waiting_for_sign_off_is_ended_without_taking_effect(
    db_session, w, signed_first, expected
):
    db = db_session
    body = complete_body(teacher_id=w.users["class_teacher"].id)
    plan, _ = write(db, w, w.orange, body)  # orange: the first version waits for sign-off
    if signed_first:
        plan_services.sign(db, w.leader, plan.id, 1, now=NOW)
        plan_services.start_review(db, w.psych, plan.id, now=NOW)
        changed = dict(body, goals=[dict(body["goals"][0], text="每周两次谈话")])
        plan_services.save_draft(db, w.psych, plan.id, changed, now=NOW)
        plan_services.save_version(db, w.psych, plan.id, now=NOW)
    assert plan.state == PlanState.SUBMITTED
    effective = plan.effective_version

    record_leaving(db, None, w.orange, StudentStatus.LEFT, on=ON)
    db.flush()
    assert plan.state == expected and plan.effective_version == effective
    assert plan.close_reason == leaving_note(StudentStatus.LEFT, ON)


def test_a_proposal_is_cancelled_with_its_task_and_a_task_of_no_plan(db_session, w):
    db = db_session
    plan = plan_services.propose_for(db, w.red, 3, now=NOW)
    assert plan is not None and plan.state == PlanState.PROPOSED
    loose = plan_tasks.add_task(db, None, student=w.red, kind="review_plan", title="",
                                due_date=ON)  # fmt: skip
    closed: Counter[str] = Counter()
    record_leaving(db, None, w.red, StudentStatus.LEFT, on=ON, closed=closed)
    db.flush()
    assert plan.state == PlanState.CANCELLED and loose.state == TaskState.CANCELLED
    assert closed["plans"] == 1 and closed["tasks"] >= 2
    open_tasks = db.scalars(
        select(PlanTask).where(PlanTask.student_id == w.red.id, PlanTask.state == TaskState.OPEN)
    ).all()
    assert open_tasks == []


def test_a_student_with_nothing_open_leaves_quietly(db_session, w, audit_entries):
    closed: Counter[str] = Counter()
    record_leaving(db_session, None, w.red, StudentStatus.GRADUATED, on=ON, closed=closed)
    assert sum(closed.values()) == 0
    assert audit_entries(AuditAction.ALERT_RESOLVE) == []
    assert audit_entries(AuditAction.FOLLOWUP_CANCEL) == []


# --------------------------------------------------------------------------- transfers


def test_a_transfer_hands_tasks_and_alerts_to_the_new_school(db_session, w, audit_entries):
    db = db_session
    case = _case(db, w, w.orange)
    acked, opened, glass = case["alerts"]
    new_psych = w.users["other_school_psych"]
    old_inbox = {w.users["psych_teacher"].id, w.users["other_psych"].id}
    other_before = _states(db, w.red.id)

    move(db, w.orange, w.other_school, None, by_id=w.users["admin"].id, source="manual")
    db.flush()

    tasks = {
        t.key: t for t in db.scalars(select(PlanTask).where(PlanTask.plan_id == case["plan"].id))
    }
    assert tasks["t-seat"].assignee_id is None  # was the class teacher of the old school
    assert tasks["t-seat"].school_id == w.other_school.id
    assert tasks["t-call"].external == "妈妈" and tasks["t-call"].assignee_id is None
    [entry] = [e for e in audit_entries(AuditAction.PLAN_WRITE)
               if e.detail.get("step") == "transfer_reassign"]  # fmt: skip
    assert entry.object_id == str(tasks["t-seat"].id) and entry.fields == ["assignee_id"]
    # The new school's psychology teachers' pool.
    assert plan_tasks.may_complete(build_principal(db, new_psych), tasks["t-seat"])

    for alert in (acked, opened):
        assert alert.school_id == w.other_school.id
    assert glass.school_id == w.school.id  # the supervisors' alert stays
    # The open one is raised again to the new school's first rung; the old school's people
    # are taken off both.
    assert db.scalar(select(AlertInbox.is_open).where(
        AlertInbox.alert_id == opened.id, AlertInbox.user_id == new_psych.id)) is True  # fmt: skip
    rows = db.scalars(select(AlertInbox.is_open).where(
        AlertInbox.alert_id.in_([acked.id, opened.id]), AlertInbox.user_id.in_(old_inbox))).all()  # fmt: skip
    assert rows and not any(rows)
    # The acknowledged one is someone's already: moved, nobody notified again.
    assert db.scalar(select(AlertInbox.id).where(
        AlertInbox.alert_id == acked.id, AlertInbox.user_id == new_psych.id)) is None  # fmt: skip
    moved = [
        e for e in audit_entries(AuditAction.ALERT_ESCALATE) if e.detail.get("step") == "transfer"
    ]
    assert {e.object_id for e in moved} == {str(acked.id), str(opened.id)}
    # The transfer's own alert is at the new school already, untouched.
    [arrived] = db.scalars(select(Alert).where(
        Alert.student_id == w.orange.id, Alert.kind == "student_transferred_in")).all()  # fmt: skip
    assert arrived.school_id == w.other_school.id
    assert _states(db, w.red.id) == other_before
